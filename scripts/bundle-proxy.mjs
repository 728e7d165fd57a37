#!/usr/bin/env node
// Bundles mux-proxy into one CommonJS file, packages/proxy/dist/mux-proxy.cjs.
//
// Every host session runs its own mux-proxy, so its start time and memory are
// paid once per session. Loaded as one CommonJS file it skips Node's ESM
// loader and the resolution of each module: about 1.2 MiB less private memory
// per proxy than the same code as separate ES modules (docs/benchmarks.md).
// esbuild does the bundling: it is the standard tool for it and already in
// the tree (through tsx).
//
// The launcher (@muxd/runtime/launcher) and the control client (@muxd/protocol)
// stay outside the bundle, loaded with import() only when muxd is not running
// or a command is shared ad hoc: the common path, connecting to a running
// muxd, never pays for them. import.meta.url is the bundle's own URL, from
// which mux-proxy finds the @muxd/daemon it starts.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const lazyModules = /^@muxd\/(protocol|runtime\/launcher)$/;

await build({
  absWorkingDir: root,
  entryPoints: ['packages/proxy/dist/main.js'],
  outfile: 'packages/proxy/dist/mux-proxy.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  inject: ['scripts/bundle-proxy/importMetaUrl.mjs'],
  define: { 'import.meta.url': 'importMetaUrl' },
  plugins: [
    {
      name: 'lazy-muxd-modules',
      setup(builder) {
        builder.onResolve({ filter: lazyModules }, ({ path }) => ({ path, external: true }));
      },
    },
  ],
});
