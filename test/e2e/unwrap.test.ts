import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DescribeResult, ServiceRow, UpdateResult } from '@muxd/protocol';
import { allPids, readCmdline, readStat } from '../procfs.js';
import { ROOT, startMuxd, waitFor } from './harness.js';
import type { Muxd, ServiceSpec } from './harness.js';

const MEMORY_PACKAGE = '@modelcontextprotocol/server-memory';
const MEMORY_VERSION = (JSON.parse(readFileSync(join(ROOT, 'node_modules', MEMORY_PACKAGE, 'package.json'), 'utf8')) as { version: string }).version;
const MEMORY_BIN = join(ROOT, 'node_modules', MEMORY_PACKAGE, 'dist/index.js');

/** A service spec with `unwrap` set (the harness's ServiceSpec predates the key). */
function withUnwrap(spec: ServiceSpec, unwrap: boolean): ServiceSpec {
  return { ...spec, unwrap } as ServiceSpec;
}

/** `npx -y @modelcontextprotocol/server-memory`, run from the repository (where it is a devDependency). */
function npxMemory(extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return { command: 'npx', args: ['-y', MEMORY_PACKAGE], cwd: ROOT, env: { MEMORY_FILE_PATH: '${MUXD_HOME}/memory.jsonl' }, ...extra };
}

async function describeService(muxd: Muxd, name: string): Promise<DescribeResult> {
  const run = await muxd.muxctl(['describe', name, '--json']);
  assert.equal(run.code, 0, run.stderr);
  return run.json<DescribeResult>();
}

async function row(muxd: Muxd, name: string): Promise<ServiceRow> {
  const run = await muxd.muxctl(['ls', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const found = run.json<{ services: ServiceRow[] }>().services.find((service) => service.name === name);
  assert.ok(found, `no row for ${name}`);
  return found;
}

/** Every live process in the tree under `pid` (itself included), with its command line. */
function processTree(pid: number): Array<{ pid: number; cmdline: string[] }> {
  const children = new Map<number, number[]>();
  for (const entry of allPids()) {
    const stat = readStat(entry);
    if (!stat || stat.state === 'Z') continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), entry]);
  }
  const tree: Array<{ pid: number; cmdline: string[] }> = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    tree.push({ pid: next, cmdline: readCmdline(next)?.filter((part) => part !== '') ?? [] });
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/** True when a command line is a package runner or a shell: what unwrapping removes. */
function isRunner(cmdline: string[]): boolean {
  const text = cmdline.join(' ');
  return /npm exec|npx-cli|npm-cli|(^|\/)npx( |$)|(^|\/)sh -c/.test(text);
}

/** Packs test/fixtures/unwrap-package at `version` into `<dir>/fixture.tgz` (the same path each time). */
function packFixture(dir: string, version: string): string {
  const source = join(dir, `src-${version}`);
  cpSync(join(ROOT, 'test/fixtures/unwrap-package'), source, { recursive: true });
  const manifestFile = join(source, 'package.json');
  writeFileSync(manifestFile, JSON.stringify({ ...JSON.parse(readFileSync(manifestFile, 'utf8')), version }, null, 2));
  const packed = execFileSync('npm', ['pack', '--offline', '--silent', '--pack-destination', dir], { cwd: source, encoding: 'utf8' }).trim().split('\n').pop() as string;
  const tarball = join(dir, 'fixture.tgz');
  renameSync(join(dir, packed), tarball);
  return tarball;
}

function scratch(t: TestContext): string {
  const dir = mkdtempSync('/tmp/mx-pkg-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** npm settings that keep an install off the network: the cache only, no retries. */
const OFFLINE = { npm_config_offline: 'true', npm_config_fetch_retries: '0', npm_config_update_notifier: 'false' };

describe('unwrap: package runners run without the runner', () => {
  test('npx -y server-memory (a project dependency) runs as one node process, serves tools, and describe names the package', async (t) => {
    const muxd = await startMuxd(t, { memory: npxMemory() });
    const client = await muxd.connect(t, 'memory');
    const graph = await client.callText('read_graph');
    assert.match(graph, /entities/);

    const [pid] = await muxd.waitForChildren('memory', 1);
    const tree = processTree(pid as number);
    assert.equal(tree.length, 1, `one process, got ${JSON.stringify(tree)}`);
    assert.deepEqual(tree[0]?.cmdline, [process.execPath, MEMORY_BIN]);
    assert.equal(isRunner(tree[0]?.cmdline ?? []), false);

    const described = await describeService(muxd, 'memory');
    assert.deepEqual(described.row.pids, [pid]);
    assert.deepEqual(described.row.package, {
      name: MEMORY_PACKAGE,
      version: MEMORY_VERSION,
      bin: 'mcp-server-memory',
      binFile: MEMORY_BIN,
      source: 'local',
      runner: 'npx',
      spec: MEMORY_PACKAGE,
    });
    assert.equal(described.row.unwrapNote, null);
    const text = await muxd.muxctl(['describe', 'memory']);
    assert.match(text.stdout, new RegExp(`package +${MEMORY_PACKAGE} ${MEMORY_VERSION.replace(/\./g, '\\.')}, a dependency of the project \\(local project\\)`));
    assert.equal((await row(muxd, 'memory')).package?.version, MEMORY_VERSION);
    const wide = await muxd.muxctl(['ls', '--wide']);
    assert.match(wide.stdout, /PACKAGE/);
    assert.match(wide.stdout, new RegExp(`^memory .*${MEMORY_PACKAGE}@${MEMORY_VERSION.replace(/\./g, '\\.')}\\s*$`, 'm'));

    // A project dependency is left alone by update, with a note, and nothing restarts.
    const update = await muxd.muxctl(['update', 'memory', '--json']);
    assert.equal(update.code, 0, update.stderr);
    const [outcome] = update.json<UpdateResult>().services;
    assert.equal(outcome?.restarted, false);
    assert.match(outcome?.note ?? '', /dependency of the project .*left alone/);
    assert.deepEqual(muxd.childPids('memory'), [pid]);
  });

  test("a Node bin runs on the node first on the service's PATH, as its shebang would under npx", async (t) => {
    // A node on PATH that notes its arguments, then becomes muxd's own Node (say, the user's nvm Node).
    const dir = scratch(t);
    mkdirSync(join(dir, 'bin'));
    const used = join(dir, 'used');
    writeFileSync(join(dir, 'bin', 'node'), `#!/bin/sh\necho "$@" > '${used}'\nexec '${process.execPath}' "$@"\n`);
    chmodSync(join(dir, 'bin', 'node'), 0o755);
    const muxd = await startMuxd(t, { memory: npxMemory({ env: { MEMORY_FILE_PATH: '${MUXD_HOME}/memory.jsonl', PATH: `${join(dir, 'bin')}:${process.env['PATH'] ?? ''}` } }) });
    const client = await muxd.connect(t, 'memory');
    assert.match(await client.callText('read_graph'), /entities/);
    assert.equal(readFileSync(used, 'utf8').trim(), MEMORY_BIN, "the PATH's node ran the bin");
    const [pid] = await muxd.waitForChildren('memory', 1);
    assert.equal(processTree(pid as number).length, 1, 'still one process: the script exec-ed node');
  });

  test('unwrap: false keeps the runner, and describe says so', async (t) => {
    const muxd = await startMuxd(t, { memory: withUnwrap(npxMemory(), false) });
    const client = await muxd.connect(t, 'memory');
    assert.match(await client.callText('read_graph'), /entities/);
    const row = (await describeService(muxd, 'memory')).row;
    const [pid] = row.pids;
    const tree = processTree(pid as number);
    assert.ok(tree.length > 1, `npx runs the server under itself: ${JSON.stringify(tree)}`);
    assert.ok(isRunner(tree[0]?.cmdline ?? []), `the child is npx: ${JSON.stringify(tree[0])}`);
    assert.equal(row.package, null);
    assert.match(row.unwrapNote ?? '', /unwrap: false/);
  });

  test('a -c (shell) form is not unwrapped, and describe says why', async (t) => {
    const muxd = await startMuxd(t, { shell: { command: 'npx', args: ['-c', 'mcp-server-memory'], cwd: ROOT } });
    const { row } = await describeService(muxd, 'shell');
    assert.equal(row.package, null);
    assert.match(row.unwrapNote ?? '', /-c runs a shell command line/);
  });

  test('a package that cannot be resolved runs as configured, and describe says why', async (t) => {
    const home = scratch(t);
    const muxd = await startMuxd(t, {
      missing: {
        command: 'npx',
        args: ['-y', 'some-package-that-does-not-exist-xyz'],
        cwd: home,
        lazy: false,
        env: { ...OFFLINE, npm_config_offline: 'false', npm_config_registry: 'http://127.0.0.1:9' },
        restart: { maxRestarts: 1 },
      },
    });
    const note = await waitFor('the resolution to fail', async () => (await describeService(muxd, 'missing')).row.unwrapNote?.match(/^not unwrapped: .*runs as configured$/)?.[0], 60_000);
    assert.match(note, /npm install failed .*127\.0\.0\.1:9/);
    assert.deepEqual(readdirSync(join(muxd.home, 'packages')), [], 'a failed install leaves nothing behind');
    const started = await muxd.waitForServiceLog('missing', 'the child started as configured', (entry) => entry.msg === 'child started', 30_000);
    assert.equal(started['command'], 'npx');
    assert.equal((await describeService(muxd, 'missing')).row.package, null);
  });

  test('a package muxd installs (offline, from a tarball) is kept across restarts of muxd and updated by muxctl update, the client staying connected', async (t) => {
    const dir = scratch(t);
    const tarball = packFixture(dir, '1.0.0');
    const muxd = await startMuxd(t, { fixture: { command: 'npx', args: ['-y', tarball], cwd: dir, env: OFFLINE } });

    const resolved = await waitFor('the package to be installed', async () => (await describeService(muxd, 'fixture')).row.package, 60_000);
    assert.equal(resolved.name, 'mux-unwrap-fixture');
    assert.equal(resolved.version, '1.0.0');
    assert.equal(resolved.source, 'muxd');
    assert.ok(resolved.binFile.startsWith(join(muxd.home, 'packages')), resolved.binFile);

    const client = await muxd.connect(t, 'fixture');
    const before = await client.callText('version');
    assert.match(before, /^version 1\.0\.0 pid \d+$/);
    const [pid] = await muxd.waitForChildren('fixture', 1);
    assert.deepEqual(processTree(pid as number).map((entry) => entry.cmdline), [[process.execPath, resolved.binFile]]);

    // muxd again: the install is reused, not made again.
    const installs = () => muxd.serviceLog('fixture').filter((entry) => entry.msg.startsWith('installing ')).length;
    assert.equal(installs(), 1);
    await client.close();
    await muxd.stop();
    await muxd.respawn();
    const again = await waitFor('the package to be found again', async () => (await describeService(muxd, 'fixture')).row.package, 30_000);
    assert.deepEqual(again, resolved);
    assert.equal(installs(), 1);

    // A new version of the same tarball: update installs it and restarts the child under a connected client.
    const connected = await muxd.connect(t, 'fixture');
    assert.match(await connected.callText('version'), /^version 1\.0\.0 /);
    packFixture(dir, '1.1.0');
    const update = await muxd.muxctl(['update', 'fixture', '--json'], { timeoutMs: 150_000 });
    assert.equal(update.code, 0, update.stderr);
    assert.deepEqual(update.json<UpdateResult>().services, [
      { name: 'fixture', package: 'mux-unwrap-fixture', from: '1.0.0', to: '1.1.0', restarted: true, note: null, failed: false },
    ]);
    assert.match(update.stderr, /^fixture: .*added 1 package/m, 'npm progress on stderr');
    const after = await connected.callText('version');
    assert.match(after, /^version 1\.1\.0 pid \d+$/);
    assert.notEqual(after.split(' pid ')[1], before.split(' pid ')[1]);
    assert.equal((await describeService(muxd, 'fixture')).row.package?.version, '1.1.0');

    // Nothing newer: said so, and nothing restarts.
    const text = await muxd.muxctl(['update'], { timeoutMs: 150_000 });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^fixture: mux-unwrap-fixture 1\.1\.0 \(already the newest\)$/m);
    assert.match(await connected.callText('version'), new RegExp(`^version 1\\.1\\.0 pid ${after.split(' pid ')[1]}$`));
  });
});
