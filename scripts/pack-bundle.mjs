#!/usr/bin/env node
// Bundles the programs and the library of the published `muxd` package into
// packages/muxd/dist (run by `npm run build`; `npm run pack` packs the result):
//
//   muxd.js      the daemon (ES module: it awaits at top level)
//   muxctl.js    the CLI
//   mux-proxy.cjs  the proxy, one CommonJS file as scripts/bundle-proxy.mjs
//                explains, with the launcher and the control client it loads
//                only to start muxd in mux-proxy-launcher.cjs and
//                mux-proxy-control.cjs
//   index.js     the library (@muxd/library), with its .d.ts files
//   systemd/, launchd/  the templates of `muxctl service install`
//   static/      the dashboard's page
//
// Every @muxd/* module is bundled in; every npm package stays external and
// becomes a dependency of the published package (dist/dependencies.json,
// with the range the workspace declares): some are native (better-sqlite3)
// or load modules by name at run time (pino's transports), and an installed
// package gets its fixes from npm. With --strict (npm run pack) a package
// imported that no workspace package declares fails the build; otherwise it
// is a warning.
// esbuild does the bundling, as for mux-proxy.
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkgDir = join(root, 'packages/muxd');
const out = join(pkgDir, 'dist');
const strict = process.argv.includes('--strict');
const builtins = new Set(builtinModules);

/** npm packages the bundles import, by name. */
const imported = new Set();

/** Keeps npm packages external and maps the proxy's lazy modules to their own files. */
function externals(lazy = {}) {
  return {
    name: 'muxd-externals',
    setup(builder) {
      builder.onResolve({ filter: /^[^./]/ }, ({ path }) => {
        if (Object.hasOwn(lazy, path)) return { path: lazy[path], external: true };
        if (path.startsWith('@muxd/')) return undefined;
        if (path.startsWith('node:') || builtins.has(path)) return { path, external: true };
        const name = path.startsWith('@') ? path.split('/').slice(0, 2).join('/') : path.split('/')[0];
        imported.add(name);
        // An unused import of a package is dropped: the library does not load better-sqlite3, say.
        return { path, external: true, sideEffects: false };
      });
    },
  };
}

/** The muxd launcher that finds the daemon beside the bundle instead of in @muxd/daemon. */
const bundledLauncher = {
  name: 'bundled-launcher',
  setup(builder) {
    builder.onResolve({ filter: /^@muxd\/runtime\/launcher$/ }, () => ({ path: join(root, 'scripts/pack-bundle/launcher.mjs') }));
  },
};

const common = { absWorkingDir: root, bundle: true, platform: 'node', target: 'node20', logLevel: 'warning', sourcemap: false, legalComments: 'none' };

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await Promise.all([
  build({ ...common, entryPoints: ['packages/daemon/dist/main.js'], outfile: join(out, 'muxd.js'), format: 'esm', plugins: [externals()] }),
  build({ ...common, entryPoints: ['packages/cli/dist/main.js'], outfile: join(out, 'muxctl.js'), format: 'esm', plugins: [bundledLauncher, externals()] }),
  build({ ...common, entryPoints: ['packages/library/dist/index.js'], outfile: join(out, 'index.js'), format: 'esm', plugins: [externals()] }),
  build({
    ...common,
    entryPoints: ['packages/proxy/dist/main.js'],
    outfile: join(out, 'mux-proxy.cjs'),
    format: 'cjs',
    inject: ['scripts/bundle-proxy/importMetaUrl.mjs'],
    define: { 'import.meta.url': 'importMetaUrl' },
    plugins: [externals({ '@muxd/protocol': './mux-proxy-control.cjs', '@muxd/runtime/launcher': './mux-proxy-launcher.cjs' })],
  }),
  build({ ...common, entryPoints: ['packages/protocol/dist/index.js'], outfile: join(out, 'mux-proxy-control.cjs'), format: 'cjs', plugins: [externals()] }),
  build({ ...common, entryPoints: ['scripts/pack-bundle/launcher.mjs'], outfile: join(out, 'mux-proxy-launcher.cjs'), format: 'cjs', plugins: [externals()] }),
]);
for (const bin of ['muxd.js', 'muxctl.js', 'mux-proxy.cjs']) chmodSync(join(out, bin), 0o755);

copyDeclarations(join(root, 'packages/library/dist'), 'index.d.ts');

// The service templates `muxctl service install` fills in, beside muxctl.js.
for (const dir of ['systemd', 'launchd']) cpSync(join(root, dir), join(out, dir), { recursive: true });

// The dashboard's page, beside muxd.js where the daemon looks for it; uPlot,
// which the daemon resolves at run time to serve it, is a dependency too.
cpSync(join(root, 'packages/daemon/static'), join(out, 'static'), { recursive: true });
imported.add('uplot');

writeDependencies();

/**
 * Copies the library's declaration files that index.d.ts reaches, without
 * their source map comments. The public types must stand alone: a
 * declaration importing @muxd/* would not resolve in the published package.
 */
function copyDeclarations(from, entry) {
  const queue = [entry];
  const seen = new Set();
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const path = join(from, file);
    if (!existsSync(path)) throw new Error(`pack-bundle: ${path} is missing: run tsc -b first`);
    const text = readFileSync(path, 'utf8').replace(/^\/\/# sourceMappingURL=.*\n?/m, '');
    const internal = text.match(/from '(@muxd\/[^']+)'/);
    if (internal) throw new Error(`pack-bundle: ${path} imports ${internal[1]}, which the muxd package does not ship: keep the library's public types self-contained`);
    for (const [, relative] of text.matchAll(/from '(\.[^']+)\.js'/g)) queue.push(join(dirname(file), `${relative}.d.ts`));
    writeFileSync(join(out, file), text);
  }
}

/**
 * The npm packages the bundles import, with the range the workspace package
 * that uses each declares, into dist/dependencies.json: `npm run pack` makes
 * them the published package's dependencies. A package imported that no
 * workspace package declares fails with --strict.
 */
function writeDependencies() {
  const ranges = new Map();
  for (const dir of readdirSync(join(root, 'packages'))) {
    const path = join(root, 'packages', dir, 'package.json');
    if (dir === 'muxd' || !existsSync(path)) continue;
    for (const [name, range] of Object.entries(JSON.parse(readFileSync(path, 'utf8')).dependencies ?? {})) if (!name.startsWith('@muxd/')) ranges.set(name, range);
  }
  const dependencies = {};
  const problems = [];
  for (const name of [...imported].sort()) {
    if (ranges.has(name)) dependencies[name] = ranges.get(name);
    else problems.push(`${name} is imported by the bundles but no package under packages/ declares it: add it to the dependencies of the one that imports it`);
  }
  writeFileSync(join(out, 'dependencies.json'), `${JSON.stringify(dependencies, null, 2)}\n`);
  for (const problem of problems) console.error(`pack-bundle: ${problem}`);
  if (problems.length > 0 && strict) process.exit(1);
}
