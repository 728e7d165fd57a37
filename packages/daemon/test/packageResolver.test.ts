import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { launchCommand, nodeOnPath, nodeOptionsOf, pickBin, readManifest } from '../src/unwrap/packageBin.js';
import { resolveProjectPackage } from '../src/unwrap/packageResolver.js';
import { parsePackageRunner } from '@muxd/config';
import type { RunnerCommand } from '@muxd/config';

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'muxd-unwrap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** A project in `dir` with `pkg` installed as a dependency. */
function project(dir: string, pkg: { name: string; version: string; bin?: unknown; exports?: unknown }): void {
  write(join(dir, 'package.json'), JSON.stringify({ name: 'project', dependencies: { [pkg.name]: '*' } }));
  const root = join(dir, 'node_modules', pkg.name);
  write(join(root, 'package.json'), JSON.stringify(pkg));
  write(join(root, 'cli.js'), '#!/usr/bin/env node\n');
  write(join(root, 'other.js'), '#!/usr/bin/env node\n');
}

function npx(...args: string[]): RunnerCommand {
  const parsed = parsePackageRunner('npx', args);
  assert.equal(parsed.kind, 'runner');
  return (parsed as { command: RunnerCommand }).command;
}

describe('pickBin: as npm exec picks it', () => {
  const manifest = (bin: unknown, name = '@scope/tool') => readManifest({ name, version: '1.0.0', bin }, 'package.json');

  test('a string bin is named after the package without its scope', () => {
    assert.deepEqual(pickBin(manifest('cli.js'), undefined), { bin: 'tool', path: 'cli.js' });
  });

  test('the only bin, or several names for one file, whatever their names', () => {
    assert.deepEqual(pickBin(manifest({ 'mcp-server-x': 'dist/index.js' }), undefined), { bin: 'mcp-server-x', path: 'dist/index.js' });
    assert.equal(pickBin(manifest({ a: 'x.js', b: 'x.js' }), undefined).path, 'x.js');
  });

  test('among several, the one named after the package; else none, saying why', () => {
    assert.deepEqual(pickBin(manifest({ tool: 'a.js', helper: 'b.js' }), undefined), { bin: 'tool', path: 'a.js' });
    assert.throws(() => pickBin(manifest({ one: 'a.js', two: 'b.js' }), undefined), /several bins \(one, two\) and none is named tool/);
  });

  test('a bin named by the command must exist', () => {
    assert.deepEqual(pickBin(manifest({ one: 'a.js', two: 'b.js' }), 'two'), { bin: 'two', path: 'b.js' });
    assert.throws(() => pickBin(manifest({ one: 'a.js' }), 'three'), /has no bin 'three' \(it has one\)/);
    assert.throws(() => pickBin(manifest(undefined), undefined), /has no bin to run/);
  });
});

describe('nodeOptionsOf and launchCommand', () => {
  test('a node shebang (with env -S options), a .js file, or a file that runs itself', async (t) => {
    const dir = scratch(t);
    const cases: Array<[string, string, string[] | null]> = [
      ['env.js', '#!/usr/bin/env node\nx', []],
      ['flags', '#!/usr/bin/env -S node --no-warnings --max-old-space-size=64\n', ['--no-warnings', '--max-old-space-size=64']],
      ['plain.cjs', 'module.exports = 1', []],
      ['script.sh', '#!/bin/sh\necho hi', null],
      ['binary', '\u007fELF', null],
    ];
    for (const [name, text, expected] of cases) {
      write(join(dir, name), text);
      assert.deepEqual(await nodeOptionsOf(join(dir, name)), expected, name);
    }
    assert.deepEqual(launchCommand('/p/cli.js', ['--no-warnings'], ['a']), { command: process.execPath, args: ['--no-warnings', '/p/cli.js', 'a'] });
    assert.deepEqual(launchCommand('/p/tool', null, ['a']), { command: '/p/tool', args: ['a'] });
    assert.deepEqual(launchCommand('/p/cli.js', [], ['a'], '/opt/node/bin/node'), { command: '/opt/node/bin/node', args: ['/p/cli.js', 'a'] });
  });
});

describe('nodeOnPath', () => {
  test('the first executable node file on PATH, as env would find it; muxd\'s own Node when there is none', (t) => {
    const dir = scratch(t);
    for (const sub of ['a', 'b', 'c', 'd']) mkdirSync(join(dir, sub));
    mkdirSync(join(dir, 'b', 'node')); // a directory named node
    write(join(dir, 'c', 'node'), 'not executable');
    chmodSync(join(dir, 'c', 'node'), 0o644);
    write(join(dir, 'd', 'node'), '#!/bin/sh\n');
    chmodSync(join(dir, 'd', 'node'), 0o755);
    const path = ['relative/dir', '', join(dir, 'a'), join(dir, 'b'), join(dir, 'c'), join(dir, 'd')].join(':');
    assert.equal(nodeOnPath(path), join(dir, 'd', 'node'));
    assert.equal(nodeOnPath(join(dir, 'a')), process.execPath);
    assert.equal(nodeOnPath(undefined), process.execPath);
  });
});

describe('resolveProjectPackage: what npx would run from the project', () => {
  test('a dependency of the project whose version satisfies the spec', async (t) => {
    const dir = scratch(t);
    project(dir, { name: '@scope/server', version: '1.4.2', bin: { server: 'cli.js' } });
    const found = await resolveProjectPackage(npx('-y', '@scope/server@^1.2'), join(dir));
    assert.equal(found?.version, '1.4.2');
    assert.equal(found?.binFile, join(dir, 'node_modules/@scope/server/cli.js'));
    assert.equal(found?.source, 'local');
    // From a directory below the project too, as Node resolves.
    mkdirSync(join(dir, 'sub'));
    assert.equal((await resolveProjectPackage(npx('@scope/server'), join(dir, 'sub')))?.version, '1.4.2');
  });

  test('a version outside the range, another tag, or a tarball: not the project one', async (t) => {
    const dir = scratch(t);
    project(dir, { name: 'server', version: '1.4.2', bin: 'cli.js' });
    assert.equal(await resolveProjectPackage(npx('server@^2'), dir), undefined);
    assert.equal(await resolveProjectPackage(npx('server@next'), dir), undefined);
    assert.equal(await resolveProjectPackage(npx('./server-1.0.0.tgz'), dir), undefined);
    assert.equal(await resolveProjectPackage(npx('absent'), dir), undefined);
  });

  test('a package whose exports hide its package.json is still found', async (t) => {
    const dir = scratch(t);
    project(dir, { name: 'sealed', version: '2.0.0', bin: 'cli.js', exports: { '.': './cli.js' } });
    assert.equal((await resolveProjectPackage(npx('sealed'), dir))?.version, '2.0.0');
  });

  test('a project package with an ambiguous bin, or a bare name that is only a project bin, is refused with the reason', async (t) => {
    const dir = scratch(t);
    project(dir, { name: 'multi', version: '1.0.0', bin: { one: 'cli.js', two: 'other.js' } });
    await assert.rejects(resolveProjectPackage(npx('multi'), dir), /several bins/);
    write(join(dir, 'node_modules/.bin/tsc'), '#!/bin/sh\n');
    await assert.rejects(resolveProjectPackage(npx('tsc'), dir), /'tsc' is a bin of the project .* but no package of that name/);
  });
});
