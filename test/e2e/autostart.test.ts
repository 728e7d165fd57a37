// No muxd running: mux-proxy and muxctl start one in the background, and
// however many of them race, exactly one daemon serves the home.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DaemonStatus, ListResult } from '@muxd/protocol';
import { PROXY_BIN, createHome, fixtureServer, isAlive, waitFor, within } from './harness.js';
import type { Scope } from './harness.js';

interface ProxyProcess {
  pid: number;
  /** Parsed stdout lines. */
  messages: Array<Record<string, unknown>>;
  stderr(): string;
  /** Closes stdin, ending the session: mux-proxy then exits 0. */
  end(): void;
  exited: Promise<number | null>;
}

/** A mux-proxy for `service`, as a host starts it, that sends initialize at once. */
function startProxy(scope: Scope, home: string, service: string, id: number): ProxyProcess {
  const child = spawn(process.execPath, [PROXY_BIN, service], {
    cwd: home,
    env: { PATH: process.env['PATH'] ?? '', MUXD_HOME: home },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  scope.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const messages: Array<Record<string, unknown>> = [];
  let buffer = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    buffer += text;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      messages.push(JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>);
      buffer = buffer.slice(newline + 1);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  child.stdin.on('error', () => undefined);
  child.stdin.write(
    JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: `racer-${id}`, version: '1.0.0' } },
    }) + '\n',
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid as number,
    messages,
    stderr: () => stderr,
    end: () => child.stdin.end(),
    exited,
  };
}

test('10 mux-proxy processes started at once with no daemon: one daemon, and every one is initialized', { timeout: 60_000 }, async (t) => {
  const home = createHome(t, { probe: fixtureServer('probe') });
  assert.deepEqual(home.daemonPids(), []);

  const proxies = Array.from({ length: 10 }, (_, index) => startProxy(t, home.home, 'probe', index + 1));
  await waitFor('every mux-proxy to get its initialize answer', () => proxies.every((proxy) => proxy.messages.length > 0), 30_000).catch((error: Error) => {
    const silent = proxies.filter((proxy) => proxy.messages.length === 0).map((proxy) => `pid ${proxy.pid}: ${proxy.stderr().trim() || '(no stderr)'}`);
    throw new Error(`${error.message}\n${silent.join('\n')}`);
  });
  proxies.forEach((proxy, index) => {
    const [answer] = proxy.messages;
    assert.equal(answer?.['id'], index + 1);
    const result = answer?.['result'] as { serverInfo?: { name?: string } } | undefined;
    assert.equal(result?.serverInfo?.name, 'probe', `proxy ${index + 1}: ${JSON.stringify(answer)} ${proxy.stderr()}`);
  });

  const daemons = home.daemonPids();
  assert.equal(daemons.length, 1, `one muxd for the home, found pids ${daemons.join(', ')}`);
  const status = await home.muxctl(['daemon', 'status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(status.json<DaemonStatus>().pid, daemons[0]);
  assert.equal(home.childPids('probe').length, 1, 'one shared child for all ten');

  for (const proxy of proxies) proxy.end();
  const codes = await within(Promise.all(proxies.map((proxy) => proxy.exited)), 15_000, 'every mux-proxy to exit');
  assert.deepEqual(codes, Array(10).fill(0));
  assert.deepEqual(home.daemonPids(), daemons, 'the daemon outlives its clients');
});

test('muxctl daemon status, start and stop; any other command starts the daemon when needed', { timeout: 60_000 }, async (t) => {
  const home = createHome(t, { probe: fixtureServer('probe') });
  const controlSocket = join(home.home, 'run', 'muxd.ctl');

  const down = await home.muxctl(['daemon', 'status', '--json']);
  assert.equal(down.code, 3);
  assert.deepEqual(down.json(), { running: false, lastCrash: null });
  assert.deepEqual(home.daemonPids(), [], 'status does not start it');

  const start = await home.muxctl(['daemon', 'start', '--json']);
  assert.equal(start.code, 0, start.stderr);
  const started = start.json<DaemonStatus & { outcome: string }>();
  assert.equal(started.outcome, 'started');
  assert.deepEqual(home.daemonPids(), [started.pid]);
  assert.equal(started.configFile, home.configFile, 'it found muxd.config.json in its working directory');

  const again = await home.muxctl(['daemon', 'start', '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.json<{ outcome: string; pid: number }>().outcome, 'running');
  assert.equal(again.json<{ pid: number }>().pid, started.pid);

  const up = await home.muxctl(['daemon', 'status', '--json']);
  assert.equal(up.code, 0, up.stderr);
  const status = up.json<DaemonStatus & { running: boolean }>();
  assert.equal(status.running, true);
  assert.equal(status.pid, started.pid);
  assert.equal(status.home.runDir, join(home.home, 'run'));
  assert.equal(status.databaseError, null);
  const text = await home.muxctl(['daemon', 'status']);
  assert.match(text.stdout, new RegExp(`^muxd \\S+ running, pid ${started.pid}, up `));

  const stop = await home.muxctl(['daemon', 'stop', '--json']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.deepEqual(stop.json(), { stopped: true, pid: started.pid });
  assert.equal(isAlive(started.pid), false);
  assert.equal(existsSync(controlSocket), false, 'the control socket is removed');
  assert.equal(existsSync(join(home.home, 'run', 'probe.sock')), false, 'the service sockets are removed');
  const stopAgain = await home.muxctl(['daemon', 'stop', '--json']);
  assert.equal(stopAgain.code, 0);
  assert.deepEqual(stopAgain.json(), { stopped: false, running: false });
  assert.equal((await home.muxctl(['daemon', 'status'])).code, 3);

  // Any other command starts it, saying so on stderr, with stdout left to the JSON.
  const ls = await home.muxctl(['ls', '--json']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stderr, /starting muxd/);
  const listed = ls.json<ListResult>();
  assert.deepEqual(listed.services.map((service) => service.name), ['probe']);
  assert.deepEqual(home.daemonPids(), [listed.daemon.pid]);
});
