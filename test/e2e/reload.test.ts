// muxctl reload: the config file is read again and only the difference is
// applied; a broken file changes nothing and says exactly what is wrong.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { HistoryResult, ListResult, ReloadResult } from '@muxd/protocol';
import { fixtureServer, isAlive, startMuxd } from './harness.js';
import type { ServiceSpec, TestClient } from './harness.js';

const eager = (extra: Partial<ServiceSpec> = {}): ServiceSpec => fixtureServer('probe', { lazy: false, ...extra });

const muxd = await startMuxd({ after }, { keep: eager(), change: eager(), remove: eager() });

async function childPid(c: TestClient): Promise<number> {
  return (JSON.parse(await c.callText('stats')) as { pid: number }).pid;
}

async function list(): Promise<ListResult> {
  const run = await muxd.muxctl(['ls', '--json']);
  assert.equal(run.code, 0, run.stderr);
  return run.json<ListResult>();
}

test('reload applies the difference: unchanged keep child and clients, changed restart, removed stop, added start', { timeout: 45_000 }, async (t) => {
  const keepClient = await muxd.connect(t, 'keep', { name: 'keep-client' });
  const changeClient = await muxd.connect(t, 'change', { name: 'change-client' });
  const removeClient = await muxd.connect(t, 'remove', { name: 'remove-client' });
  const keepPid = await childPid(keepClient);
  const changePid = await childPid(changeClient);
  const [removePid] = await muxd.waitForChildren('remove', 1);

  muxd.writeConfig({ keep: eager(), change: eager({ env: { PROBE_FLAVOUR: 'changed' } }), add: eager() });
  const run = await muxd.muxctl(['reload', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const result = run.json<ReloadResult>();
  assert.equal(result.configFile, muxd.configFile);
  assert.deepEqual(
    { added: result.added, removed: result.removed, changed: result.changed, unchanged: result.unchanged },
    { added: ['add'], removed: ['remove'], changed: ['change'], unchanged: ['keep'] },
  );

  // Unchanged: the same child, and its client never noticed.
  assert.deepEqual(muxd.childPids('keep'), [keepPid]);
  assert.equal(await keepClient.callText('echo', { message: 'still here' }), 'probe: still here');
  assert.equal(await childPid(keepClient), keepPid);

  // Changed: a new child with the new config; the same client carries on.
  const [newChangePid] = await muxd.waitForChildren('change', 1);
  assert.notEqual(newChangePid, changePid);
  assert.equal(isAlive(changePid), false);
  assert.equal(await changeClient.callText('echo', { message: 'after reload' }), 'probe: after reload');
  assert.equal(await childPid(changeClient), newChangePid);
  const changeHistory = (await muxd.muxctl(['history', 'change', '--json'])).json<HistoryResult>();
  assert.equal(changeHistory.runs.find((entry) => entry.pid === changePid)?.reason, 'config');

  // Removed: child stopped, socket gone, its client cut off; its history stays.
  assert.equal(isAlive(removePid as number), false);
  assert.equal(existsSync(muxd.socketPath('remove')), false, 'the socket is removed');
  await assert.rejects(removeClient.callText('echo', { message: 'gone?' }));
  const removeHistory = await muxd.muxctl(['history', 'remove', '--json']);
  assert.equal(removeHistory.code, 0, removeHistory.stderr);
  assert.equal(removeHistory.json<HistoryResult>().runs.find((entry) => entry.pid === removePid)?.reason, 'config');

  // Added: listed, running (it is eager), and serving.
  const listed = await list();
  assert.deepEqual(listed.services.map((service) => service.name).sort(), ['add', 'change', 'keep']);
  const added = listed.services.find((service) => service.name === 'add');
  assert.equal(added?.status, 'online');
  assert.deepEqual(added?.pids, muxd.childPids('add'));
  const addClient = await muxd.connect(t, 'add', { name: 'add-client' });
  assert.equal(await addClient.callText('echo', { message: 'new' }), 'probe: new');

  // The text output says the same.
  muxd.writeConfig({ keep: eager(), change: eager({ env: { PROBE_FLAVOUR: 'changed' } }), add: eager() });
  const text = await muxd.muxctl(['reload']);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout, `reloaded ${muxd.configFile}\n  unchanged: keep, change, add\n`);
});

test('a broken config on reload changes nothing; muxctl reload exits 2 naming the file and the key path', { timeout: 30_000 }, async (t) => {
  const before = await list();
  const client = await muxd.connect(t, 'keep', { name: 'broken-reload-client' });
  const pid = await childPid(client);

  const broken = {
    services: {
      keep: { command: process.execPath, healthCheck: { interval: 'soon' } },
      extra: { command: process.execPath },
    },
  };
  muxd.writeRawConfig(JSON.stringify(broken));
  const invalid = await muxd.muxctl(['reload']);
  assert.equal(invalid.code, 2, invalid.stderr);
  assert.equal(invalid.stdout, '');
  assert.equal(invalid.stderrLines().length, 1, invalid.stderr);
  assert.match(invalid.stderr, new RegExp(`^muxctl: ${muxd.configFile}: services\\.keep\\.healthCheck\\.interval: `));

  muxd.writeRawConfig('{ "services": { "keep": ');
  const unparsable = await muxd.muxctl(['reload']);
  assert.equal(unparsable.code, 2, unparsable.stderr);
  assert.equal(unparsable.stderrLines().length, 1, unparsable.stderr);
  assert.match(unparsable.stderr, new RegExp(`^muxctl: ${muxd.configFile}: cannot parse`));

  const afterwards = await list();
  assert.deepEqual(
    afterwards.services.map((service) => [service.name, service.status, service.pids]),
    before.services.map((service) => [service.name, service.status, service.pids]),
    'every service as it was',
  );
  assert.equal(existsSync(muxd.socketPath('extra')), false, 'nothing was added');
  assert.equal(await client.callText('echo', { message: 'unaffected' }), 'probe: unaffected');
  assert.equal(await childPid(client), pid);
});
