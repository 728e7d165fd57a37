// The history database: it outlives a daemon killed with SIGKILL, and a
// database that cannot be opened costs the history, never the service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DaemonStatus, HistoryResult, ListResult, RunRecord } from '@muxd/protocol';
import { fixtureServer, isAlive, startMuxd, waitFor } from './harness.js';
import type { Muxd } from './harness.js';

async function history(muxd: Muxd, name: string): Promise<RunRecord[]> {
  const run = await muxd.muxctl(['history', name, '--json']);
  assert.equal(run.code, 0, run.stderr);
  return run.json<HistoryResult>().runs;
}

test('a daemon killed with SIGKILL and started again still has the history; the run it left open ended as daemon-lost', { timeout: 45_000 }, async (t) => {
  const muxd = await startMuxd(t, { probe: fixtureServer('probe', { lazy: false }) });
  const [first] = await muxd.waitForChildren('probe', 1);
  const restart = await muxd.muxctl(['restart', 'probe', '--json']);
  assert.equal(restart.code, 0, restart.stderr);
  const [second] = await muxd.waitForChildren('probe', 1);
  assert.notEqual(second, first);
  // Recorded before the kill: `history` reads what the daemon has written.
  const before = await history(muxd, 'probe');
  assert.deepEqual(before.map((run) => [run.pid, run.reason]), [[second, null], [first, 'manual']]);

  await muxd.kill();
  await waitFor('the orphaned child to be reaped', () => !isAlive(second as number), 10_000);
  await muxd.respawn();
  const [third] = await muxd.waitForChildren('probe', 1);

  const runs = await history(muxd, 'probe');
  assert.deepEqual(
    runs.map((run) => [run.pid, run.reason]),
    [[third, null], [second, 'daemon-lost'], [first, 'manual']],
    'newest first, the earlier runs kept',
  );
  const lost = runs[1] as RunRecord;
  assert.ok(lost.endedAt !== null && lost.endedAt >= lost.startedAt, 'the lost run has an end time');
  assert.equal(runs[2]?.endedAt, before[1]?.endedAt, 'finished runs are unchanged');
});

// A database muxd cannot open. We run as root, where chmod cannot make a
// file unwritable, so a directory in its place and a file of garbage stand
// for it.
const broken: Array<[string, (path: string) => void, RegExp]> = [
  ['a directory', (path) => mkdirSync(path), /muxd\.db: cannot open: /],
  ['garbage', (path) => writeFileSync(path, Buffer.alloc(8192, 'not a database. ')), /muxd\.db: cannot open: file is not a database/],
];

for (const [what, plant, expected] of broken) {
  test(`a database that is ${what}: muxd serves clients, ls and status report it, history says why it has nothing`, { timeout: 30_000 }, async (t) => {
    const muxd = await startMuxd(t, { probe: fixtureServer('probe') }, { prepare: (home) => plant(join(home, 'muxd.db')) });

    const c = await muxd.connect(t, 'probe', { name: 'no-database' });
    assert.equal(await c.callText('echo', { message: 'served' }), 'probe: served');

    const ls = await muxd.muxctl(['ls', '--json']);
    assert.equal(ls.code, 0, ls.stderr);
    const listed = ls.json<ListResult>();
    assert.match(listed.daemon.databaseError ?? '', expected);
    assert.equal(listed.services[0]?.status, 'online');
    const text = await muxd.muxctl(['ls']);
    assert.match(text.stderr, /history is not being saved: .*muxd\.db: cannot open/);

    const status = await muxd.muxctl(['daemon', 'status', '--json']);
    assert.match(status.json<DaemonStatus>().databaseError ?? '', expected);

    const run = await muxd.muxctl(['history', 'probe', '--json']);
    assert.equal(run.code, 1, 'no history is a failure');
    const result = run.json<HistoryResult>();
    assert.deepEqual(result.runs, []);
    assert.match(result.databaseError ?? '', expected);
    assert.match(run.stderr, /^muxctl: history unavailable: .*muxd\.db: cannot open/);

    // Restarts go on without it.
    const restart = await muxd.muxctl(['restart', 'probe', '--json']);
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(await c.callText('echo', { message: 'still served' }), 'probe: still served');
  });
}
