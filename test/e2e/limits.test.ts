// Misbehaving peers: a child that prints garbage, clients that send too
// much, send garbage, or never read. Each gets a clear outcome; nobody else
// notices.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { everythingServer, fixtureServer, startMuxd, waitFor } from './harness.js';

const PARSE_ERROR = -32700;
const REQUEST_TOO_LARGE = -32032;

const muxd = await startMuxd({ after }, {
  everything: everythingServer({ maxRequestBytes: '64KiB', maxClientBuffer: '256KiB' }),
  garbage: fixtureServer('garbage'),
});

test('a child printing non-JSON on stdout keeps working; the garbage goes to the service log, not to clients', { timeout: 30_000 }, async (t) => {
  const rawSeen: string[] = [];
  const c = await muxd.connect(t, 'garbage', { name: 'garbage-watcher' });
  // Every line the client receives must be a JSON-RPC message.
  const onmessage = c.transport.onmessage;
  c.transport.onmessage = (message) => {
    rawSeen.push(JSON.stringify(message));
    onmessage?.(message);
  };
  assert.equal(await c.callText('echo', { message: 'one' }), 'garbage: one');
  assert.equal(await c.callText('noisy', { tag: 'n1' }), 'noisy n1');
  assert.equal(await c.callText('noisy', { tag: 'n2' }), 'noisy n2');
  assert.equal(await c.callText('echo', { message: 'two' }), 'garbage: two');

  await muxd.waitForServiceLog('garbage', 'the start-up banner', (entry) => typeof entry['line'] === 'string' && entry['line'].startsWith('GARBAGE-START'));
  await muxd.waitForServiceLog('garbage', 'the tool\'s garbage', (entry) => typeof entry['line'] === 'string' && entry['line'].startsWith('GARBAGE-TOOL n2'));
  assert.equal(muxd.childPids('garbage').length, 1, 'the child was never restarted');
  assert.ok(!rawSeen.some((line) => line.includes('GARBAGE')), 'no garbage reached the client');
  assert.doesNotMatch(c.proxyStderr(), /GARBAGE/);
  assert.deepEqual(c.errors.map(String), [], 'the SDK client saw only valid messages');
});

test('an oversized request gets an error at once; other clients are unaffected', { timeout: 30_000 }, async (t) => {
  const big = await muxd.connect(t, 'everything', { name: 'big-sender' });
  const other = await muxd.connect(t, 'everything', { name: 'bystander' });
  const pending = other.callText('trigger-long-running-operation', { duration: 0.5, steps: 2 });
  // The SDK's own timeout is far beyond the deadline: only muxd's answer can settle this in time.
  const error = await big.callText('echo', { message: 'x'.repeat(200 * 1024) }, { timeout: 60_000 }).then(
    () => assert.fail('a 200 KiB request over a 64 KiB limit must fail'),
    (error: unknown) => error,
  );
  assert.ok(error instanceof McpError, `expected an MCP error, got ${String(error)}`);
  assert.equal(error.code, REQUEST_TOO_LARGE);
  assert.match(error.message, /64(\.0)? KiB/);
  // The same connection still works, and so does everyone else's.
  assert.equal(await big.callText('echo', { message: 'small' }), 'Echo: small');
  assert.match(await pending, /completed/);
  assert.equal(await other.callText('echo', { message: 'fine' }), 'Echo: fine');
  assert.deepEqual(other.errors.map(String), []);
});

test('an oversized line is answered with its own id, wherever the sender put it', { timeout: 30_000 }, async (t) => {
  const raw = await muxd.rawConnect(t, 'everything');
  await raw.initialize();
  const filler = 'z'.repeat(100 * 1024);
  const params = { name: 'echo', arguments: { message: filler, id: 99 } };
  raw.socket.write(`{"jsonrpc":"2.0","id":"id-first","method":"tools/call","params":${JSON.stringify(params)}}\n`);
  raw.socket.write(`{"jsonrpc":"2.0","method":"tools/call","params":${JSON.stringify(params)},"id":"id-last"}\n`);
  raw.socket.write(`{"method":"tools/call","params":${JSON.stringify(params)},"jsonrpc":"2.0","id":12}\r\n`);
  // A notification has no id: a nested "id" must not be mistaken for one.
  raw.socket.write(`{"jsonrpc":"2.0","method":"notifications/message","params":${JSON.stringify(params)}}\n`);
  raw.send({ jsonrpc: '2.0', id: 'after', method: 'ping' });
  await raw.waitFor('the ping after the oversized lines', (m) => m['id'] === 'after');
  const tooLarge = raw.messages.filter((m) => (m['error'] as { code?: number } | undefined)?.code === REQUEST_TOO_LARGE);
  assert.deepEqual(tooLarge.map((m) => m['id']), ['id-first', 'id-last', 12, null]);
});

test('garbage bytes on a raw connection get a -32700 line back; the connection and other clients go on', { timeout: 30_000 }, async (t) => {
  const other = await muxd.connect(t, 'everything', { name: 'bystander' });
  const raw = await muxd.rawConnect(t, 'everything');
  raw.send('this is not json at all');
  raw.socket.write(Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x0a]));
  await waitFor('two parse errors', () => raw.messages.filter((m) => (m['error'] as { code?: number } | undefined)?.code === PARSE_ERROR).length === 2);
  for (const message of raw.messages) {
    assert.equal(message['jsonrpc'], '2.0');
    assert.equal(message['id'], null);
  }
  const answer = await raw.initialize();
  assert.ok(answer['result'], 'the same connection can still initialize');
  raw.send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { message: 'raw' } } });
  const echo = await raw.waitFor('echo answer', (m) => m['id'] === 7);
  assert.deepEqual((echo['result'] as { content: unknown }).content, [{ type: 'text', text: 'Echo: raw' }]);
  assert.equal(await other.callText('echo', { message: 'fine' }), 'Echo: fine');
  assert.deepEqual(other.errors.map(String), []);
});

test('a client that never reads is disconnected and does not hold up the others', { timeout: 60_000 }, async (t) => {
  const other = await muxd.connect(t, 'everything', { name: 'reader' });
  const hog = await muxd.rawConnect(t, 'everything');
  await hog.initialize();
  hog.socket.pause();
  // 200 answers of 32 KiB each: far more than the socket buffers and maxClientBuffer (256 KiB) hold.
  const payload = 'y'.repeat(32 * 1024);
  for (let id = 1; id <= 200; id++) {
    hog.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: payload } } });
  }
  // Meanwhile the reading client is served as usual.
  for (let round = 0; round < 10; round++) {
    const texts = await Promise.all([0, 1, 2].map((k) => other.callText('echo', { message: `r${round}-${k}` })));
    assert.deepEqual(texts, [0, 1, 2].map((k) => `Echo: r${round}-${k}`));
  }
  await muxd.waitForServiceLog('everything', 'the non-reading client being cut off', (entry) => /client is not reading/.test(entry.msg));
  hog.socket.resume();
  await waitFor('the non-reading client\'s connection to close', () => hog.socket.destroyed || hog.socket.readableEnded);
  assert.ok(hog.messages.length < 200, 'it did not get every answer');
  assert.equal(await other.callText('echo', { message: 'after' }), 'Echo: after');
  assert.equal(muxd.childPids('everything').length, 1);
  assert.deepEqual(other.errors.map(String), []);
});
