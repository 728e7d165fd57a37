// muxctl doctor: what it finds on a real machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, everythingServer, isAlive, startMuxd, waitFor } from './harness.js';

interface Doctor {
  checks: Array<{ name: string; level: string; detail: string; fix?: string }>;
  strays: Array<{ pid: number; rssBytes: number; command: string }>;
  otherMuxd: Array<{ pid: number; rssBytes: number; command: string; muxdPid: number; home?: string }>;
}

test('doctor lists MCP servers running outside muxd, not muxd\'s own children, and flags loose permissions and stale sockets', { timeout: 60_000 }, async (t) => {
  const muxd = await startMuxd(t, { everything: everythingServer({ lazy: false }) });
  const [child] = await muxd.waitForChildren('everything', 1);
  // A server a host started by itself: stdin kept open so it stays up.
  const stray = spawn(process.execPath, [join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js')], {
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { ...process.env, MEMORY_FILE_PATH: join(muxd.home, 'stray.jsonl') },
  });
  t.after(() => stray.kill('SIGKILL'));
  await waitFor('the stray server to start', () => (stray.pid !== undefined && isAlive(stray.pid)) || undefined);

  // A socket nobody serves, and a socket directory others could enter.
  const ghost = join(muxd.home, 'run', 'ghost.sock');
  const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(ghost)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => holder.stdout.once('data', resolve));
  // Killed, it leaves its socket file behind, as a crashed process would.
  holder.kill('SIGKILL');
  await new Promise((resolve) => holder.once('exit', resolve));
  chmodSync(join(muxd.home, 'run'), 0o755);

  const run = await muxd.muxctl(['doctor', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const doctor = run.json<Doctor>();
  const strayPids = doctor.strays.map((entry) => entry.pid);
  assert.ok(strayPids.includes(stray.pid as number), `the stray server is listed: ${JSON.stringify(doctor.strays)}`);
  assert.ok(!strayPids.includes(child as number), 'muxd\'s own child is not a stray');
  const entry = doctor.strays.find((candidate) => candidate.pid === stray.pid);
  assert.ok((entry?.rssBytes ?? 0) > 1024 * 1024, 'with its memory');
  const byName = new Map(doctor.checks.map((check) => [check.name, check]));
  assert.equal(byName.get('socket directory')?.level, 'warn');
  assert.match(byName.get('socket directory')?.fix ?? '', /chmod 700/);
  assert.equal(byName.get('stale sockets')?.level, 'warn');
  assert.match(byName.get('stale sockets')?.detail ?? '', /ghost\.sock/);
  assert.equal(byName.get('versions')?.level, 'ok');
  assert.equal(byName.get('MCP servers outside muxd')?.level, 'warn');
});

test("doctor lists another muxd's children (another MUXD_HOME) apart, with that muxd's home, not as servers outside muxd", { timeout: 60_000 }, async (t) => {
  const muxd = await startMuxd(t, { everything: everythingServer({ lazy: false }) });
  const other = await startMuxd(t, { everything: everythingServer({ lazy: false }) });
  const [own] = await muxd.waitForChildren('everything', 1);
  const [theirs] = await other.waitForChildren('everything', 1);

  const run = await muxd.muxctl(['doctor', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const doctor = run.json<Doctor>();
  const strayPids = doctor.strays.map((entry) => entry.pid);
  assert.ok(!strayPids.includes(theirs as number), `another muxd's child is no stray: ${JSON.stringify(doctor.strays)}`);
  assert.ok(!strayPids.includes(own as number));
  const listed = doctor.otherMuxd.find((entry) => entry.pid === theirs);
  assert.deepEqual([listed?.muxdPid, listed?.home], [other.pid, other.home], JSON.stringify(doctor.otherMuxd));
  assert.ok((listed?.rssBytes ?? 0) > 1024 * 1024, 'with its memory');
  assert.ok(!doctor.otherMuxd.some((entry) => entry.pid === own), "this muxd's own child is not another's");
  const check = doctor.checks.find((item) => item.name === 'MCP servers of other muxd instances');
  assert.equal(check?.level, 'ok');
  assert.ok(check?.detail.includes(other.home), check?.detail);

  // As text, listed under that check, apart from the servers outside muxd.
  const text = await muxd.muxctl(['doctor']);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  const at = lines.findIndex((line) => line.startsWith('ok    MCP servers of other muxd instances: '));
  assert.ok(at !== -1, text.stdout);
  assert.ok(lines.slice(at + 1).some((line) => line.includes(`pid ${theirs} `) && line.includes(`(muxd pid ${other.pid}, home ${other.home})`)), text.stdout);
});
