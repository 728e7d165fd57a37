#!/usr/bin/env node
// npm run pack: writes dist/muxd-X.Y.Z.tgz, the `muxd` package that
// `npm i -g ./dist/muxd-X.Y.Z.tgz` installs, from packages/muxd (bundled by
// `npm run build`, which the npm script runs first). `--dry-run` lists what
// would be packed without writing it.
//
// The package is staged in dist/pack/muxd with its `bin` map and its
// dependencies added. Inside the workspace packages/muxd declares no bins,
// or npm would link its muxd, muxctl and mux-proxy over the workspace's own
// in node_modules/.bin; its dependencies are what the bundles import
// (scripts/pack-bundle.mjs writes them), so they cannot drift from the code.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkgDir = join(root, 'packages/muxd');
const stage = join(root, 'dist/pack/muxd');
const dryRun = process.argv.includes('--dry-run');

const BINS = { muxd: 'dist/muxd.js', muxctl: 'dist/muxctl.js', 'mux-proxy': 'dist/mux-proxy.cjs' };

// Fails when a bundle imports a package the manifest does not declare (or declares one none imports).
const checked = spawnSync(process.execPath, [join(root, 'scripts/pack-bundle.mjs'), '--strict'], { stdio: 'inherit' });
if (checked.status !== 0) {
  console.error('pack: a bundle imports a package no workspace package declares (above); nothing packed');
  process.exit(1);
}

const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
cpSync(join(pkgDir, 'dist'), join(stage, 'dist'), { recursive: true });
cpSync(join(pkgDir, 'README.md'), join(stage, 'README.md'));
const dependencies = JSON.parse(readFileSync(join(pkgDir, 'dist/dependencies.json'), 'utf8'));
const { private: _private, scripts: _scripts, devDependencies: _dev, ...published } = manifest;
writeFileSync(join(stage, 'package.json'), `${JSON.stringify({ ...published, bin: BINS, dependencies }, null, 2)}\n`);
console.log(`dependencies: ${Object.entries(dependencies).map(([name, range]) => `${name}@${range}`).join(', ')}`);

const destination = join(root, 'dist');
const args = ['pack', '--json', '--pack-destination', destination, ...(dryRun ? ['--dry-run'] : [])];
const [result] = JSON.parse(execFileSync('npm', args, { cwd: stage, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
for (const file of result.files) console.log(`${formatSize(file.size).padStart(9)}  ${file.path}`);
console.log(`${result.files.length} files, ${formatSize(result.size)} packed, ${formatSize(result.unpackedSize)} unpacked`);
console.log(dryRun ? `would write ${join(destination, result.filename)}` : `wrote ${join(destination, result.filename)}`);

function formatSize(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}
