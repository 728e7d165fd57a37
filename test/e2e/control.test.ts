// muxctl against a real daemon: every command, as a user runs it, with its
// --json output parsed; and the control socket fed bad input by hand.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActionResult, DescribeResult, HealthResult, HistoryResult, ListResult, RunRecord, ServiceRow } from '@muxd/protocol';
import { RawClient, ROOT, isAlive, memoryServer, spawnMuxctl, startMuxd, waitFor } from './harness.js';

const SECRET = 'swordfish-4d1e7c0b';
const ARG_SECRET = 'argsecret-9a8b7c6d';

const muxd = await startMuxd({ after }, {
  probe: {
    command: process.execPath,
    args: [join(ROOT, 'test/fixtures/probe.mjs'), '--api-key', ARG_SECRET],
    env: { PROBE_SECRET: SECRET },
    lazy: false,
  },
  memory: memoryServer(undefined, { lazy: false }),
});

async function list(): Promise<ListResult> {
  const run = await muxd.muxctl(['ls', '--json']);
  assert.equal(run.code, 0, run.stderr);
  return run.json<ListResult>();
}

async function row(name: string): Promise<ServiceRow> {
  const found = (await list()).services.find((service) => service.name === name);
  assert.ok(found, `muxctl ls lists '${name}'`);
  return found;
}

async function history(name: string, ...args: string[]): Promise<RunRecord[]> {
  const run = await muxd.muxctl(['history', name, '--json', ...args]);
  assert.equal(run.code, 0, run.stderr);
  const result = run.json<HistoryResult>();
  assert.equal(result.databaseError, null);
  return result.runs;
}

/** Polls `muxctl history` until the run of `pid` has ended; returns it. */
function endedRun(name: string, pid: number, timeoutMs = 15_000): Promise<RunRecord> {
  return waitFor(`muxctl history ${name} to show the end of pid ${pid}`, async () => {
    return (await history(name)).find((run) => run.pid === pid && run.endedAt !== null);
  }, timeoutMs, 100);
}

describe('muxctl ls and describe', () => {
  test('ls --json: one row per service with pids, uptime, restarts, clients, in-flight requests, memory and CPU', { timeout: 30_000 }, async (t) => {
    const c = await muxd.connect(t, 'probe', { name: 'ls-client' });
    const [pid] = await muxd.waitForChildren('probe', 1);
    const aborter = new AbortController();
    const sleeping = c.callText('sleep', { tag: 'ls-inflight', ms: 60_000 }, { signal: aborter.signal }).catch((error: Error) => error);
    await muxd.waitForServiceLog('probe', 'the sleep call to start', (entry) => entry.msg === 'probe: started ls-inflight');

    const result = await list();
    assert.deepEqual(result.services.map((service) => service.name).sort(), ['memory', 'probe']);
    const probe = result.services.find((service) => service.name === 'probe') as ServiceRow;
    for (const key of ['name', 'status', 'pids', 'uptimeMs', 'restarts', 'clients', 'inflight', 'queued', 'memoryBytes', 'cpuPercent']) {
      assert.ok(key in probe, `row has '${key}'`);
    }
    assert.equal(probe.status, 'online');
    assert.deepEqual(probe.pids, [pid]);
    assert.equal(typeof probe.uptimeMs, 'number');
    assert.ok((probe.uptimeMs as number) >= 0);
    assert.equal(typeof probe.restarts, 'number');
    assert.ok(probe.clients >= 1, `clients: ${probe.clients}`);
    assert.equal(probe.inflight, 1, 'the sleeping call is in flight');
    assert.equal(probe.queued, 0);
    // A node process is tens of MiB resident.
    assert.ok((probe.memoryBytes as number) > 10 * 1024 * 1024, `memoryBytes: ${probe.memoryBytes}`);
    assert.equal(typeof probe.cpuPercent, 'number');
    assert.ok((probe.cpuPercent as number) >= 0);
    assert.equal(result.daemon.pid, muxd.pid);
    assert.equal(result.daemon.configFile, muxd.configFile);
    assert.equal(result.daemon.databaseError, null);

    aborter.abort();
    assert.ok((await sleeping) instanceof Error, 'the aborted call rejects');
    await waitFor('the in-flight count to drop', async () => (await row('probe')).inflight === 0, 10_000, 100);

    const text = await muxd.muxctl(['ls']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^NAME\s+STATUS\s+PID\s+UPTIME\s+RESTARTS\s+CLIENTS\s+INFLIGHT\s+QUEUED\s+MEM\s+CPU$/m);
    assert.match(text.stdout, new RegExp(`^probe\\s+online\\s+${pid}\\s`, 'm'));
  });

  test('describe shows the resolved config with secrets hidden, in --json and in text', { timeout: 30_000 }, async () => {
    const json = await muxd.muxctl(['describe', 'probe', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const result = json.json<DescribeResult>();
    assert.equal(result.row.name, 'probe');
    assert.equal(result.socket, muxd.socketPath('probe'));
    assert.equal(result.logFile, muxd.serviceLogPath('probe'));
    assert.equal((result.config['env'] as Record<string, string>)['PROBE_SECRET'], '[redacted]');
    assert.ok(!(result.config['args'] as string[]).includes(ARG_SECRET), 'a --api-key value is hidden');
    assert.ok(result.currentRun, 'the running child is in the history');
    assert.equal(result.currentRun.pid, result.row.pids[0]);

    const text = await muxd.muxctl(['describe', 'probe']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^env\s+.*PROBE_SECRET/m, 'the variable is named');
    for (const run of [json, text]) {
      assert.ok(!run.stdout.includes(SECRET) && !run.stderr.includes(SECRET), 'the env value never appears');
      assert.ok(!run.stdout.includes(ARG_SECRET) && !run.stderr.includes(ARG_SECRET), 'the secret argument never appears');
    }
    // Nor in muxd's own logs.
    for (const args of [['logs', '-n', '10000'], ['logs', 'probe', '-n', '10000']]) {
      const logs = await muxd.muxctl(args);
      assert.equal(logs.code, 0, logs.stderr);
      assert.ok(logs.stdout.length > 0);
      assert.ok(!logs.stdout.includes(SECRET), `muxctl ${args.join(' ')} does not show the secret`);
    }
  });
});

describe('muxctl start, stop, restart', () => {
  test('stop: the service is stopped and a connected client gets a clear error; start revives it for the same client', { timeout: 30_000 }, async (t) => {
    const c = await muxd.connect(t, 'probe', { name: 'stop-client' });
    assert.equal(await c.callText('echo', { message: 'before' }), 'probe: before');
    const [pid] = await muxd.waitForChildren('probe', 1);

    const stop = await muxd.muxctl(['stop', 'probe', '--json']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(stop.json<ActionResult>().services, [{ name: 'probe', status: 'stopped', pids: [], error: null }]);
    assert.equal(isAlive(pid as number), false, 'the child is gone when stop returns');
    assert.deepEqual(muxd.childPids('probe'), []);
    assert.equal((await row('probe')).status, 'stopped');
    await assert.rejects(c.callText('echo', { message: 'while stopped' }), (error: Error) => {
      assert.match(error.message, /Service 'probe' is stopped; start it with: muxctl start probe/);
      return true;
    });

    const start = await muxd.muxctl(['start', 'probe', '--json']);
    assert.equal(start.code, 0, start.stderr);
    const [started] = start.json<ActionResult>().services;
    assert.equal(started?.status, 'online');
    assert.equal(started?.pids.length, 1);
    assert.notEqual(started?.pids[0], pid);
    assert.deepEqual(muxd.childPids('probe'), started?.pids);
    assert.equal(await c.callText('echo', { message: 'after' }), 'probe: after', 'the same client carries on');
  });

  test('restart memory with a client connected: history says manual, and the client carries on with its data', { timeout: 30_000 }, async (t) => {
    const c = await muxd.connect(t, 'memory', { name: 'memory-client' });
    const entity = `restart-survivor-${Date.now()}`;
    await c.callText('create_entities', { entities: [{ name: entity, entityType: 'test', observations: ['kept across muxctl restart'] }] });
    const [before] = await muxd.waitForChildren('memory', 1);

    const restart = await muxd.muxctl(['restart', 'memory', '--json']);
    assert.equal(restart.code, 0, restart.stderr);
    const [restarted] = restart.json<ActionResult>().services;
    assert.equal(restarted?.status, 'online');
    const after = restarted?.pids[0];
    assert.ok(after !== undefined && after !== before, `a new child: ${before} -> ${after}`);
    assert.equal(isAlive(before as number), false);

    const found = await c.callText('open_nodes', { names: [entity] });
    assert.match(found, new RegExp(entity), 'the next call works and sees what was written before');
    assert.match(found, /kept across muxctl restart/);
    assert.match(readFileSync(join(muxd.home, 'memory.jsonl'), 'utf8'), new RegExp(entity), 'kept in MEMORY_FILE_PATH');

    const runs = await history('memory');
    assert.equal(runs[0]?.pid, after, 'newest first: the running child');
    assert.equal(runs[0]?.endedAt, null);
    const ended = runs.find((run) => run.pid === before);
    assert.equal(ended?.reason, 'manual');
    assert.notEqual(ended?.endedAt, null);
    assert.equal(c.errors.length, 0, `the client saw no errors: ${c.errors.map((error) => error.message).join('; ')}`);
  });

  test('history: newest first, with signal and reason; kill -9 of a child is a crash and it comes back', { timeout: 45_000 }, async () => {
    const restart = await muxd.muxctl(['restart', 'probe', '--json']);
    assert.equal(restart.code, 0, restart.stderr);
    const [manualPid] = restart.json<ActionResult>().services[0]?.pids ?? [];
    assert.ok(manualPid);
    const restartsBefore = (await row('probe')).restarts;
    process.kill(manualPid, 'SIGKILL');
    const crashed = await endedRun('probe', manualPid);
    assert.equal(crashed.signal, 'SIGKILL');
    assert.equal(crashed.reason, 'crash');
    assert.equal(crashed.code, null);

    const [revived] = await muxd.waitForChildren('probe', 1);
    assert.notEqual(revived, manualPid);
    const probe = await waitFor('probe to be online again', async () => {
      const current = await row('probe');
      return current.status === 'online' && current.pids[0] === revived ? current : undefined;
    }, 10_000, 100);
    assert.equal(probe.restarts, restartsBefore + 1);
    assert.equal(probe.lastExit?.signal, 'SIGKILL');
    assert.equal(probe.lastExit?.reason, 'crash');

    const runs = await history('probe');
    assert.equal(runs[0]?.pid, revived);
    assert.equal(runs[0]?.endedAt, null);
    assert.equal(runs[1]?.pid, manualPid);
    assert.ok(runs.some((run) => run.reason === 'manual'), 'the restart before it');
    for (let index = 1; index < runs.length; index++) {
      assert.ok((runs[index - 1] as RunRecord).startedAt >= (runs[index] as RunRecord).startedAt, 'newest first');
    }
    assert.equal((await history('probe', '-n', '2')).length, 2);

    const all = await muxd.muxctl(['history', '--json']);
    assert.equal(all.code, 0);
    const services = new Set(all.json<HistoryResult>().runs.map((run) => run.service));
    assert.deepEqual([...services].sort(), ['memory', 'probe']);

    const text = await muxd.muxctl(['history', 'probe']);
    assert.match(text.stdout, new RegExp(`^probe\\s+${manualPid}\\s.*SIGKILL\\s+crash$`, 'm'));
  });
});

describe('muxctl logs', () => {
  test('logs -n N prints the last N lines of a service log; without a name, the daemon log', { timeout: 30_000 }, async () => {
    const service = await muxd.muxctl(['logs', 'probe', '-n', '3', '--json']);
    assert.equal(service.code, 0, service.stderr);
    const lines = service.stdout.split('\n').filter((line) => line !== '');
    assert.equal(lines.length, 3);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `an NDJSON log line: ${line}`);

    const daemon = await muxd.muxctl(['logs', '-n', '10000', '--json']);
    assert.equal(daemon.code, 0, daemon.stderr);
    const messages = daemon.stdout.split('\n').filter((line) => line !== '').map((line) => (JSON.parse(line) as { msg: string }).msg);
    assert.ok(messages.includes('muxd ready'), 'the daemon log');

    const text = await muxd.muxctl(['logs', '-n', '2']);
    assert.equal(text.code, 0);
    const textLines = text.stdout.split('\n').filter((line) => line !== '');
    assert.equal(textLines.length, 2);
    for (const line of textLines) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARN|ERROR|DEBUG) /);
  });

  test('logs -f prints lines written after it started, and stops on SIGINT', { timeout: 30_000 }, async (t) => {
    const c = await muxd.connect(t, 'probe', { name: 'follow-client' });
    const follow = spawnMuxctl(t, muxd.home, ['logs', 'probe', '-f', '-n', '1']);
    // The last line is printed before following starts: every tagged line after it is new.
    await waitFor('logs -f to print the last line', () => follow.stdout().length > 0);
    let tag = 0;
    await waitFor('logs -f to print a new line', async () => {
      await c.callText('sleep', { tag: `follow-${++tag}`, ms: 1 });
      return /stderr \| probe: started follow-\d+/.test(follow.stdout());
    }, 10_000, 100);
    follow.process.kill('SIGINT');
    const exit = await waitFor('logs -f to exit', () => follow.process.exitCode !== null || follow.process.signalCode !== null, 10_000);
    assert.ok(exit);
    assert.equal(follow.process.exitCode, 0);
  });
});

describe('muxctl health and config', () => {
  test('health: ok with a latency; an unknown service exits non-zero with one line', { timeout: 30_000 }, async () => {
    const ok = await muxd.muxctl(['health', 'probe', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const result = ok.json<HealthResult>();
    assert.equal(result.ok, true);
    assert.equal(result.error, null);
    assert.equal(typeof result.latencyMs, 'number');
    assert.ok((result.latencyMs as number) >= 0);

    const text = await muxd.muxctl(['health', 'memory']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^memory: ok, ping [\d.]+ ms$/m);

    const unknown = await muxd.muxctl(['health', 'nope']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.deepEqual(unknown.stderrLines(), ["muxctl: no service 'nope' (configured: probe, memory)"]);
  });

  test('config check: the daemon\'s file is valid; a broken file exits 2 naming the file and the key path', { timeout: 30_000 }, async () => {
    const valid = await muxd.muxctl(['config', 'check', '--json']);
    assert.equal(valid.code, 0, valid.stderr);
    assert.deepEqual(valid.json(), { file: muxd.configFile, valid: true, services: ['probe', 'memory'], notes: [] });

    const badType = join(muxd.home, 'bad-type.json');
    writeFileSync(badType, JSON.stringify({ services: { broken: { command: 'x', restart: { maxRestarts: 'five' } } } }));
    const badSyntax = join(muxd.home, 'bad-syntax.yaml');
    writeFileSync(badSyntax, 'services:\n  broken:\n    command: [unclosed\n');
    const type = await muxd.muxctl(['config', 'check', badType]);
    assert.equal(type.code, 2);
    assert.equal(type.stderrLines().length, 1, type.stderr);
    assert.match(type.stderr, new RegExp(`^muxctl: ${badType}: services\\.broken\\.restart\\.maxRestarts: .*number`));
    const syntax = await muxd.muxctl(['config', 'check', badSyntax]);
    assert.equal(syntax.code, 2);
    assert.equal(syntax.stderrLines().length, 1, syntax.stderr);
    assert.match(syntax.stderr, new RegExp(`^muxctl: ${badSyntax}: cannot parse`));

    const path = await muxd.muxctl(['config', 'path', '--json']);
    assert.equal(path.code, 0, path.stderr);
    assert.deepEqual(path.json(), { file: muxd.configFile, from: 'daemon' });
    const plain = await muxd.muxctl(['config', 'path']);
    assert.equal(plain.stdout, `${muxd.configFile}\n`);
  });
});

describe('bad control input', () => {
  test('garbage, requests before hello, unknown methods and services get JSON-RPC errors; the daemon keeps serving', { timeout: 30_000 }, async (t) => {
    const raw = await RawClient.connect(t, muxd.controlSocket);
    const answer = (id: number) => raw.waitFor(`the answer to ${id}`, (message) => message['id'] === id);
    const errorOf = (message: Record<string, unknown>) => message['error'] as { code: number; message: string; data?: { code?: string } };

    raw.send('this is not JSON {');
    const parseError = await raw.waitFor('a parse error', (message) => message['id'] === null);
    assert.equal(errorOf(parseError).code, -32700);

    raw.send({ jsonrpc: '2.0', id: 1, method: 'list' });
    const refused = errorOf(await answer(1));
    assert.equal(refused.code, -32600);
    assert.match(refused.message, /send 'hello' first/);

    raw.send({ jsonrpc: '2.0', id: 2, method: 'hello', params: { client: 'raw', version: '0', protocol: 1 } });
    assert.equal(((await answer(2))['result'] as { protocol: number }).protocol, 1);

    raw.send({ jsonrpc: '2.0', id: 3, method: 'describe', params: { name: 'nope' } });
    const unknown = errorOf(await answer(3));
    assert.equal(unknown.code, -32050);
    assert.equal(unknown.data?.code, 'MUX_SERVICE_UNKNOWN');
    assert.equal(unknown.message, "no service 'nope' (configured: probe, memory)");

    raw.send({ jsonrpc: '2.0', id: 4, method: 'frobnicate' });
    assert.equal(errorOf(await answer(4)).code, -32601);
    raw.send({ jsonrpc: '2.0', id: 5, method: 'restart', params: { name: 42 } });
    assert.equal(errorOf(await answer(5)).code, -32602);
    raw.send({ jsonrpc: '2.0', id: 6, method: 'history', params: { limit: -1 } });
    assert.equal(errorOf(await answer(6)).code, -32602);
    // Over the control socket's 1 MiB line limit.
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'list', params: { pad: 'x'.repeat(2 * 1024 * 1024) } }));
    const tooLarge = await raw.waitFor('the oversized line to be refused', (message) => errorOf(message)?.code === -32032);
    assert.ok(tooLarge);

    raw.send({ jsonrpc: '2.0', id: 8, method: 'list' });
    const listed = (await answer(8))['result'] as ListResult;
    assert.deepEqual(listed.services.map((service) => service.name), ['probe', 'memory'], 'the same connection still works');

    assert.equal((await list()).daemon.pid, muxd.pid, 'muxctl still works');
    const c = await muxd.connect(t, 'probe', { name: 'after-garbage' });
    assert.equal(await c.callText('echo', { message: 'still serving' }), 'probe: still serving');
  });

  test('muxctl commands naming an unknown service fail with one clear line', { timeout: 30_000 }, async () => {
    for (const args of [['start', 'nope'], ['describe', 'nope'], ['logs', 'nope'], ['history', 'nope']]) {
      const run = await muxd.muxctl(args);
      assert.equal(run.code, 1, `muxctl ${args.join(' ')}`);
      assert.deepEqual(run.stderrLines(), ["muxctl: no service 'nope' (configured: probe, memory)"], `muxctl ${args.join(' ')}`);
    }
  });
});
