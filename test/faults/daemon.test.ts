// The daemon's own footing: its sockets across a SIGKILL, sockets and
// directories it must not use, configs it cannot fully honour, and a
// database that stops taking writes. Malformed control messages and unknown
// services are in test/e2e/control.test.ts, a database that cannot be opened
// in test/e2e/store.test.ts, the pid lock and path checks in
// packages/daemon/test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCodes, SOCKET_PATH_LIMIT } from '@muxd/protocol';
import { MUXD_MAIN, everythingServer, fixtureServer, startMuxd, waitFor } from '../e2e/harness.js';
import type { Muxd } from '../e2e/harness.js';
import { Control, errorOf } from './helpers.js';

const modeOf = (path: string) => lstatSync(path).mode & 0o777;

/** Resolves with the error code of a connect to `path`, or 'connected'. */
function tryConnect(path: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** The control socket and each service's data socket. */
function socketsOf(muxd: Muxd, services: string[]): string[] {
  return [muxd.controlSocket, ...services.map((name) => muxd.socketPath(name))];
}

/** Runs muxd on `configFile` in `home` until it exits (it is expected to refuse to start). */
function runMuxdToExit(home: string, configFile: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MUXD_MAIN, '--config', configFile], { env: { ...process.env, MUXD_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stderr });
  }));
}

test('a daemon killed with SIGKILL leaves stale sockets; the next one reclaims them with the same paths and modes', { timeout: 45_000 }, async (t) => {
  const services = ['probe', 'everything'];
  const muxd = await startMuxd(t, { probe: fixtureServer('probe', { lazy: false }), everything: everythingServer() });
  const sockets = socketsOf(muxd, services);
  for (const path of sockets) assert.equal(modeOf(path), 0o600, `${path} is 0600`);
  assert.equal(modeOf(join(muxd.home, 'run')), 0o700, 'the socket directory is 0700');

  await muxd.kill();
  for (const path of sockets) {
    assert.ok(lstatSync(path).isSocket(), `${path} is left behind`);
    assert.equal(await tryConnect(path), 'ECONNREFUSED', `nothing serves ${path}`);
  }

  await muxd.respawn();
  for (const path of sockets) {
    assert.equal(await tryConnect(path), 'connected', `${path} is served again`);
    assert.equal(modeOf(path), 0o600);
  }
  assert.equal(modeOf(join(muxd.home, 'run')), 0o700);
  const c = await muxd.connect(t, 'everything', { name: 'after-reclaim' });
  assert.equal(await c.callText('echo', { message: 'reclaimed' }), 'Echo: reclaimed');
  await muxd.waitForChildren('probe', 1);

  // A second muxd for the same home never takes over sockets that are being served.
  const second = await runMuxdToExit(muxd.home, muxd.configFile);
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`^muxd: muxd is already running for this home \\(pid ${muxd.pid}\\)$`, 'm'));
  for (const path of sockets) assert.equal(await tryConnect(path), 'connected', `${path} still served by the first`);
  assert.equal(await c.callText('echo', { message: 'undisturbed' }), 'Echo: undisturbed');
});

test('a socket path owned by another user is refused, not reclaimed: that service is errored, the socket directory too is refused whole', { timeout: 30_000 }, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to chown');
  // A stale socket another user left where the service's socket goes.
  const elsewhere = mkdtempSync('/tmp/mx-');
  t.after(() => rmSync(elsewhere, { recursive: true, force: true }));
  const stale = join(elsewhere, 'theirs.sock');
  const child = spawn(process.execPath, ['-e', "require('node:net').createServer().listen(process.argv[1], () => process.stdout.write('ready\\n'))", stale], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  chownSync(stale, 12345, 12345);

  const muxd = await startMuxd(t, { probe: fixtureServer('probe'), other: fixtureServer('probe') }, {
    prepare: (home) => {
      mkdirSync(join(home, 'run'), { mode: 0o700 });
      renameSync(stale, join(home, 'run', 'probe.sock'));
    },
  });
  const theirs = muxd.socketPath('probe');
  const ls = await muxd.muxctl(['ls', '--json']);
  const rows = (JSON.parse(ls.stdout) as { services: Array<{ name: string; status: string; error?: string | null }> }).services;
  assert.deepEqual(
    rows.map((row) => [row.name, row.status, row.error ?? null]),
    [
      ['probe', 'errored', `cannot listen on its socket: ${theirs} belongs to uid 12345, not to you; refusing to use it (muxctl start probe tries again)`],
      ['other', 'idle', null],
    ],
  );
  assert.equal(lstatSync(theirs).uid, 12345, 'left as it was');
  const c = await muxd.connect(t, 'other', { name: 'next-door' });
  assert.equal(await c.callText('echo', { message: 'served' }), 'probe: served');

  const home = mkdtempSync('/tmp/mx-');
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const configFile = join(home, 'muxd.config.json');
  writeFileSync(configFile, JSON.stringify({ services: { probe: fixtureServer('probe') } }));
  // A socket directory owned by another user is refused as a whole.
  mkdirSync(join(home, 'run'), { mode: 0o755 });
  chownSync(join(home, 'run'), 12345, 12345);
  const dir = await runMuxdToExit(home, configFile);
  assert.equal(dir.code, 1);
  assert.match(dir.stderr, /^muxd: .*\/run belongs to uid 12345, not to you \(uid 0\); refusing to use it/m);
  assert.equal(modeOf(join(home, 'run')), 0o755, 'not chmodded');
});

test('a command that does not exist, or a missing directory: that service is errored with the reason, the rest serve', { timeout: 30_000 }, async (t) => {
  const muxd = await startMuxd(t, {
    ghost: { command: '/nonexistent/bin/mcp-server', lazy: false },
    'lazy-ghost': { command: 'no-such-mcp-server-on-path', lazy: true },
    homeless: fixtureServer('probe', { lazy: false, cwd: '/nonexistent/dir' }),
    probe: fixtureServer('probe', { lazy: false }),
  });
  const control = await Control.open(t, muxd);
  const ghost = await control.waitForRow('ghost', 'errored', (row) => row.status === 'errored');
  assert.equal(ghost.error, "Service 'ghost' cannot start: command not found: /nonexistent/bin/mcp-server. Fix the config, then: muxctl start ghost");
  assert.deepEqual([ghost.lastExit?.reason, ghost.pids], ['spawn-failed', []]);
  const homeless = await control.waitForRow('homeless', 'errored', (row) => row.status === 'errored');
  assert.match(homeless.error ?? '', /cannot start: working directory \/nonexistent\/dir does not exist/);

  // Its clients are told why at once; a lazy one finds out on its first client.
  for (const [name, expected] of [['ghost', /command not found: \/nonexistent\/bin\/mcp-server/], ['lazy-ghost', /command not found: no-such-mcp-server-on-path/]] as const) {
    const raw = await muxd.rawConnect(t, name);
    const refused = errorOf(await raw.initialize());
    assert.equal(refused?.code, ErrorCodes.ServiceUnavailable, name);
    assert.match(refused?.message ?? '', expected);
  }
  assert.equal((await control.row('lazy-ghost')).status, 'errored');

  const c = await muxd.connect(t, 'probe', { name: 'unaffected' });
  assert.equal(await c.callText('echo', { message: 'fine' }), 'probe: fine');
  const ls = await muxd.muxctl(['ls']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /^ghost\s+errored\s/m);
  assert.match(ls.stdout, /^probe\s+online\s/m);
  const history = await control.history('ghost');
  assert.deepEqual(history.map((run) => [run.pid, run.reason, run.error]), [[null, 'spawn-failed', 'command not found: /nonexistent/bin/mcp-server']]);
});

test('socket paths over the OS limit: a reload that would need one changes nothing, and at start that service alone is errored', { timeout: 30_000 }, async (t) => {
  // A home of 50 bytes: its own sockets fit, a service with a 60-byte name does not.
  const longName = 'a-service-with-a-rather-long-name-that-will-not-fit-in-a-path'.slice(0, 60);
  const muxd = await startMuxd(t, { probe: fixtureServer('probe', { lazy: false }) }, { homeLength: 50 });
  const tooLong = muxd.socketPath(longName);
  assert.ok(Buffer.byteLength(tooLong) >= SOCKET_PATH_LIMIT, tooLong);

  muxd.writeConfig({ probe: fixtureServer('probe', { lazy: false }), [longName]: fixtureServer('probe') });
  const reload = await muxd.muxctl(['reload']);
  assert.equal(reload.code, 1, reload.stdout);
  assert.deepEqual(reload.stderrLines(), [`muxctl: socket path is ${Buffer.byteLength(tooLong)} bytes, over this OS's limit of ${SOCKET_PATH_LIMIT - 1}: ${tooLong}. Use a shorter service name or set MUXD_HOME to a shorter directory`]);
  const control = await Control.open(t, muxd);
  assert.deepEqual((await control.list()).services.map((row) => row.name), ['probe'], 'nothing changed');
  const c = await muxd.connect(t, 'probe', { name: 'after-bad-reload' });
  assert.equal(await c.callText('echo', { message: 'still serving' }), 'probe: still serving');

  // The same config from the start: the other service runs, the long one is errored and says why.
  await muxd.stop();
  const again = await startMuxd(t, { probe: fixtureServer('probe', { lazy: false }), [longName]: fixtureServer('probe') }, { homeLength: 50 });
  assert.ok(Buffer.byteLength(again.socketPath(longName)) >= SOCKET_PATH_LIMIT);
  const served = await again.connect(t, 'probe', { name: 'beside-a-bad-socket' });
  assert.equal(await served.callText('echo', { message: 'unaffected' }), 'probe: unaffected');
  const ls = await again.muxctl(['ls', '--json']);
  const row = (JSON.parse(ls.stdout) as { services: Array<{ name: string; status: string; error?: string | null }> }).services.find((s) => s.name === longName);
  assert.equal(row?.status, 'errored');
  assert.match(row?.error ?? '', new RegExp(`^cannot listen on its socket: socket path is ${Buffer.byteLength(again.socketPath(longName))} bytes, over this OS's limit of ${SOCKET_PATH_LIMIT - 1}: .*MUXD_HOME`));
  const start = await again.muxctl(['start', longName]);
  assert.equal(start.code, 1);
  assert.match(start.stderr, new RegExp(`${longName} did not start: cannot listen on its socket: socket path is`));
  assert.deepEqual(again.childPids(longName), [], 'no child for a service nobody can reach');
});

test('a file in the way of a service socket errors that service alone; muxctl start serves it once the file is gone', { timeout: 30_000 }, async (t) => {
  const muxd = await startMuxd(
    t,
    { probe: fixtureServer('probe', { lazy: false }), blocked: fixtureServer('probe', { lazy: false }) },
    {
      prepare: (home) => {
        mkdirSync(join(home, 'run'), { recursive: true, mode: 0o700 });
        writeFileSync(join(home, 'run', 'blocked.sock'), 'not a socket');
      },
    },
  );
  const ok = await muxd.connect(t, 'probe', { name: 'neighbour' });
  assert.equal(await ok.callText('echo', { message: 'fine' }), 'probe: fine');
  const start = await muxd.muxctl(['start', 'blocked']);
  assert.equal(start.code, 1);
  assert.match(start.stderr, /blocked did not start: cannot listen on its socket: .*blocked\.sock exists and is not a socket; remove it by hand/);
  assert.deepEqual(muxd.childPids('blocked'), []);

  unlinkSync(muxd.socketPath('blocked'));
  const retry = await muxd.muxctl(['start', 'blocked']);
  assert.equal(retry.code, 0, retry.stderr);
  const c = await muxd.connect(t, 'blocked', { name: 'after-the-file-went' });
  assert.equal(await c.callText('echo', { message: 'served' }), 'probe: served');
});

test('a database that stops taking writes: muxd keeps serving, reports it, and writes the history it kept once it can again', { timeout: 45_000 }, async (t) => {
  // As root, chmod cannot make the database read-only, and a read-only
  // remount is refused while muxd holds it open for writing; another
  // process holding the write lock makes every write fail the same way.
  const muxd = await startMuxd(t, { probe: fixtureServer('probe', { lazy: false }) });
  const control = await Control.open(t, muxd);
  const c = await muxd.connect(t, 'probe', { name: 'through-the-outage' });
  const [first] = await muxd.waitForChildren('probe', 1);
  const locker = new Database(join(muxd.home, 'muxd.db'));
  t.after(() => locker.close());
  locker.exec('BEGIN EXCLUSIVE');

  const [second] = (await control.restart('probe')).services[0]?.pids ?? [];
  const broken = await waitFor('muxd to report the database', async () => (await control.list()).daemon.databaseError, 15_000, 100);
  assert.match(broken, /muxd\.db: cannot write: database is locked/);
  assert.equal(await c.callText('echo', { message: 'served meanwhile' }), 'probe: served meanwhile');
  const ls = await muxd.muxctl(['ls']);
  assert.match(ls.stderr, /history is not being saved: .*cannot write/);

  locker.exec('COMMIT');
  await control.restart('probe');
  await waitFor('the database to be writable again', async () => (await control.list()).daemon.databaseError === null, 15_000, 100);
  await waitFor('the daemon log to say so', () => muxd.daemonLog().some((entry) => entry.msg === 'database writable again'));
  const [third] = (await control.row('probe')).pids;
  // What could not be written during the outage was kept and written since.
  const runs = await control.history('probe');
  assert.deepEqual(runs.map((run) => [run.pid, run.reason, run.endedAt === null]), [[third, null, true], [second, 'manual', false], [first, 'manual', false]]);
  assert.equal(await c.callText('echo', { message: 'after' }), 'probe: after');
});

test('control requests muxctl would never send get a precise error each, and muxd keeps answering', { timeout: 30_000 }, async (t) => {
  const muxd = await startMuxd(t, { probe: fixtureServer('probe', { lazy: false }) });
  const control = await Control.open(t, muxd);
  const refused = async (method: string, params: Record<string, unknown>) => {
    const error = await control.request(method, params).then(
      () => assert.fail(`${method} ${JSON.stringify(params)} was accepted`),
      (caught: { code: number; message: string }) => caught,
    );
    return [error.code, error.message];
  };
  assert.deepEqual(await refused('describe', { name: 123 }), [ErrorCodes.InvalidParams, "'name' must be a non-empty string"]);
  assert.deepEqual(await refused('history', { name: 'probe', limit: -1 }), [ErrorCodes.InvalidParams, "'limit' must be a positive integer"]);
  assert.deepEqual(await refused('adhoc', { command: 42, args: [], cwd: '/', env: {} }), [ErrorCodes.InvalidParams, "'command' must be a non-empty string"]);
  assert.deepEqual(await refused('adhoc', { command: 'node', args: 'x', cwd: '/', env: {} }), [ErrorCodes.InvalidParams, "'args' must be an array of strings"]);
  assert.deepEqual(await refused('adhoc', { command: 'node', args: [], cwd: 'relative', env: {} }), [ErrorCodes.InvalidParams, "'cwd' must be an absolute path"]);
  const [code, message] = await refused('logs', { name: '../../etc/passwd', lines: 5 });
  assert.equal(code, -32050);
  assert.match(String(message), /^no service '\.\.\/\.\.\/etc\/passwd'/);
  // Names every JavaScript object has find no service (muxd keeps its services in a Map), whatever the method.
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    for (const [method, params] of [['describe', { name }], ['start', { name }], ['stop', { name }], ['restart', { name }], ['logs', { name, lines: 1 }], ['history', { name, limit: 1 }]] as const) {
      const [failure, text] = await refused(method, params);
      assert.equal(failure, -32050, `${method} ${name}`);
      assert.equal(text, `no service '${name}' (configured: probe)`, `${method} ${name}`);
    }
  }
  assert.deepEqual(await refused('reload', { allowEmpty: 'yes' }), [ErrorCodes.InvalidParams, "'allowEmpty' must be true or false"]);
  assert.deepEqual(await refused('no-such-method', {}), [ErrorCodes.MethodNotFound, "unknown control method 'no-such-method'"]);
  assert.equal((await control.row('probe')).status, 'online', 'still answering');
});
