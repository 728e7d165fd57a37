// Hostile input: messages and children built to break a shared daemon. No
// single message may take muxd down, wedge a service or grow its memory
// without bound; the sender gets a precise error, everyone else nothing.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { everythingServer, fixtureServer, startMuxd, waitFor, within } from '../e2e/harness.js';
import type { RawClient, Scope } from '../e2e/harness.js';
import { Control, errorOf, rssBytes } from './helpers.js';

const NESTED_TOO_DEEP = -32040;
const CHILD_BUFFER_FULL = -32039;
const UPSTREAM_EXITED = -32030;
const REQUEST_TIMEOUT = -32001;
const MiB = 1024 * 1024;

const START_FLAG = 'refuse-start';

const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

const muxd = await startMuxd(
  { after },
  {
    lines: fixtureServer('lines', {
      requestTimeout: '3s',
      maxRequestBytes: '2MiB',
      maxChildBuffer: '4MiB',
      // Only the stdin watch uses the timeout here: no pings during the test.
      healthCheck: { interval: '1h', timeout: '1s' },
    }),
    // Never answers anything, initialize included.
    silent: {
      command: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1e9)'],
      requestTimeout: '1s',
      restart: { initialDelay: '100ms', maxDelay: '200ms', maxRestarts: 2, window: '1m' },
    },
    everything: everythingServer(),
    // Exits at once, saying why on stderr, while its flag file exists; a long backoff between tries.
    startfail: fixtureServer('crashy', {
      env: { CRASHY_EXIT_WHILE: `\${MUXD_HOME}/${START_FLAG}` },
      restart: { initialDelay: '20s', maxDelay: '20s', maxRestarts: 5, window: '5m' },
    }),
  },
  { http: { listen: '127.0.0.1:0' }, prepare: (home) => writeFileSync(join(home, START_FLAG), '') },
);

/** A bystander on another service: it must never notice anything. */
async function bystanderStillServed(scope: Scope): Promise<void> {
  const client = await muxd.connect(scope, 'everything', { name: 'bystander' });
  assert.equal(await client.callText('echo', { message: 'still here' }), 'Echo: still here');
  assert.deepEqual(client.errors.map(String), []);
}

async function initialized(scope: Scope, service: string): Promise<RawClient> {
  const raw = await muxd.rawConnect(scope, service);
  await raw.initialize();
  return raw;
}

function call(raw: RawClient, id: number | string, name: string, args: Record<string, unknown> = {}): void {
  raw.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
}

const answerTo = (raw: RawClient, id: unknown, timeoutMs?: number) => raw.waitFor(`the answer to ${String(id)}`, (message) => message['id'] === id, timeoutMs);

describe('deep nesting', () => {
  test('a client request nested 5,000 deep gets -32040 under its id; a deep notification is dropped; muxd and everyone else carry on', { timeout: 30_000 }, async (t) => {
    const raw = await initialized(t, 'lines');
    raw.send(`{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"echo","arguments":{"message":${nested(5000)}}}}`);
    assert.equal(errorOf(await answerTo(raw, 41))?.code, NESTED_TOO_DEEP);
    raw.send(`{"jsonrpc":"2.0","method":"notifications/roots/list_changed","params":{"x":${nested(5000)}}}`);
    // A batch: each request in it gets the error, in one array.
    raw.send(`[{"jsonrpc":"2.0","id":42,"method":"ping","params":{"x":${nested(5000)}}},{"jsonrpc":"2.0","method":"notifications/x"}]`);
    const batch = (await raw.waitFor('the batch answer', (message) => Array.isArray(message))) as unknown as Array<Record<string, unknown>>;
    assert.deepEqual(batch.map((member) => [member['id'], errorOf(member)?.code]), [[42, NESTED_TOO_DEEP]]);
    call(raw, 43, 'echo', { message: 'after' });
    assert.deepEqual((await answerTo(raw, 43))['result'], { content: [{ type: 'text', text: 'lines: after' }] });
    assert.equal(raw.messages.length, 4, `one answer each, nothing for the notification: ${raw.lines.map((line) => line.slice(0, 80)).join('\n')}`);
    assert.ok(muxd.running);
    await bystanderStillServed(t);
  });

  test('a server answer, notification or request nested 5,000 deep fails only what it belongs to', { timeout: 30_000 }, async (t) => {
    const raw = await initialized(t, 'lines');
    const pid = (await muxd.waitForChildren('lines', 1))[0];
    call(raw, 1, 'deep', { as: 'answer' });
    const answer = errorOf(await answerTo(raw, 1));
    assert.equal(answer?.code, NESTED_TOO_DEEP, 'the call it answered fails at once');
    call(raw, 2, 'deep', { as: 'notification' });
    call(raw, 3, 'deep', { as: 'request' });
    assert.deepEqual((await answerTo(raw, 3))['result'], { content: [{ type: 'text', text: 'lines: deep sent' }] });
    // The server's own request is answered with the error, under its id.
    await muxd.waitForServiceLog('lines', 'the server getting -32040 back', (entry) => String(entry['line'] ?? entry.msg).includes(`answer to deep-request: {"code":${NESTED_TOO_DEEP}`));
    assert.equal(raw.messages.filter((message) => message['method'] === 'notifications/message').length, 0, 'the deep notification reached no client');
    assert.deepEqual(muxd.childPids('lines'), [pid], 'the child was not restarted');
    assert.ok(muxd.running);
    await bystanderStillServed(t);
  });

  test('over HTTP a deep request is refused at once with -32040 under its id, not left to time out', { timeout: 30_000 }, async (t) => {
    const base = String(muxd.daemonLog().find((entry) => entry.msg === 'HTTP front listening')?.['url']);
    const token = readFileSync(join(muxd.home, 'http-token'), 'utf8').trim();
    const body = `{"jsonrpc":"2.0","id":5,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"},"x":${nested(5000)}}}`;
    const reply = await within(
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const url = new URL(`${base}/mcp/lines`);
        const req = request(url, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
        }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      }),
      5000,
      'the HTTP answer',
    );
    assert.equal(reply.status, 400);
    const message = JSON.parse(reply.body) as Record<string, unknown>;
    assert.deepEqual([message['id'], errorOf(message)?.code], [5, NESTED_TOO_DEEP]);
    assert.ok(muxd.running);
    await bystanderStillServed(t);
  });
});

test('one client\'s initialize cannot poison the handshake muxd replays after a restart', { timeout: 60_000 }, async (t) => {
  const control = await Control.open(t, muxd);
  await control.stop('lines');
  await control.start('lines');
  // Deeper than the limit: refused alone, and never becomes the replayed handshake.
  const poisoner = await muxd.rawConnect(t, 'lines');
  poisoner.send(`{"jsonrpc":"2.0","id":"p","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"p","version":"1"},"poison":${nested(5000)}}}`);
  assert.equal(errorOf(await answerTo(poisoner, 'p'))?.code, NESTED_TOO_DEEP);
  // Within the limit, but with fields of its own: only the checked ones go upstream.
  const first = await muxd.rawConnect(t, 'lines');
  first.send({
    jsonrpc: '2.0',
    id: 'i',
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'first', version: '1', extra: JSON.parse(nested(100)) }, poison: JSON.parse(nested(100)) },
  });
  assert.ok((await answerTo(first, 'i'))['result']);
  assert.equal((await control.restart('lines')).services[0]?.status, 'online');
  call(first, 1, 'echo', { message: 'after restart' });
  assert.deepEqual((await answerTo(first, 1))['result'], { content: [{ type: 'text', text: 'lines: after restart' }] });
  const handshakes = muxd.serviceLog('lines').filter((entry) => String(entry['line'] ?? entry.msg).startsWith('lines: initialize with'));
  assert.ok(handshakes.length >= 2, 'the handshake was replayed');
  for (const entry of handshakes) assert.equal(String(entry['line'] ?? entry.msg), 'lines: initialize with capabilities,clientInfo,protocolVersion');
  assert.equal((await control.stop('lines')).services[0]?.status, 'stopped');
  assert.equal((await control.start('lines')).services[0]?.status, 'online');
});

test('a child that never completes its handshake backs off and ends errored with the reason; stop and start work from there', { timeout: 60_000 }, async (t) => {
  const control = await Control.open(t, muxd);
  const raw = await muxd.rawConnect(t, 'silent');
  raw.send({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  assert.equal(errorOf(await answerTo(raw, 'init'))?.code, -32037);
  const row = await control.waitForRow('silent', 'errored', (candidate) => candidate.status === 'errored', 30_000);
  assert.match(String(row.error), /handshake/);
  const runs = await control.history('silent');
  assert.equal(runs.length, 3, 'the first child and maxRestarts (2) more, then no more');
  assert.ok(runs.every((run) => run.reason === 'handshake'), JSON.stringify(runs.map((run) => run.reason)));
  // Nothing runs any more; a stop and a start are obeyed.
  assert.deepEqual(muxd.childPids('silent'), []);
  assert.equal((await control.stop('silent')).services[0]?.status, 'stopped');
  assert.notEqual((await control.start('silent')).services[0]?.status, 'errored', 'start clears the errored state');
  assert.equal((await control.stop('silent')).services[0]?.status, 'stopped', 'a stop while it is starting is obeyed');
  assert.deepEqual(muxd.childPids('silent'), []);
});

test('a child that stops reading its stdin: requests past maxChildBuffer fail at once, memory stays bounded, the child is restarted as hung', { timeout: 60_000 }, async (t) => {
  const control = await Control.open(t, muxd);
  await control.start('lines');
  const raw = await initialized(t, 'lines');
  call(raw, 'deafen', 'deafen');
  await answerTo(raw, 'deafen');
  const [pid] = await muxd.waitForChildren('lines', 1);
  const before = rssBytes(muxd.pid);
  const count = 20;
  const payload = 'x'.repeat(1.5 * MiB);
  for (let id = 1; id <= count; id++) call(raw, id, 'echo', { message: payload });
  // Every request gets exactly one answer: refused at once, or failed when the deaf child is replaced.
  await waitFor('an answer to every request', () => (raw.messages.filter((message) => typeof message['id'] === 'number').length >= count ? true : undefined), 30_000);
  const codes = raw.messages.filter((message) => typeof message['id'] === 'number').map((message) => errorOf(message)?.code);
  const ids = raw.messages.filter((message) => typeof message['id'] === 'number').map((message) => message['id']);
  assert.equal(new Set(ids).size, count, 'no request answered twice');
  // Refused while the deaf child's 4 MiB were full; failed when it was replaced (or, on a loaded machine, timed
  // out first); served by its replacement after.
  assert.ok(codes.includes(CHILD_BUFFER_FULL), `some are refused at once: ${JSON.stringify(codes)}`);
  assert.ok(codes.every((code) => code === CHILD_BUFFER_FULL || code === UPSTREAM_EXITED || code === REQUEST_TIMEOUT || code === undefined), JSON.stringify(codes));
  assert.ok(rssBytes(muxd.pid) - before < 64 * MiB, `muxd grew by ${((rssBytes(muxd.pid) - before) / MiB).toFixed(1)} MiB for ${(count * 1.5).toFixed(0)} MiB sent`);
  const run = await control.endedRun('lines', pid as number);
  assert.equal(run.reason, 'hung');
  // A new child serves the same connection.
  call(raw, 'next', 'echo', { message: 'served again' });
  assert.deepEqual((await answerTo(raw, 'next', 15_000))['result'], { content: [{ type: 'text', text: 'lines: served again' }] });
  await bystanderStillServed(t);
});

describe('ids', () => {
  test('a client\'s id comes back byte for byte, whatever its size or form', { timeout: 30_000 }, async (t) => {
    const raw = await initialized(t, 'lines');
    const ids = ['9007199254740993', '-9007199254740993', '123456789012345678901234567890', '1.0', '1e3', '2.50'];
    for (const id of ids) raw.send(`{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"message":"m"},"_meta":{"progressToken":${id}}}}`);
    await waitFor('an answer to each id', () => (raw.lines.length >= ids.length + 1 ? true : undefined), 10_000);
    for (const id of ids) {
      const answers = raw.lines.filter((line) => line.startsWith(`{"jsonrpc":"2.0","id":${id},`));
      assert.equal(answers.length, 1, `exactly one answer to ${id}: ${raw.lines.join('\n')}`);
    }
  });

  test('a server answering under a wrong id (off by one) reaches no other client\'s request', { timeout: 30_000 }, async (t) => {
    const a = await initialized(t, 'lines');
    const b = await initialized(t, 'lines');
    call(a, 1, 'offbyone');
    call(b, 1, 'echo', { message: 'mine' });
    assert.deepEqual((await answerTo(b, 1))['result'], { content: [{ type: 'text', text: 'lines: mine' }] });
    assert.equal(errorOf(await answerTo(a, 1, 10_000))?.code, REQUEST_TIMEOUT, 'the misaddressed answer is dropped; the request times out');
    assert.equal(b.messages.filter((message) => message['id'] === 1).length, 1);
  });
});

test('a server that exits before answering initialize: its client learns at once, with the exit code and the end of its stderr, not after the backoff', { timeout: 60_000 }, async (t) => {
  const control = await Control.open(t, muxd);
  for (const which of ['the first client', 'a client arriving during the backoff']) {
    const error = await muxd.connect(t, 'startfail', { name: which }).then(
      () => assert.fail('the handshake cannot succeed'),
      (error: unknown) => error as Error,
    );
    assert.match(error.message, /exit code 1/, which);
    assert.match(error.message, /refusing to start while/, `${which}: the server's own words`);
    // Told before the backoff (20 s) ran out: the first child and its at-once replacement at most have run.
    assert.ok((await control.history('startfail')).length <= 2, which);
  }
});
