// When children start and stop: lazily, when idle, per client, and when
// muxd itself ends (cleanly or not).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { daemonPids, everythingServer, fixtureServer, isAlive, memoryServer, startMuxd, waitFor, within } from './harness.js';
import type { TestClient } from './harness.js';

async function childPid(c: TestClient): Promise<number> {
  return (JSON.parse(await c.callText('stats')) as { pid: number }).pid;
}

const muxd = await startMuxd({ after }, {
  lazy: fixtureServer('probe', { lazy: true, idleTimeout: '300ms' }),
  eager: fixtureServer('probe', { lazy: false }),
  isolated: fixtureServer('probe', { isolation: 'per-client' }),
});

describe('one muxd', () => {

  test('a lazy service starts its child on the first client and stops it once idle', { timeout: 30_000 }, async (t) => {
    assert.deepEqual(muxd.childPids('lazy'), [], 'no child before the first client');
    const first = await muxd.connect(t, 'lazy', { name: 'first' });
    const [pid] = await muxd.waitForChildren('lazy', 1);
    assert.equal(await childPid(first), pid);
    await first.close();
    await muxd.waitForChildren('lazy', 0);
    assert.equal(isAlive(pid as number), false);
    await muxd.waitForServiceLog('lazy', 'the idle stop', (entry) => /idle/.test(entry.msg));

    // The next client brings it back, with a fresh handshake.
    const second = await muxd.connect(t, 'lazy', { name: 'second' });
    const stats = JSON.parse(await second.callText('stats')) as { pid: number; initialize: number };
    assert.notEqual(stats.pid, pid);
    assert.equal(stats.initialize, 1);
    assert.deepEqual(muxd.childPids('lazy'), [stats.pid]);
  });

  test('an eager service has its child before any client', { timeout: 30_000 }, async () => {
    await muxd.waitForChildren('eager', 1);
  });

  test('per-client isolation: each client has its own child, which stops when its client leaves', { timeout: 30_000 }, async (t) => {
    assert.deepEqual(muxd.childPids('isolated'), []);
    const a = await muxd.connect(t, 'isolated', { name: 'iso-a' });
    const b = await muxd.connect(t, 'isolated', { name: 'iso-b' });
    const pidA = await childPid(a);
    const pidB = await childPid(b);
    assert.notEqual(pidA, pidB);
    assert.deepEqual(muxd.childPids('isolated'), [pidA, pidB].sort((x, y) => x - y));
    await a.close();
    await waitFor(`a's child (${pidA}) to stop`, () => !isAlive(pidA));
    assert.equal(await childPid(b), pidB, 'b keeps its own child');
    assert.deepEqual(muxd.childPids('isolated'), [pidB]);
  });
});

test('SIGKILL of muxd leaves no child process running', { timeout: 30_000 }, async (t) => {
  const daemon = await startMuxd(t, {
    // Servers that outlive their stdin: only a signal ends them.
    lingering: fixtureServer('probe', { lazy: false, env: { PROBE_LINGER: '1' } }),
    stubborn: fixtureServer('probe', { lazy: false, env: { PROBE_LINGER: '1', PROBE_IGNORE_SIGTERM: '1' } }),
    everything: everythingServer(),
    isolated: fixtureServer('probe', { isolation: 'per-client', env: { PROBE_LINGER: '1' } }),
  });
  await daemon.connect(t, 'everything', { name: 'e' });
  await daemon.connect(t, 'isolated', { name: 'i' });
  const pids = [
    ...(await daemon.waitForChildren('lingering', 1)),
    ...(await daemon.waitForChildren('stubborn', 1)),
    ...(await daemon.waitForChildren('everything', 1)),
    ...(await daemon.waitForChildren('isolated', 1)),
  ];
  await daemon.kill();
  // The reaper sends SIGTERM at once and SIGKILL 2 s later.
  await waitFor('every child to be gone', () => pids.every((pid) => !isAlive(pid)), 10_000);
});

test('a SIGKILLed muxd comes back under its proxies: the call in flight fails once, the session goes on', { timeout: 60_000 }, async (t) => {
  const daemon = await startMuxd(t, { probe: fixtureServer('probe'), memory: memoryServer() });
  const c = await daemon.connect(t, 'probe', { name: 'survivor' });
  const m = await daemon.connect(t, 'memory', { name: 'memory-user' });
  await m.client.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'kept', entityType: 'thing', observations: ['before the crash'] }] } });
  assert.equal(await c.callText('echo', { message: 'before' }), 'probe: before');
  // Its outcome is taken at once: it settles while muxd is being killed.
  const outcome = c.callText('sleep', { tag: 'at-crash', ms: 20_000 }).then(
    () => assert.fail('the call in flight should fail'),
    (error: unknown) => error,
  );
  await daemon.waitForServiceLog('probe', 'the call to start', (entry) => entry.msg === 'probe: started at-crash');
  const oldDaemon = daemon.pid;
  await daemon.kill();

  const error = await outcome;
  assert.ok(error instanceof McpError, `expected an MCP error, got ${String(error)}`);
  assert.equal(error.code, -32000);
  assert.match(error.message, /muxd stopped while handling this request; it was not retried/);

  // Same clients, same proxies: the proxies start muxd again and replay the sessions.
  assert.equal(await c.callText('echo', { message: 'after' }), 'probe: after');
  const graph = await m.client.callTool({ name: 'read_graph', arguments: {} });
  assert.match(JSON.stringify(graph), /before the crash/);
  const daemons = daemonPids(daemon.home);
  assert.equal(daemons.length, 1, 'one muxd again');
  assert.notEqual(daemons[0], oldDaemon);
  const stats = JSON.parse(await c.callText('stats')) as { initialize: number; initialized: number };
  assert.deepEqual([stats.initialize, stats.initialized], [1, 1], 'the new child saw one handshake');
  // Never sent twice: the new child did not start the call that was in flight.
  const starts = daemon.serviceLog('probe').filter((entry) => entry.msg === 'probe: started at-crash');
  assert.equal(starts.length, 1);
  assert.match(c.proxyStderr(), /reconnected to 'probe'/);
});

test('SIGTERM shuts muxd down cleanly: exit 0, children stopped, sockets removed', { timeout: 30_000 }, async (t) => {
  const daemon = await startMuxd(t, {
    alpha: fixtureServer('probe', { lazy: false, env: { PROBE_LINGER: '1' } }),
    beta: everythingServer(),
  });
  const c = await daemon.connect(t, 'beta', { name: 'until-shutdown' });
  const disconnected = new Promise<void>((resolve) => (c.client.onclose = resolve));
  assert.equal(await c.callText('echo', { message: 'x' }), 'Echo: x');
  const pids = [...(await daemon.waitForChildren('alpha', 1)), ...(await daemon.waitForChildren('beta', 1))];
  assert.ok(existsSync(daemon.socketPath('alpha')));
  assert.ok(existsSync(daemon.socketPath('beta')));
  const exit = await daemon.stop();
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal(existsSync(daemon.socketPath('alpha')), false);
  assert.equal(existsSync(daemon.socketPath('beta')), false);
  for (const pid of pids) assert.equal(isAlive(pid), false, `child ${pid} stopped with muxd`);
  await within(disconnected, 10_000, 'the connected client to see muxd go');
  assert.match(c.proxyStderr(), /muxd shut down/);
});
