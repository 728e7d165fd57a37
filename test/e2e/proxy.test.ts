// mux-proxy as a host runs it: a plain process with stdio.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PROXY_BIN, fixtureServer, startMuxd, within } from './harness.js';
import type { Muxd, Scope } from './harness.js';

const muxd = await startMuxd({ after }, { probe: fixtureServer('probe') });

interface ProxyRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs mux-proxy with `input` on stdin (then closes it) and collects what it prints. */
function runProxy(scope: Scope, daemon: Muxd, service: string, input: string): Promise<ProxyRun> {
  const child = spawn(process.execPath, [PROXY_BIN, service], {
    env: { PATH: process.env['PATH'] ?? '', ...daemon.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  scope.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  child.stdin.on('error', () => undefined);
  child.stdin.end(input);
  return within(
    new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))),
    15_000,
    `mux-proxy ${service} to exit`,
  );
}

const line = (message: object) => JSON.stringify(message) + '\n';
const initialize = line({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'proxy-test', version: '1.0.0' } },
});
const initialized = line({ jsonrpc: '2.0', method: 'notifications/initialized' });

test('mux-proxy for an unknown service exits non-zero with a one-line message', { timeout: 30_000 }, async (t) => {
  const run = await runProxy(t, muxd, 'no-such-service', initialize);
  assert.notEqual(run.code, 0);
  assert.equal(run.stdout, '', 'nothing on stdout: it belongs to the protocol');
  const lines = run.stderr.split('\n').filter((text) => text !== '');
  assert.equal(lines.length, 1, `one line, got: ${run.stderr}`);
  assert.match(lines[0] as string, /^mux-proxy: .*no-such-service/);
  // It says which muxd it asked, so a host entry pointing at the wrong home is plain to see.
  assert.ok((lines[0] as string).includes(`home ${muxd.home}`), lines[0]);
  assert.ok((lines[0] as string).includes(`config ${muxd.configFile}`), lines[0]);
});

test('mux-proxy refuses a service name every JavaScript object has, as muxd\'s config does (exit 2, one line)', { timeout: 30_000 }, async (t) => {
  for (const name of ['constructor', '__proto__', 'toString', 'prototype']) {
    const run = await runProxy(t, muxd, name, initialize);
    assert.equal(run.code, 2, `${name}: ${run.stderr}`);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, `mux-proxy: invalid service name '${name}'\n`);
  }
});

test('mux-proxy delivers the answers in flight when stdin closes, then exits 0', { timeout: 30_000 }, async (t) => {
  // stdin ends right after the requests: the answers come later.
  const input =
    initialize +
    initialized +
    line({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'sleep', arguments: { tag: 'eof-1', ms: 400 } } }) +
    line({ jsonrpc: '2.0', id: 'two', method: 'tools/call', params: { name: 'echo', arguments: { message: 'last words' } } });
  const run = await runProxy(t, muxd, 'probe', input);
  assert.equal(run.code, 0, `exit code 0, stderr: ${run.stderr}`);
  assert.equal(run.stderr, '');
  const messages = run.stdout
    .split('\n')
    .filter((text) => text !== '')
    .map((text) => JSON.parse(text) as { id?: unknown; result?: { content?: Array<{ text: string }> } });
  const answer = (id: unknown) => messages.find((message) => message.id === id)?.result?.content?.[0]?.text;
  assert.equal(answer(1), 'finished eof-1');
  assert.equal(answer('two'), 'probe: last words');
});
