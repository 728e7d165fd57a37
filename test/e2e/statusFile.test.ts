import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ListResult, ServiceRow } from '@muxd/protocol';
import { delay, everythingServer, memoryServer, startMuxd, waitFor } from './harness.js';
import type { Muxd } from './harness.js';

/** Adds `statusFile: value` to the config file `startMuxd` wrote (a JSON file). */
function withStatusFile(value: string): (home: string) => void {
  return (home) => {
    const file = join(home, 'muxd.config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...config, statusFile: value }, null, 2));
  };
}

/** The status file parsed, or undefined while it does not exist. Throws when it holds anything but JSON. */
function readStatus(path: string): ListResult | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as ListResult;
}

function row(status: ListResult | undefined, name: string): ServiceRow | undefined {
  return status?.services.find((service) => service.name === name);
}

function waitForRow(path: string, what: string, match: (row: ServiceRow) => boolean, name: string): Promise<ServiceRow> {
  return waitFor(what, () => {
    const found = row(readStatus(path), name);
    return found && match(found) ? found : undefined;
  });
}

async function startWithStatusFile(t: Parameters<typeof startMuxd>[0], statusFile: string): Promise<Muxd> {
  return startMuxd(t, { everything: everythingServer({ lazy: false }), memory: memoryServer() }, { prepare: withStatusFile(statusFile) });
}

test('the status file lists every service as muxctl ls --json does, private to the user', async (t) => {
  // A variable and a relative path, both resolved as the config's other paths are.
  const muxd = await startWithStatusFile(t, '${MUXD_HOME}/status.json');
  const path = join(muxd.home, 'status.json');
  const everything = await waitForRow(path, 'everything online in the status file', (found) => found.status === 'online', 'everything');
  assert.equal(everything.pids.length, 1);
  const status = readStatus(path);
  assert.deepEqual(status?.services.map((service) => service.name), ['everything', 'memory']);
  assert.equal(row(status, 'memory')?.status, 'idle');
  assert.equal(status?.daemon.pid, muxd.pid);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  // The same shape as `muxctl ls --json`.
  const listed = (await muxd.muxctl(['ls', '--json'])).json<ListResult>();
  assert.deepEqual(Object.keys(status ?? {}).sort(), Object.keys(listed).sort());
  assert.deepEqual(Object.keys(row(status, 'everything') ?? {}).sort(), Object.keys(listed.services[0] ?? {}).sort());
});

test('the status file follows clients connecting and services stopping, and is valid JSON at every read', async (t) => {
  const muxd = await startWithStatusFile(t, 'status.json');
  const path = join(muxd.home, 'status.json');
  await waitForRow(path, 'everything online', (found) => found.status === 'online' && found.clients === 0, 'everything');

  // Reads the file in a loop while it is rewritten: every read must parse.
  let reading = true;
  let reads = 0;
  const reader = (async () => {
    while (reading) {
      readStatus(path);
      reads++;
      await delay(1);
    }
  })();
  t.after(() => {
    reading = false;
  });

  const first = await muxd.connect(t, 'everything');
  const second = await muxd.connect(t, 'memory');
  await waitForRow(path, 'the client of everything in the status file', (found) => found.clients === 1, 'everything');
  await waitForRow(path, 'memory started for its client', (found) => found.status === 'online' && found.clients === 1, 'memory');
  await first.callText('echo', { message: 'churn' });
  await first.close();
  await waitForRow(path, 'the client of everything gone', (found) => found.clients === 0, 'everything');
  await second.close();

  const stopped = await muxd.muxctl(['stop', 'everything']);
  assert.equal(stopped.code, 0, stopped.stderr);
  const row = await waitForRow(path, 'everything stopped in the status file', (found) => found.status === 'stopped', 'everything');
  assert.deepEqual(row.pids, []);
  const restarted = await muxd.muxctl(['restart', 'everything']);
  assert.equal(restarted.code, 0, restarted.stderr);
  await waitForRow(path, 'everything online again', (found) => found.status === 'online', 'everything');

  reading = false;
  await reader;
  assert.ok(reads > 0);
});

test('a status file that cannot be written is a note in muxctl ls, and services still work', async (t) => {
  const muxd = await startWithStatusFile(t, '${MUXD_HOME}/no-such-dir/status.json');
  const bad = join(muxd.home, 'no-such-dir', 'status.json');
  const listed = await waitFor('the status file note', async () => {
    const run = await muxd.muxctl(['ls', '--json']);
    const result = run.json<ListResult>();
    return result.daemon.notes.some((note) => note.includes('cannot write the status file')) ? result : undefined;
  });
  const note = listed.daemon.notes.find((line) => line.includes('cannot write the status file')) ?? '';
  assert.match(note, /no-such-dir\/status\.json/);
  assert.match(note, /ENOENT/);
  // Plain `muxctl ls` says it too, on stderr.
  const plain = await muxd.muxctl(['ls']);
  assert.equal(plain.code, 0);
  assert.match(plain.stderr, /cannot write the status file/);
  // Logged once, however many times it was tried.
  await muxd.connect(t, 'memory').then((client) => client.close());
  // Room for the writes that change would cause (at most one a second).
  await delay(2500);
  const logged = muxd.daemonLog().filter((entry) => entry.msg === 'cannot write the status file');
  assert.equal(logged.length, 1);

  const client = await muxd.connect(t, 'everything');
  assert.equal(await client.callText('echo', { message: 'still served' }), 'Echo: still served');
  assert.equal(existsSync(bad), false);

  // Fixing the path with a reload writes the file and clears the note.
  const good = join(muxd.home, 'status.json');
  withStatusFile(good)(muxd.home);
  const reloaded = await muxd.muxctl(['reload']);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  await waitFor('the status file at its new path', () => readStatus(good));
  const after = (await muxd.muxctl(['ls', '--json'])).json<ListResult>();
  assert.equal(after.daemon.notes.some((line) => line.includes('cannot write the status file')), false);
});

test('a reload that removes statusFile removes the file; so does stopping muxd', async (t) => {
  const muxd = await startWithStatusFile(t, 'status.json');
  const path = join(muxd.home, 'status.json');
  await waitFor('the status file', () => readStatus(path));
  const config = JSON.parse(readFileSync(muxd.configFile, 'utf8')) as Record<string, unknown>;
  delete config['statusFile'];
  writeFileSync(muxd.configFile, JSON.stringify(config, null, 2));
  const reloaded = await muxd.muxctl(['reload']);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  assert.equal(existsSync(path), false);

  withStatusFile('status.json')(muxd.home);
  assert.equal((await muxd.muxctl(['reload'])).code, 0);
  await waitFor('the status file again', () => readStatus(path));
  await muxd.stop();
  assert.equal(existsSync(path), false);
});
