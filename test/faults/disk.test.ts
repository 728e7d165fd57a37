// A full disk under muxd's logs: muxd keeps serving every client, says
// which log cannot be written and why, and writes again once there is room.
// Needs root, to mount a small tmpfs over the home's log directory; skipped
// otherwise (a full disk cannot be made for one directory without it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DaemonStatus } from '@muxd/protocol';
import { MUXCTL_BIN, ROOT, fixtureServer, isAlive, startMuxd, waitFor } from '../e2e/harness.js';

const fixturePath = (name: string) => join(ROOT, 'test', 'fixtures', `${name}.mjs`);

function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = `/tmp/mx-mount-probe-${process.pid}`;
  mkdirSync(probe, { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
  if (mounted) spawnSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return mounted;
}

/** Fills the file system holding `dir` with one file; returns its path. */
function fill(dir: string): string {
  const filler = join(dir, 'filler');
  try {
    writeFileSync(filler, Buffer.alloc(8 * 1024 ** 2));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  }
  return filler;
}

test('a full disk under the logs: muxd keeps serving, reports the log it cannot write, and writes again once there is room', { timeout: 60_000 }, async (t) => {
  if (!canMount()) return t.skip('needs root and tmpfs to make a small file system');
  let logs = '';
  t.after(() => {
    if (logs) spawnSync('umount', ['-l', logs]);
  });
  const muxd = await startMuxd(
    t,
    { chatty: fixtureServer('chatty', { lazy: false }), probe: fixtureServer('probe', { lazy: false }) },
    {
      prepare: (home) => {
        logs = join(home, 'logs');
        mkdirSync(logs, { mode: 0o700 });
        assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', logs]).status, 0, 'mount a 1 MiB tmpfs');
      },
    },
  );
  const status = async () => (await muxd.muxctl(['daemon', 'status', '--json'])).json<DaemonStatus>();
  assert.equal((await status()).logError, null);

  const filler = fill(logs);
  const chatty = await muxd.connect(t, 'chatty', { name: 'writes-to-a-full-disk' });
  // Each line is about 150 bytes in the service log: this much cannot fit.
  assert.equal(await chatty.callText('chatter', { tag: 'full', lines: 300, everyMs: 0 }), 'chattered full');

  const problem = await waitFor('muxd to report the log it cannot write', async () => (await status()).logError);
  assert.match(problem, /^cannot write .*\/logs\/.*\.log.*: ENOSPC: no space left on device, write(; \d+ lines? dropped so far)?\. Free space in the log directory; writing resumes by itself$/);
  const ls = await muxd.muxctl(['ls']);
  assert.equal(ls.code, 0);
  assert.ok(ls.stderrLines().includes(`muxctl: logs are not being written: ${problem}`), ls.stderr);

  // Every service still serves, new clients included.
  const probe = await muxd.connect(t, 'probe', { name: 'next-door' });
  assert.equal(await probe.callText('echo', { message: 'disk full' }), 'probe: disk full');
  assert.equal(await chatty.callText('chatter', { tag: 'still', lines: 1 }), 'chattered still');

  // Room again: the logs take their writes and the report clears.
  rmSync(filler);
  assert.equal(await chatty.callText('chatter', { tag: 'room', lines: 3 }), 'chattered room');
  await waitFor('the report to clear', async () => (await status()).logError === null);
  const serviceDir = join(logs, 'services', 'chatty');
  await waitFor('the new lines in the service log', () =>
    readdirSync(serviceDir).some((name) => name.endsWith('.log') && name !== 'current.log' && readFileSync(join(serviceDir, name), 'utf8').includes('chatty room 2 ')),
  );
  assert.ok(isAlive(muxd.pid), 'muxd never went down');
});

test('muxctl import and rewire on a full disk: nothing half-written, every file as it was, and a one-line reason', { timeout: 60_000 }, async (t) => {
  if (!canMount()) return t.skip('needs root and tmpfs to make a small file system');
  const home = mkdtempSync('/tmp/mx-');
  t.after(() => {
    spawnSync('umount', ['-l', home]);
    rmSync(home, { recursive: true, force: true });
  });
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0700', 'tmpfs', home]).status, 0);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), MUXD_HOME: join(home, 'muxd') };
  delete env['MUXD_CONFIG'];
  const muxctl = (args: string[]) => spawnSync(process.execPath, [MUXCTL_BIN, ...args], { cwd: home, env, encoding: 'utf8' });
  const cursor = join(home, '.cursor', 'mcp.json');
  mkdirSync(join(home, '.cursor'));
  const hostFile = `${JSON.stringify({ mcpServers: { probe: { command: 'node', args: [fixturePath('probe')] } } }, null, 2)}\n`;
  writeFileSync(cursor, hostFile);
  const config = join(home, '.config', 'muxd', 'config.yaml');

  // A new config that cannot be written is not left behind, empty or cut short.
  let filler = fill(home);
  const first = muxctl(['import']);
  assert.equal(first.status, 1);
  assert.match(first.stderr, /^muxctl: cannot write .*config\.yaml: .*ENOSPC/m);
  assert.equal(existsSync(config), false, 'no half-written config');

  // With room, import writes it; full again, an import that adds a service leaves it as it was.
  rmSync(filler);
  assert.equal(muxctl(['import']).status, 0);
  const written = readFileSync(config, 'utf8');
  writeFileSync(cursor, hostFile.replace('"probe"', '"probe2"').replace('probe.mjs', 'probe.mjs", "--again'));
  filler = fill(home);
  const second = muxctl(['import']);
  assert.equal(second.status, 1);
  assert.equal(readFileSync(config, 'utf8'), written, 'the config as it was');

  // rewire: the host file stays as it was, and muxctl says it was not changed.
  rmSync(filler);
  writeFileSync(cursor, hostFile);
  filler = fill(home);
  const rewire = muxctl(['rewire']);
  assert.equal(rewire.status, 1);
  assert.equal(readFileSync(cursor, 'utf8'), hostFile);
  assert.match(rewire.stdout, /not changed: .*ENOSPC/);
});
