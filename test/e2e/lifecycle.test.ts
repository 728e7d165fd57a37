// When children start and stop: lazily, when idle, per client, and when
// muxd itself ends (cleanly or not).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { everythingServer, fixtureServer, isAlive, startMuxd, waitFor, within } from './harness.js';
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
  assert.match(c.proxyStderr(), /muxd closed the connection/);
});
