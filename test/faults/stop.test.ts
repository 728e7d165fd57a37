// Children that refuse to go: a server that ignores SIGTERM and outlives its
// stdin, with descendants in its process group that ignore SIGTERM too (one
// holding its stdout open). Stopping the service, shutting muxd down, or
// killing muxd must leave no member of the group behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureServer, startMuxd, waitFor } from '../e2e/harness.js';
import type { Muxd, ServiceSpec } from '../e2e/harness.js';
import { Control, processGroup, processesOfHome } from './helpers.js';

/** The server and its three descendants. */
const FAMILY = 4;

const services: Record<string, ServiceSpec> = {
  stubborn: fixtureServer('stubborn', { lazy: false, stopTimeout: '1s' }),
  // Exits on SIGTERM itself, leaving its descendants behind.
  obedient: fixtureServer('stubborn', { lazy: false, stopTimeout: '1s', env: { STUBBORN_OBEY_SIGTERM: '1' } }),
};

/** Waits until each service's whole family is up; returns each leader's pid (= its process group). */
async function families(muxd: Muxd, control: Control): Promise<number[]> {
  const leaders: number[] = [];
  for (const name of Object.keys(services)) {
    const row = await control.waitForRow(name, 'online', (row) => row.status === 'online' && row.pids.length === 1);
    const leader = row.pids[0] as number;
    await waitFor(`the ${FAMILY} processes of '${name}'`, () => processGroup(leader).length === FAMILY);
    // Both views settle once the last descendant has finished starting.
    await waitFor(`the group of '${name}' to be all its family`, () => {
      const group = processGroup(leader);
      return JSON.stringify(muxd.childPids(name)) === JSON.stringify(group) && group.length === FAMILY;
    });
    leaders.push(leader);
  }
  return leaders;
}

test('muxctl stop returns only once the whole process group is gone, whether or not the server obeys SIGTERM', { timeout: 30_000 }, async (t) => {
  const muxd = await startMuxd(t, services);
  const control = await Control.open(t, muxd);
  const leaders = await families(muxd, control);
  for (const [index, name] of Object.keys(services).entries()) {
    const run = await muxd.muxctl(['stop', name, '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(processGroup(leaders[index] as number), [], `nothing of '${name}' is left when stop returns`);
    assert.deepEqual(muxd.childPids(name), []);
    const row = await control.row(name);
    assert.deepEqual([row.status, row.pids], ['stopped', []]);
  }
  await muxd.waitForServiceLog('stubborn', 'the SIGKILL after stopTimeout', (entry) => entry.msg === 'child ignored SIGTERM: sending SIGKILL');
});

test('muxd shutting down (SIGTERM) leaves no member of any child\'s process group, nor anything else of its own', { timeout: 30_000 }, async (t) => {
  const muxd = await startMuxd(t, services);
  const control = await Control.open(t, muxd);
  const leaders = await families(muxd, control);
  await muxd.connect(t, 'stubborn', { name: 'until-shutdown' });
  const exit = await muxd.stop();
  assert.deepEqual(exit, { code: 0, signal: null });
  for (const leader of leaders) assert.deepEqual(processGroup(leader), [], `group ${leader} is gone when muxd has exited`);
  // The reaper and the proxy leave too (the proxy after muxd said it was shutting down).
  await waitFor('every process of the home to be gone', () => processesOfHome(muxd.home).length === 0, 10_000).catch(() => {
    assert.fail(`left behind: ${processesOfHome(muxd.home).join(', ')}`);
  });
});

test('muxd killed with SIGKILL: its reaper still ends every child\'s whole process group', { timeout: 30_000 }, async (t) => {
  const muxd = await startMuxd(t, services);
  const control = await Control.open(t, muxd);
  const leaders = await families(muxd, control);
  await muxd.kill();
  // The reaper sends SIGTERM to each group at once and SIGKILL 2 s later.
  await waitFor('every group to be gone', () => leaders.every((leader) => processGroup(leader).length === 0), 10_000).catch(() => {
    assert.fail(`left behind: ${leaders.flatMap((leader) => processGroup(leader)).join(', ')}`);
  });
  await waitFor('the reaper to exit', () => processesOfHome(muxd.home).length === 0, 10_000).catch(() => {
    assert.fail(`left behind: ${processesOfHome(muxd.home).join(', ')}`);
  });
});

test('muxd shutting down (SIGTERM) ends every per-client child before it exits, even one whose client had just left', { timeout: 30_000 }, async (t) => {
  const muxd = await startMuxd(t, { solo: fixtureServer('stubborn', { isolation: 'per-client', stopTimeout: '3s' }) });
  const control = await Control.open(t, muxd);
  const leaving = await muxd.rawConnect(t, 'solo');
  await leaving.initialize();
  const [pid] = await control.waitForRow('solo', 'online', (row) => row.pids.length === 1).then((row) => row.pids);
  await muxd.waitForChildren('solo', FAMILY, 15_000);
  // Its client leaves: the child's stop begins (and takes seconds, the server ignoring SIGTERM) ...
  leaving.socket.destroy();
  await control.waitForRow('solo', 'without clients', (row) => row.clients === 0);
  // ... and muxd is told to shut down meanwhile.
  const exit = await muxd.stop();
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.deepEqual(muxd.childPids('solo'), [], 'no child outlives muxd');
  // Stopped by muxd's own stop, whole, before muxd said it had stopped; not killed on the way out.
  const stopped = muxd.serviceLog('solo').find((entry) => entry.msg === 'child stopped' && entry['pid'] === pid);
  assert.equal(stopped?.['reason'], 'client-gone', JSON.stringify(muxd.serviceLog('solo').slice(-5)));
  const end = muxd.daemonLog().find((entry) => entry.msg === 'muxd stopped');
  assert.ok(end && Date.parse(String(stopped?.['time'])) <= Date.parse(String(end['time'])), `the child stopped (${String(stopped?.['time'])}) before muxd logged "muxd stopped" (${String(end?.['time'])})`);
});
