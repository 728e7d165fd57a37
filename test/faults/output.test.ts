// What a child writes on stdout, at its worst: answers in pieces, lines of
// tens of MiB, answers over the service's limit, responses to requests
// nobody sent, floods of notifications. A stdout with non-JSON lines between
// messages is in test/e2e/limits.test.ts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCodes } from '@muxd/protocol';
import { fixtureServer, startMuxd, waitFor } from '../e2e/harness.js';
import { errorOf, mcpError } from './helpers.js';

const MiB = 1024 * 1024;

const muxd = await startMuxd({ after }, {
  // The default maxResponseBytes (64 MiB).
  roomy: fixtureServer('lines'),
  tight: fixtureServer('lines', { maxResponseBytes: '1MiB', requestTimeout: '2m' }),
  flood: fixtureServer('lines', { maxClientBuffer: '4MiB' }),
});

test('answers written in pieces, cut inside UTF-8 characters, arrive whole', { timeout: 30_000 }, async (t) => {
  const c = await muxd.connect(t, 'roomy', { name: 'pieces' });
  const messages = ['héllo wörld', '€ and 😀 and 日本語', 'plain ascii'];
  const answers = await Promise.all(messages.map((message, n) => c.callText('split', { message, pieces: 5 + n })));
  assert.deepEqual(answers, messages.map((message) => `lines: ${message}`));
  assert.deepEqual(c.errors.map(String), []);
});

test('a 50 MiB line of garbage is skipped and logged, under the limit or over it; the child keeps answering', { timeout: 60_000 }, async (t) => {
  for (const service of ['roomy', 'tight']) {
    const c = await muxd.connect(t, service, { name: `garbage-${service}` });
    const [pid] = await muxd.waitForChildren(service, 1);
    assert.equal(await c.callText('garbage', { mb: 50 }), 'lines: survived 50 MiB');
    assert.equal(await c.callText('echo', { message: 'after' }), 'lines: after');
    assert.deepEqual(muxd.childPids(service), [pid], 'not restarted');
    assert.deepEqual(c.errors.map(String), [], 'no garbage reached the client');
  }
  // Under maxResponseBytes it is read and found not to be JSON; over it, it is discarded as it streams.
  const skipped = await muxd.waitForServiceLog('roomy', 'the garbage line', (entry) => entry.msg === "non-JSON line on the child's stdout: skipped");
  assert.match(skipped['line'] as string, /^GARBAGE-HUGE G+\.\.\.$/);
  assert.ok((skipped['line'] as string).length < 300, 'only a preview is logged');
  const over = await muxd.waitForServiceLog('tight', 'the oversized line', (entry) => /over maxResponseBytes: skipped/.test(entry.msg));
  assert.equal(over['bytes'], 50 * MiB);
});

test('an answer over maxResponseBytes fails its request at once with a clear error; the connection goes on', { timeout: 30_000 }, async (t) => {
  const c = await muxd.connect(t, 'tight', { name: 'too-big' });
  // muxd's own requestTimeout is 2 min and the SDK's 30 s here: only muxd's answer settles this in time.
  const error = await mcpError(c.callText('big', { mb: 2 }, { timeout: 30_000 }));
  assert.equal(error.code, ErrorCodes.ResponseTooLarge);
  assert.match(error.message, /over 1(\.0)? MiB \(maxResponseBytes of service 'tight'\)/);
  assert.equal(await c.callText('echo', { message: 'next' }), 'lines: next');
  const small = await c.callText('big', { mb: 0.5 });
  assert.equal(small.length, 0.5 * MiB);
  assert.deepEqual(c.errors.map(String), []);
});

test('responses from the child to requests nobody sent are dropped, never passed to a client', { timeout: 30_000 }, async (t) => {
  const c = await muxd.connect(t, 'roomy', { name: 'strays' });
  const raw = await muxd.rawConnect(t, 'roomy');
  await raw.initialize();
  raw.send({ jsonrpc: '2.0', id: 'mine', method: 'tools/call', params: { name: 'stray', arguments: {} } });
  await raw.waitFor('the answer', (message) => message['id'] === 'mine');
  assert.equal(await c.callText('stray'), 'lines: strays sent');
  assert.equal(await c.callText('echo', { message: 'still fine' }), 'lines: still fine');
  // 'init' and 'mine': nothing else.
  assert.deepEqual(raw.messages.map((message) => message['id']), ['init', 'mine']);
  assert.deepEqual(c.errors.map(String), [], 'the SDK saw no response to an id it did not send');
  await muxd.waitForServiceLog('roomy', 'the message without an id', (entry) => entry.msg === 'invalid JSON-RPC message from the server: skipped');
});

test('a flood of notifications: readers get every one in order, a client that never reads is cut off alone', { timeout: 120_000 }, async (t) => {
  // Rounds of 2 MiB: a reader lags by one round at most, half of maxClientBuffer (4 MiB); the sleeper falls further behind each round.
  const ROUNDS = 4;
  const COUNT = 10_000;
  const caller = await muxd.connect(t, 'flood', { name: 'flooder' });
  const seenByCaller: string[] = [];
  caller.client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    seenByCaller.push(String(notification.params.data));
  });
  const reader = await muxd.rawConnect(t, 'flood');
  await reader.initialize();
  const sleeper = await muxd.rawConnect(t, 'flood');
  await sleeper.initialize();
  sleeper.socket.pause();
  const [pid] = await muxd.waitForChildren('flood', 1);

  const floodOf = (messages: Array<Record<string, unknown>>) =>
    messages.filter((message) => message['method'] === 'notifications/message').map((message) => String((message['params'] as { data: unknown }).data));
  for (let round = 1; round <= ROUNDS; round++) {
    assert.equal(await caller.callText('flood', { count: COUNT, bytes: 200 }), `flooded ${COUNT}`);
    await waitFor(`the reader to get round ${round}`, () => floodOf(reader.messages).length === round * COUNT, 30_000);
  }
  const expected = Array.from({ length: ROUNDS * COUNT }, (_, n) => `flood ${n % COUNT} `);
  const heads = (data: string[]) => data.map((text) => text.slice(0, text.indexOf(' ', 6) + 1));
  assert.deepEqual(heads(floodOf(reader.messages)), expected, 'in order, none lost');
  assert.deepEqual(heads(seenByCaller), expected, 'the caller got them all before its answers');

  await muxd.waitForServiceLog('flood', 'the sleeper being cut off', (entry) => /client is not reading/.test(entry.msg));
  sleeper.socket.resume();
  await waitFor('the sleeper\'s connection to close', () => sleeper.socket.destroyed || sleeper.socket.readableEnded);
  assert.ok(floodOf(sleeper.messages).length < ROUNDS * COUNT, 'the sleeper did not get everything');
  assert.equal(await caller.callText('echo', { message: 'after the flood' }), 'lines: after the flood');
  assert.deepEqual(muxd.childPids('flood'), [pid], 'the child was never held up or restarted');
  assert.deepEqual(caller.errors.map(String), []);
  assert.equal(errorOf(reader.messages.find((message) => message['error'])), undefined);
});
