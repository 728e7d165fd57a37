// muxctl reload: the config file is read again and only the difference is
// applied; a broken file changes nothing and says exactly what is wrong.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

test('a config with no services (an empty file, as a truncating editor leaves it) is refused by reload and config check unless --allow-empty', { timeout: 45_000 }, async (t) => {
  const before = await list();
  const names = before.services.map((service) => service.name);
  const client = await muxd.connect(t, 'keep', { name: 'empty-reload-client' });
  const pid = await childPid(client);
  const refusal = `muxctl: ${muxd.configFile}: defines no services; reloading it would stop every service, so nothing changed (muxctl reload --allow-empty applies it)`;

  for (const text of ['', '\n\n', '{ "services": {} }']) {
    muxd.writeRawConfig(text);
    const refused = await muxd.muxctl(['reload']);
    assert.equal(refused.code, 1, `${JSON.stringify(text)}: ${refused.stderr}`);
    assert.equal(refused.stdout, '');
    assert.deepEqual(refused.stderrLines(), [refusal], JSON.stringify(text));
    const json = await muxd.muxctl(['reload', '--json']);
    assert.equal(json.code, 1, json.stderr);
    assert.deepEqual(json.stderrLines(), [refusal]);
  }
  const unchanged = await list();
  assert.deepEqual(
    unchanged.services.map((service) => [service.name, service.status, service.pids]),
    before.services.map((service) => [service.name, service.status, service.pids]),
    'every service as it was',
  );
  assert.equal(await client.callText('echo', { message: 'still served' }), 'probe: still served');
  assert.equal(await childPid(client), pid);

  // config check says the same of the file, and of a comment-only YAML file.
  const commentOnly = join(muxd.home, 'commented.yaml');
  writeFileSync(commentOnly, '# services:\n#   keep:\n#     command: node\n');
  for (const file of [muxd.configFile, commentOnly]) {
    const check = await muxd.muxctl(['config', 'check', file]);
    assert.equal(check.code, 1, check.stderr);
    assert.deepEqual(check.stderrLines(), [`muxctl: ${file}: defines no services; --allow-empty accepts that`]);
    const allowed = await muxd.muxctl(['config', 'check', '--allow-empty', file]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(allowed.stdout, `${file}: valid, 0 services\n`);
  }

  // --allow-empty applies it: every configured service stops.
  const emptied = await muxd.muxctl(['reload', '--allow-empty', '--json']);
  assert.equal(emptied.code, 0, emptied.stderr);
  const result = emptied.json<ReloadResult>();
  assert.deepEqual([...result.removed].sort(), [...names].sort());
  assert.deepEqual(result.added, []);
  assert.equal((await list()).services.length, 0);
  assert.equal(isAlive(pid), false);

  // Put the services back for whatever runs next.
  muxd.writeConfig({ keep: eager(), change: eager({ env: { PROBE_FLAVOUR: 'changed' } }), add: eager() });
  const restored = await muxd.muxctl(['reload']);
  assert.equal(restored.code, 0, restored.stderr);
});

test('muxd started on a config with no services starts, and says so in its log and in muxctl ls', { timeout: 30_000 }, async (t) => {
  const empty = await startMuxd(t, {});
  const note = `${empty.configFile} defines no services: add some, then muxctl reload (mux-proxy -- COMMAND shares a server meanwhile)`;
  assert.ok(empty.daemonLog().some((entry) => entry.level === 40 && entry.msg === `config: ${note}`), empty.stderr);
  const ls = await empty.muxctl(['ls']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual(ls.stderrLines(), [`muxctl: ${note}`]);
  const status = await empty.muxctl(['daemon', 'status']);
  assert.equal(status.code, 0, status.stderr);
});
