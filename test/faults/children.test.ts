// Children that die, die over and over, or stop answering. A SIGKILL
// mid-call is in test/e2e/cancellation.test.ts and the health-check restart
// of a hung child in test/e2e/monitor.test.ts; these are the other ways.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes } from '@muxd/protocol';
import { fixtureServer, isAlive, startMuxd, waitFor } from '../e2e/harness.js';
import { Control, errorOf, mcpError } from './helpers.js';

const LOOP_FLAG = 'crash-loop.flag';

const muxd = await startMuxd({ after }, {
  crashy: fixtureServer('crashy'),
  // Exits at once while the flag file exists: a crash loop from the start.
  loop: fixtureServer('crashy', {
    lazy: false,
    env: { CRASHY_EXIT_WHILE: `\${MUXD_HOME}/${LOOP_FLAG}` },
    restart: { initialDelay: '100ms', maxDelay: '10s', maxRestarts: 4, window: '5m' },
  }),
  bystander: fixtureServer('probe', { lazy: false }),
  hung: fixtureServer('hang', { requestTimeout: '1s', healthCheck: { interval: 0 } }),
}, { prepare: (home) => writeFileSync(join(home, LOOP_FLAG), '') });
const control = await Control.open({ after }, muxd);

describe('a child that dies mid-call', () => {
  const ways = [
    { how: 'exit1', code: 1, signal: null, said: /exited with exit code 1/ },
    { how: 'exit0', code: 0, signal: null, said: /exited with exit code 0/ },
    { how: 'sigkill', code: null, signal: 'SIGKILL', said: /exited with signal SIGKILL/ },
  ] as const;

  for (const way of ways) {
    test(`${way.how}: the calls in flight fail, the next call on the same connection works, the restart is recorded`, { timeout: 30_000 }, async (t) => {
      const c = await muxd.connect(t, 'crashy', { name: `dies-${way.how}` });
      const pid = Number(await c.callText('pid'));
      const before = await control.row('crashy');

      const sleeping = mcpError(c.callText('sleep', { tag: way.how }));
      const dying = mcpError(c.callText('die', { how: way.how }));
      for (const error of [await sleeping, await dying]) {
        assert.equal(error.code, ErrorCodes.UpstreamExited);
        assert.match(error.message, way.said);
        assert.match(error.message, /muxd restarts it, so retry/);
      }

      assert.equal(await c.callText('echo', { message: 'next' }), 'crashy: next', 'the same connection carries on');
      const revived = Number(await c.callText('pid'));
      assert.notEqual(revived, pid);
      assert.equal(isAlive(pid), false);

      const run = await control.endedRun('crashy', pid);
      assert.deepEqual([run.reason, run.code, run.signal], ['crash', way.code, way.signal]);
      const row = await control.waitForRow('crashy', 'online again', (row) => row.status === 'online' && row.pids[0] === revived);
      assert.equal(row.restarts, before.restarts + 1);
      assert.deepEqual([row.lastExit?.reason, row.lastExit?.code, row.lastExit?.signal], ['crash', way.code, way.signal]);
      assert.deepEqual(c.errors.map(String), [], 'no stray or duplicate answers reached the client');
    });
  }
});

test('a crash loop backs off longer each time, ends errored, spares other services, and muxctl start revives it', { timeout: 45_000 }, async (t) => {
  const bystanderPid = (await control.row('bystander')).pids[0];
  const errored = await control.waitForRow('loop', 'errored', (row) => row.status === 'errored');
  assert.match(errored.error ?? '', /^Service 'loop' is errored: it exited 5 times within 300 s \(last: exit code 1\)\. See muxctl logs loop, then: muxctl start loop$/);
  assert.deepEqual(errored.pids, []);

  const delays = muxd.serviceLog('loop').filter((entry) => typeof entry['delayMs'] === 'number').map((entry) => entry['delayMs'] as number);
  assert.deepEqual(delays, [0, 100, 200, 400], 'the first crash restarts at once; then the backoff doubles from initialDelay');
  const runs = await control.history('loop');
  assert.equal(runs.length, 5);
  for (const run of runs) assert.deepEqual([run.reason, run.code], ['crash', 1]);

  // A client of the errored service is told why, at once.
  const raw = await muxd.rawConnect(t, 'loop');
  const refused = errorOf(await raw.initialize());
  assert.equal(refused?.code, ErrorCodes.ServiceUnavailable);
  assert.match(refused?.message ?? '', /is errored: .* then: muxctl start loop/);

  // Nobody else noticed.
  const other = await muxd.connect(t, 'bystander', { name: 'bystander' });
  assert.equal(await other.callText('echo', { message: 'unaffected' }), 'probe: unaffected');
  const bystander = await control.row('bystander');
  assert.deepEqual([bystander.status, bystander.pids[0], bystander.restarts], ['online', bystanderPid, 0]);

  // Fixed, then started by hand: the same kind of client gets served.
  rmSync(join(muxd.home, LOOP_FLAG));
  const run = await muxd.muxctl(['start', 'loop', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const [started] = run.json<{ services: Array<{ status: string; pids: number[]; error: string | null }> }>().services;
  assert.deepEqual([started?.status, started?.pids.length, started?.error], ['online', 1, null]);
  const revived = await muxd.connect(t, 'loop', { name: 'after-revival' });
  assert.equal(await revived.callText('echo', { message: 'alive' }), 'crashy: alive');
});

test('a hung child: each request fails with a timeout error instead of waiting forever, and nothing stays in flight', { timeout: 30_000 }, async (t) => {
  const c = await muxd.connect(t, 'hung', { name: 'patient' });
  assert.equal(await c.callText('echo', { message: 'before' }), 'hang: before');
  // The SDK would give up after 60 s: muxd's own timeout (1 s here) answers first.
  const hang = await mcpError(c.callText('hang', {}, { timeout: 30_000 }));
  assert.equal(hang.code, ErrorCodes.RequestTimeout);
  assert.match(hang.message, /Request 'tools\/call' to service 'hung' timed out after 1000 ms/);
  const echo = await mcpError(c.callText('echo', { message: 'stuck' }, { timeout: 30_000 }));
  assert.equal(echo.code, ErrorCodes.RequestTimeout, 'later requests time out too while the child stays hung');
  await control.waitForRow('hung', 'without requests in flight', (row) => row.inflight === 0 && row.queued === 0);

  // Health checks are off here (they restart it: test/e2e/monitor.test.ts); a restart by hand clears it.
  const [pid] = (await control.row('hung')).pids;
  await control.restart('hung');
  await waitFor('the hung child to be gone', () => !isAlive(pid as number));
  assert.equal(await c.callText('echo', { message: 'after' }), 'hang: after');
  assert.deepEqual(c.errors.map(String), []);
});
