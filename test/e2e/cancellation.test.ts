// Requests that end early: a client gives up, a client dies, the child dies.
// The probe fixture logs to stderr (hence the service log) what it saw.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { fixtureServer, isAlive, startMuxd, waitFor } from './harness.js';

const ERROR_LEVEL = 50;
const UPSTREAM_EXITED = -32030;

const muxd = await startMuxd({ after }, {
  probe: fixtureServer('probe'),
  crashy: fixtureServer('probe'),
});

const logged = (service: string, text: string) => muxd.waitForServiceLog(service, JSON.stringify(text), (entry) => entry.msg === text);

test('a client that aborts a call gets a rejection, the server is told to stop, and the next call works', { timeout: 30_000 }, async (t) => {
  const c = await muxd.connect(t, 'probe', { name: 'aborter' });
  const controller = new AbortController();
  const call = c.callText('sleep', { tag: 'abort-1' }, { signal: controller.signal });
  await logged('probe', 'probe: started abort-1');
  controller.abort('user pressed stop');
  await assert.rejects(call);
  await logged('probe', 'probe: cancelled abort-1: user pressed stop');
  assert.equal(await c.callText('echo', { message: 'still here' }), 'probe: still here');
  assert.deepEqual(c.errors.map(String), []);
});

test('a client killed mid-call leaves the other clients and the shared child unaffected', { timeout: 30_000 }, async (t) => {
  const victim = await muxd.connect(t, 'probe', { name: 'victim' });
  const bystander = await muxd.connect(t, 'probe', { name: 'bystander' });
  const [pid] = await muxd.waitForChildren('probe', 1);
  const bystanderCall = bystander.callText('sleep', { tag: 'bystander-1', ms: 300 });
  const doomed = victim.callText('sleep', { tag: 'killed-1', ms: 1000 });
  doomed.catch(() => undefined);
  await logged('probe', 'probe: started killed-1');
  process.kill(victim.proxyPid, 'SIGKILL');
  await assert.rejects(doomed, 'the host sees its own server connection die');
  assert.equal(await bystanderCall, 'finished bystander-1');
  assert.equal(await bystander.callText('echo', { message: 'unaffected' }), 'probe: unaffected');
  // Whether or not muxd cancelled it, the dead client's request is over by now.
  await muxd.waitForServiceLog('probe', 'killed-1 to end', (entry) => /^probe: (finished|cancelled) killed-1/.test(entry.msg));
  assert.equal(await bystander.callText('echo', { message: 'still unaffected' }), 'probe: still unaffected');
  assert.deepEqual(muxd.childPids('probe'), [pid], 'the shared child kept running');
  assert.deepEqual(muxd.daemonLog().filter((entry) => entry.level >= ERROR_LEVEL), []);
  assert.deepEqual(muxd.serviceLog('probe').filter((entry) => entry.level >= ERROR_LEVEL), []);
  assert.deepEqual(bystander.errors.map(String), []);
});

test('a client killed mid-call makes muxd cancel its request upstream', { timeout: 30_000 }, async (t) => {
  const victim = await muxd.connect(t, 'probe', { name: 'victim-2' });
  const doomed = victim.callText('sleep', { tag: 'killed-2', ms: 20_000 });
  doomed.catch(() => undefined);
  await logged('probe', 'probe: started killed-2');
  process.kill(victim.proxyPid, 'SIGKILL');
  await muxd.waitForServiceLog('probe', 'the cancel of killed-2', (entry) => entry.msg === 'probe: cancelled killed-2: client disconnected', 5000);
});

test('SIGKILL of the child mid-call: that call fails, the next call on the same connection succeeds on a new child', { timeout: 30_000 }, async (t) => {
  const c = await muxd.connect(t, 'crashy', { name: 'survivor' });
  const [oldPid] = await muxd.waitForChildren('crashy', 1);
  const call = c.callText('sleep', { tag: 'crash-1' });
  await logged('crashy', 'probe: started crash-1');
  process.kill(oldPid as number, 'SIGKILL');
  const error = await call.then(
    () => assert.fail('the call should fail'),
    (error: unknown) => error,
  );
  assert.ok(error instanceof McpError, `expected an MCP error, got ${String(error)}`);
  assert.equal(error.code, UPSTREAM_EXITED);
  assert.match(error.message, /crashy/);

  // Sent right away: muxd holds it until the restarted child has done its handshake.
  assert.equal(await c.callText('echo', { message: 'after the crash' }), 'probe: after the crash');
  const [newPid] = await muxd.waitForChildren('crashy', 1);
  assert.notEqual(newPid, oldPid);
  assert.equal(isAlive(oldPid as number), false);
  const stats = JSON.parse(await c.callText('stats')) as { initialize: number };
  assert.equal(stats.initialize, 1, 'muxd ran the handshake again with the new child');
  await waitFor('the restart to be logged', () => muxd.serviceLog('crashy').some((entry) => /restarting in/.test(entry.msg)));
});
