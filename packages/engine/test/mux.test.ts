import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from '@muxd/protocol';
import type { JsonObject, JsonRpcId, JsonRpcRequest } from '@muxd/protocol';
import { Mux, UpstreamState } from '../src/index.js';
import {
  FakeClient,
  FakeUpstream,
  INIT_RESULT,
  ManualClock,
  createHarness,
  errorOf,
  resultOf,
  tick,
} from './harness.js';

const TOOL_RESULT = { content: [{ type: 'text', text: 'ok' }] };

/** The progress token muxd put on a request it forwarded. */
function tokenOf(request: JsonRpcRequest): unknown {
  const meta = request.params?.['_meta'] as JsonObject | undefined;
  return meta?.['progressToken'];
}

/** Every id muxd used for requests to a child. */
function upstreamIds(upstream: FakeUpstream): JsonRpcId[] {
  return upstream.requests().map((request) => request.id);
}

describe('initialize', () => {
  test('concurrent first clients share one upstream initialize and each get the answer under their own id', async (t) => {
    const { upstream, connect } = createHarness(t);
    const a = connect();
    const b = connect();
    const c = connect();
    a.initialize(1, {}, { name: 'host-a', version: '1' });
    b.initialize('init', { sampling: {} }, { name: 'host-b', version: '2' });
    c.initialize(7, { roots: { listChanged: true } });

    assert.equal(upstream.requests('initialize').length, 1, 'one initialize upstream for three clients');
    assert.deepEqual(a.received, [], 'no answer before the server answers');

    upstream.completeInitialize();
    await tick();

    assert.deepEqual(a.responseTo(1), { jsonrpc: '2.0', id: 1, result: INIT_RESULT });
    assert.deepEqual(b.responseTo('init'), { jsonrpc: '2.0', id: 'init', result: INIT_RESULT });
    assert.deepEqual(c.responseTo(7), { jsonrpc: '2.0', id: 7, result: INIT_RESULT });
    assert.deepEqual(upstream.methods(), ['initialize', 'notifications/initialized']);
  });

  test('initializes the server at the newest version muxd knows, with the capabilities muxd routes and the first client\'s name', (t) => {
    const { upstream, connect } = createHarness(t);
    connect().initialize(1, { experimental: { x: {} } }, { name: 'host-a', version: '1' });
    const params = upstream.request('initialize').params;
    assert.deepEqual(params, {
      protocolVersion: '2025-11-25',
      capabilities: { roots: { listChanged: true }, sampling: {}, elicitation: {} },
      clientInfo: { name: 'host-a', version: '1' },
    });
  });

  test('later clients are answered from the cache with their own id; nothing goes upstream', async (t) => {
    const { upstream, connect, ready } = createHarness(t);
    await ready();
    const before = upstream.sent.length;

    const late = connect();
    late.initialize('late-1');
    assert.deepEqual(late.responseTo('late-1'), { jsonrpc: '2.0', id: 'late-1', result: INIT_RESULT });
    late.notify('notifications/initialized');
    assert.equal(upstream.sent.length, before, 'no initialize or initialized from a later client');
  });

  test('clients\' notifications/initialized are swallowed: exactly one reaches the child', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    const b = await ready();
    a.notify('notifications/initialized');
    b.notify('notifications/initialized');
    assert.equal(upstream.notifications('notifications/initialized').length, 1);
    assert.equal(upstream.requests('initialize').length, 1);
  });

  test('requests wait for the handshake, then go after notifications/initialized', async (t) => {
    const { upstream, connect } = createHarness(t);
    const a = connect();
    a.initialize(0);
    a.call(1, 'tools/list');
    a.call(2, 'tools/call', { name: 'echo', arguments: {} });
    assert.deepEqual(upstream.methods(), ['initialize'], 'nothing but initialize before the handshake completes');

    upstream.completeInitialize();
    await tick();
    assert.deepEqual(upstream.methods(), ['initialize', 'notifications/initialized', 'tools/list', 'tools/call']);
    // The initialize answer comes before the answers to the queued requests.
    upstream.respond(upstream.request('tools/list'), { tools: [] });
    upstream.respond(upstream.request('tools/call'), TOOL_RESULT);
    assert.deepEqual(
      a.responses().map((response) => response.id),
      [0, 1, 2],
    );
    assert.deepEqual(resultOf(a.responseTo(2)), TOOL_RESULT);
  });

  test('requests from a client that connected before any child was attached are sent once it is', async (t) => {
    const mux = new Mux({ service: 'late-child' });
    const a = new FakeClient(mux);
    t.after(() => a.handle.disconnect());
    a.initialize(0);
    a.call(1, 'tools/list');
    assert.equal(mux.upstreamState, UpstreamState.Down);
    assert.equal(mux.stats().queued, 1);

    const upstream = new FakeUpstream(mux);
    t.after(() => upstream.handle.closed('test finished'));
    upstream.completeInitialize();
    await tick();
    upstream.respond(upstream.request('tools/list'), { tools: [{ name: 'echo' }] });
    assert.deepEqual(resultOf(a.responseTo(1)), { tools: [{ name: 'echo' }] });
  });

  test('requests before initialize are refused and not forwarded', async (t) => {
    const { upstream, ready, connect } = createHarness(t);
    await ready();
    const fresh = connect();
    fresh.call(5, 'tools/list');
    assert.equal(errorOf(fresh.responseTo(5)).code, ErrorCodes.InvalidRequest);
    assert.equal(upstream.requests('tools/list').length, 0);
  });

  test('a second initialize on one connection is refused and never reaches the child', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.initialize(9);
    assert.equal(errorOf(a.responseTo(9)).code, ErrorCodes.InvalidRequest);
    assert.equal(upstream.requests('initialize').length, 1);
  });

  test('a failed handshake fails the waiting clients and reports the child unusable', async (t) => {
    const failures: string[] = [];
    const { upstream, connect, mux } = createHarness(t, { onUpstreamFailure: (reason) => failures.push(reason) });
    const a = connect();
    a.initialize(3);
    upstream.fail(upstream.request('initialize'), -32602, 'unsupported protocol version');
    await tick();
    const error = errorOf(a.responseTo(3));
    assert.equal(error.code, ErrorCodes.UpstreamInitializeFailed);
    assert.match(error.message, /unsupported protocol version/);
    assert.equal(mux.upstreamState, UpstreamState.Failed);
    assert.equal(failures.length, 1);
  });
});

describe('ids', () => {
  test('upstream ids are fresh, unique and never reused, even across child restarts', async (t) => {
    const h = createHarness(t);
    const first = h.upstream;
    const a = await h.ready();
    const b = await h.ready();
    a.call(1, 'tools/call', { name: 'x' });
    b.call(1, 'tools/call', { name: 'x' });
    a.call(2, 'resources/subscribe', { uri: 'file:///r' });
    b.call(2, 'logging/setLevel', { level: 'info' });
    first.respondAll('tools/call', TOOL_RESULT);
    first.respondAll('resources/subscribe');
    await tick();
    a.call(1, 'tools/call', { name: 'reused client id' });
    first.respondAll('tools/call', TOOL_RESULT);

    const second = h.restart();
    second.completeInitialize();
    await tick();
    a.call(1, 'tools/call', { name: 'x' });
    b.call(1, 'tools/call', { name: 'x' });

    const ids1 = upstreamIds(first);
    const ids2 = upstreamIds(second);
    const all = [...ids1, ...ids2];
    assert.ok(all.length >= 10, `enough requests to be meaningful (${all.length})`);
    assert.equal(new Set(all).size, all.length, `no upstream id used twice: ${JSON.stringify(all)}`);
    assert.ok(all.every((id) => Number.isSafeInteger(id) && (id as number) > 0), 'every id is a positive safe integer');
  });

  test('a server answering with a wrong id (off by one, an old one) reaches no client', async (t) => {
    const h = createHarness(t);
    const a = await h.ready();
    const b = await h.ready();
    a.call(1, 'tools/call', { name: 'a' });
    b.call(1, 'tools/call', { name: 'b' });
    const [forA, forB] = h.upstream.requests('tools/call');
    const ids = [forA!.id as number, forB!.id as number];
    for (const wrong of [ids[0]! + 1, ids[0]! - 1, ids[1]! + 1, ids[1]! - 1, 1, 2, 3]) {
      if (ids.includes(wrong)) continue;
      h.upstream.handle.receive({ jsonrpc: '2.0', id: wrong, result: { content: [{ type: 'text', text: 'misrouted' }] } });
    }
    await tick();
    assert.deepEqual([a.responses(), b.responses()], [[], []], 'no client got an answer it did not ask for');
    h.upstream.respond(forB!, TOOL_RESULT);
    assert.deepEqual(resultOf(b.responseTo(1)), TOOL_RESULT);
    assert.deepEqual(a.responses(), []);
  });

  test('original ids come back with their exact JSON type: 1 and "1" are different requests', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.call(1, 'tools/call', { name: 'number' });
    a.call('1', 'tools/call', { name: 'string' });
    const [numberCall, stringCall] = upstream.requests('tools/call');
    assert.ok(numberCall && stringCall, 'both forwarded: "1" is not a duplicate of 1');
    assert.notEqual(numberCall.id, stringCall.id);

    upstream.respond(stringCall, { which: 'string' });
    upstream.respond(numberCall, { which: 'number' });
    assert.deepEqual(a.responsesTo('1'), [{ jsonrpc: '2.0', id: '1', result: { which: 'string' } }]);
    assert.deepEqual(a.responsesTo(1), [{ jsonrpc: '2.0', id: 1, result: { which: 'number' } }]);
  });

  test('sixteen clients using the same ids each get only their own answers', async (t) => {
    const { upstream, ready } = createHarness(t);
    const clients: FakeClient[] = [];
    for (let i = 0; i < 16; i++) clients.push(await ready());
    clients.forEach((client, i) => {
      client.call(1, 'tools/call', { name: 'who', arguments: { client: i, n: 1 } });
      client.call(2, 'tools/call', { name: 'who', arguments: { client: i, n: 2 } });
    });
    const calls = upstream.requests('tools/call');
    assert.equal(calls.length, 32);
    assert.equal(new Set(calls.map((call) => call.id)).size, 32);
    // Answer in an order unrelated to arrival.
    const order = calls.map((_, i) => (i * 7) % 32);
    for (const i of order) {
      const call = calls[i]!;
      upstream.respond(call, { echo: call.params?.['arguments'] as JsonObject });
    }
    clients.forEach((client, i) => {
      assert.equal(client.received.length, 2, `client ${i} gets exactly two messages`);
      assert.deepEqual(resultOf(client.responseTo(1)), { echo: { client: i, n: 1 } });
      assert.deepEqual(resultOf(client.responseTo(2)), { echo: { client: i, n: 2 } });
    });
  });

  test('a response with an id muxd never used upstream reaches no client', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.call(1, 'tools/call', { name: 'x' });
    upstream.respond(1, TOOL_RESULT); // upstream id 1 was the initialize, long answered
    upstream.respond(999, TOOL_RESULT);
    upstream.respond('1', TOOL_RESULT);
    assert.deepEqual(a.received, []);
  });

  test('client->server and server->client ids are separate spaces', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready({ sampling: {} });
    a.call(1, 'tools/call', { name: 'asks-for-sampling' });
    upstream.ask(1, 'sampling/createMessage', { messages: [], maxTokens: 5 });
    const sampling = a.request('sampling/createMessage');
    // The client answers muxd's request; that must not be taken for the answer to its own request 1.
    a.respond(sampling.id, { role: 'assistant', content: { type: 'text', text: 'hi' }, model: 'm' });
    assert.deepEqual(upstream.responsesTo(1), [
      { jsonrpc: '2.0', id: 1, result: { role: 'assistant', content: { type: 'text', text: 'hi' }, model: 'm' } },
    ]);
    assert.deepEqual(a.responses(), [], 'the client got no answer to its own request yet');
    upstream.respond(upstream.request('tools/call'), TOOL_RESULT);
    assert.deepEqual(resultOf(a.responseTo(1)), TOOL_RESULT);
  });
});

describe('limits', () => {
  test('a client reusing an id still in flight gets an error and nothing is forwarded', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    const b = await ready();
    a.call(4, 'tools/call', { name: 'first' });
    b.call(4, 'tools/call', { name: 'other client, same id' });
    a.call(4, 'tools/call', { name: 'duplicate' });
    const error = errorOf(a.responseTo(4));
    assert.equal(error.code, ErrorCodes.DuplicateRequestId);
    const calls = upstream.requests('tools/call');
    assert.deepEqual(
      calls.map((call) => call.params?.['name']),
      ['first', 'other client, same id'],
    );

    upstream.respond(calls[0]!, { which: 'first' });
    assert.deepEqual(a.responsesTo(4).map((response) => ('result' in response ? response.result : response.error.code)), [
      ErrorCodes.DuplicateRequestId,
      { which: 'first' },
    ]);
    // Once answered, the id may be used again.
    a.call(4, 'tools/call', { name: 'again' });
    assert.equal(upstream.requests('tools/call').length, 3);
  });

  test('too many requests in flight: an error, nothing forwarded, room again after an answer', async (t) => {
    const { upstream, ready } = createHarness(t, { maxInflight: 2 });
    const a = await ready();
    const b = await ready();
    a.call(1, 'tools/call', { name: 'x' });
    a.call(2, 'tools/call', { name: 'x' });
    a.call(3, 'tools/call', { name: 'x' });
    assert.equal(errorOf(a.responseTo(3)).code, ErrorCodes.TooManyRequests);
    assert.equal(upstream.requests('tools/call').length, 2);
    b.call(1, 'tools/call', { name: 'x' });
    assert.equal(upstream.requests('tools/call').length, 3, 'the limit is per client');

    upstream.respond(upstream.requests('tools/call')[0]!, TOOL_RESULT);
    a.call(4, 'tools/call', { name: 'x' });
    assert.equal(upstream.requests('tools/call').length, 4);
    assert.deepEqual(a.responsesTo(4), []);
  });

  test('too many clients: the extra client gets an error and is closed; others keep working', async (t) => {
    const counts: number[] = [];
    const { upstream, ready, connect, mux } = createHarness(t, { maxClients: 2, onClientsChanged: (count) => counts.push(count) });
    const a = await ready();
    await ready();
    const extra = connect();
    extra.initialize(1);
    const error = errorOf(extra.responseTo(1));
    assert.equal(error.code, ErrorCodes.TooManyClients);
    assert.ok(extra.closed);
    assert.equal(mux.clientCount, 2);
    assert.equal(upstream.requests('initialize').length, 1);

    a.call(1, 'tools/list');
    upstream.respond(upstream.request('tools/list'), { tools: [] });
    assert.deepEqual(resultOf(a.responseTo(1)), { tools: [] });

    a.handle.disconnect();
    const next = await ready();
    assert.ok(!next.closed);
    assert.deepEqual(counts, [1, 2, 1, 2]);
  });
});

describe('progress', () => {
  test('two clients using token 1 get only their own progress, with their original token', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    const b = await ready();
    const c = await ready();
    a.call(1, 'tools/call', { name: 'slow', _meta: { progressToken: 1, 'com.example/trace': 'abc' } });
    b.call(1, 'tools/call', { name: 'slow', _meta: { progressToken: 1 } });
    c.call(1, 'tools/call', { name: 'slow', _meta: { progressToken: '1' } });
    const [ua, ub, uc] = upstream.requests('tools/call');
    const tokens = [tokenOf(ua!), tokenOf(ub!), tokenOf(uc!)];
    assert.equal(new Set(tokens).size, 3, `service-unique tokens upstream: ${JSON.stringify(tokens)}`);
    assert.equal((ua!.params?.['_meta'] as JsonObject)['com.example/trace'], 'abc', 'other _meta keys untouched');

    upstream.notify('notifications/progress', { progressToken: tokens[1] as JsonRpcId, progress: 1, total: 4 });
    assert.deepEqual(b.notifications('notifications/progress'), [
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1, total: 4 } },
    ]);
    assert.deepEqual(a.received, []);
    assert.deepEqual(c.received, []);

    upstream.notify('notifications/progress', { progressToken: tokens[0] as JsonRpcId, progress: 2, message: 'half' });
    upstream.notify('notifications/progress', { progressToken: tokens[2] as JsonRpcId, progress: 3 });
    assert.deepEqual(a.notifications('notifications/progress').map((n) => n.params), [{ progressToken: 1, progress: 2, message: 'half' }]);
    assert.deepEqual(c.notifications('notifications/progress').map((n) => n.params), [{ progressToken: '1', progress: 3 }]);
    assert.equal(b.notifications('notifications/progress').length, 1);

    upstream.notify('notifications/progress', { progressToken: 12345, progress: 1 });
    upstream.notify('notifications/progress', { progressToken: 1, progress: 1 });
    assert.equal(a.received.length + b.received.length + c.received.length, 3, 'unknown tokens reach nobody');
  });

  test('progress after the response, or after the client cancelled, is dropped', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.call(1, 'tools/call', { name: 'slow', _meta: { progressToken: 'p' } });
    a.call(2, 'tools/call', { name: 'slow', _meta: { progressToken: 'q' } });
    const [first, second] = upstream.requests('tools/call');
    upstream.respond(first!, TOOL_RESULT);
    upstream.notify('notifications/progress', { progressToken: tokenOf(first!) as JsonRpcId, progress: 1 });
    a.notify('notifications/cancelled', { requestId: 2 });
    upstream.notify('notifications/progress', { progressToken: tokenOf(second!) as JsonRpcId, progress: 1 });
    assert.deepEqual(a.notifications('notifications/progress'), []);
  });

  test('progress restarts the request timeout', async (t) => {
    const clock = new ManualClock();
    const { upstream, ready } = createHarness(t, { requestTimeoutMs: 150, clock });
    const a = await ready();
    a.call(1, 'tools/call', { name: 'slow', _meta: { progressToken: 1 } });
    const token = tokenOf(upstream.request('tools/call')) as JsonRpcId;
    // 300 ms of progress every 30 ms: twice the timeout, never 150 ms of silence.
    for (let i = 0; i < 10; i++) {
      clock.advance(30);
      upstream.notify('notifications/progress', { progressToken: token, progress: i });
    }
    assert.deepEqual(a.responses(), [], 'no timeout while progress keeps coming');
    assert.equal(a.notifications('notifications/progress').length, 10);
    clock.advance(149);
    assert.deepEqual(a.responses(), [], 'not before 150 ms of silence');
    clock.advance(1);
    assert.equal(errorOf(a.responseTo(1)).code, ErrorCodes.RequestTimeout);
  });
});

describe('cancellation', () => {
  test('a client\'s notifications/cancelled goes upstream under the upstream id; the late answer is dropped', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    const b = await ready();
    a.call(5, 'tools/call', { name: 'slow' });
    b.call(5, 'tools/call', { name: 'slow' });
    const [callA, callB] = upstream.requests('tools/call');
    a.notify('notifications/cancelled', { requestId: 5, reason: 'user pressed stop' });
    assert.deepEqual(upstream.notifications('notifications/cancelled'), [
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: callA!.id, reason: 'user pressed stop' } },
    ]);
    upstream.respond(callA!, TOOL_RESULT);
    assert.deepEqual(a.received, [], 'no answer after cancelling');
    upstream.respond(callB!, TOOL_RESULT);
    assert.deepEqual(resultOf(b.responseTo(5)), TOOL_RESULT, 'the other client with the same id is unaffected');
    a.call(5, 'tools/call', { name: 'again' });
    assert.deepEqual(a.responses(), [], 'the cancelled id is free again');
  });

  test('cancelling an unknown id, another client\'s id, or initialize is ignored', async (t) => {
    const { upstream, ready, connect } = createHarness(t);
    const a = await ready();
    const b = await ready();
    a.call(5, 'tools/call', { name: 'slow' });
    b.notify('notifications/cancelled', { requestId: 5 });
    b.notify('notifications/cancelled', { requestId: 99 });
    a.notify('notifications/cancelled', { requestId: '5' });
    a.notify('notifications/cancelled', {});
    const c = connect();
    c.initialize(1);
    c.notify('notifications/cancelled', { requestId: 1 });
    assert.deepEqual(upstream.notifications('notifications/cancelled'), []);
    assert.deepEqual(resultOf(c.responseTo(1)), INIT_RESULT);
    upstream.respond(upstream.request('tools/call'), TOOL_RESULT);
    assert.deepEqual(resultOf(a.responseTo(5)), TOOL_RESULT);
  });

  test('cancelling a request still queued for the handshake means it is never sent', async (t) => {
    const { upstream, connect } = createHarness(t);
    const a = connect();
    a.initialize(0);
    a.call(1, 'tools/call', { name: 'slow' });
    a.notify('notifications/cancelled', { requestId: 1 });
    upstream.completeInitialize();
    await tick();
    assert.deepEqual(upstream.methods(), ['initialize', 'notifications/initialized']);
    assert.deepEqual(a.responses().map((response) => response.id), [0]);
  });

  test('a client leaving mid-call cancels its requests upstream; late answers go nowhere', async (t) => {
    const { upstream, ready, mux } = createHarness(t);
    const a = await ready();
    const b = await ready();
    a.call(1, 'tools/call', { name: 'slow' });
    a.call('two', 'tools/call', { name: 'slow' });
    b.call(1, 'tools/call', { name: 'slow' });
    const [a1, a2, b1] = upstream.requests('tools/call');
    a.handle.disconnect('socket closed');
    const cancelled = upstream.notifications('notifications/cancelled').map((n) => n.params?.['requestId']);
    assert.deepEqual(cancelled.sort(), [a1!.id, a2!.id].sort());
    assert.equal(mux.stats().inflight, 1);
    upstream.respond(a1!, TOOL_RESULT);
    upstream.respond(b1!, TOOL_RESULT);
    assert.deepEqual(a.received, []);
    assert.deepEqual(resultOf(b.responseTo(1)), TOOL_RESULT);
  });
});

describe('server-to-client requests', () => {
  test('ping from the server is answered locally', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready({ sampling: {}, roots: {} });
    upstream.ask('srv-ping', 'ping');
    assert.deepEqual(upstream.responsesTo('srv-ping'), [{ jsonrpc: '2.0', id: 'srv-ping', result: {} }]);
    assert.deepEqual(a.received, []);
  });

  test('sampling goes to one capable client, preferring one with a request in flight; its answer goes back under the server\'s id', async (t) => {
    const { upstream, ready } = createHarness(t);
    const plain = await ready();
    const idle = await ready({ sampling: {} });
    const busy = await ready({ sampling: {} });
    busy.call(1, 'tools/call', { name: 'needs-sampling' });
    // idle made the most recent request, but it has nothing in flight.
    idle.call(1, 'tools/list');
    upstream.respond(upstream.request('tools/list'), { tools: [] });
    idle.clear();
    plain.call(1, 'tools/call', { name: 'slow' });

    const params = { messages: [{ role: 'user', content: { type: 'text', text: 'hello' } }], maxTokens: 10 };
    upstream.ask('s-1', 'sampling/createMessage', params);
    assert.deepEqual(plain.received, []);
    assert.deepEqual(idle.received, []);
    const routed = busy.request('sampling/createMessage');
    assert.deepEqual(routed.params, params);

    const answer = { role: 'assistant', content: { type: 'text', text: 'hi' }, model: 'test-model' };
    busy.respond(routed.id, answer);
    assert.deepEqual(upstream.responsesTo('s-1'), [{ jsonrpc: '2.0', id: 's-1', result: answer }]);
    busy.respond(routed.id, answer);
    assert.equal(upstream.responsesTo('s-1').length, 1, 'a repeated answer is not forwarded');
  });

  test('a client without the capability never gets the request, even with a request in flight', async (t) => {
    const { upstream, ready } = createHarness(t);
    const plain = await ready({ roots: {} });
    const capable = await ready({ sampling: {} });
    plain.call(1, 'tools/call', { name: 'slow' });
    upstream.ask(3, 'sampling/createMessage', { messages: [], maxTokens: 1 });
    assert.deepEqual(plain.requests(), []);
    assert.equal(capable.requests('sampling/createMessage').length, 1);
  });

  test('no capable client: the server gets an error at once', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready({ roots: {} });
    upstream.ask(3, 'sampling/createMessage', { messages: [], maxTokens: 1 });
    upstream.ask(4, 'elicitation/create', { message: 'name?', requestedSchema: { type: 'object', properties: {} } });
    assert.equal(errorOf(upstream.responseTo(3)).code, ErrorCodes.NoCapableClient);
    assert.equal(errorOf(upstream.responseTo(4)).code, ErrorCodes.NoCapableClient);
    assert.deepEqual(a.received, []);
  });

  test('the client leaving before it answers: the server gets an error', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready({ sampling: {} });
    upstream.ask('s-9', 'sampling/createMessage', { messages: [], maxTokens: 1 });
    const routed = a.request('sampling/createMessage');
    a.handle.disconnect();
    assert.equal(errorOf(upstream.responseTo('s-9')).code, ErrorCodes.ConnectionClosed);
    a.respond(routed.id, { role: 'assistant', content: { type: 'text', text: 'late' }, model: 'm' });
    assert.equal(upstream.responsesTo('s-9').length, 1);
  });

  test('only the client the request went to can answer it', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready({ sampling: {} });
    const b = await ready({ sampling: {} });
    upstream.ask(10, 'sampling/createMessage', { messages: [], maxTokens: 1 });
    const target = a.requests().length === 1 ? a : b;
    const other = target === a ? b : a;
    const routed = target.request('sampling/createMessage');
    other.respond(routed.id, { role: 'assistant', content: { type: 'text', text: 'impostor' }, model: 'm' });
    assert.deepEqual(upstream.responsesTo(10), []);
    target.respond(routed.id, { role: 'assistant', content: { type: 'text', text: 'real' }, model: 'm' });
    assert.deepEqual(resultOf(upstream.responseTo(10))['content'], { type: 'text', text: 'real' });
  });

  test('the server cancelling its request is translated to the id the client saw', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready({ sampling: {} });
    a.call(1, 'tools/call', { name: 'x' });
    upstream.ask(77, 'sampling/createMessage', { messages: [], maxTokens: 1 });
    const routed = a.request('sampling/createMessage');
    upstream.notify('notifications/cancelled', { requestId: 77, reason: 'took too long' });
    assert.deepEqual(a.notifications('notifications/cancelled'), [
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: routed.id, reason: 'took too long' } },
    ]);
    a.respond(routed.id, { role: 'assistant', content: { type: 'text', text: 'late' }, model: 'm' });
    assert.deepEqual(upstream.responsesTo(77), [], 'the answer to a cancelled request is dropped');
    upstream.notify('notifications/cancelled', { requestId: 78 });
    assert.equal(a.notifications('notifications/cancelled').length, 1, 'unknown server ids are not passed on');
  });

  test('elicitation goes to an elicitation-capable client, and its completion only to that client', async (t) => {
    const { upstream, ready } = createHarness(t);
    const sampler = await ready({ sampling: {} });
    const eliciter = await ready({ elicitation: {} });
    upstream.ask('e1', 'elicitation/create', { mode: 'url', elicitationId: 'el-1', url: 'https://example.com', message: 'log in' });
    const routed = eliciter.request('elicitation/create');
    assert.deepEqual(sampler.received, []);
    eliciter.respond(routed.id, { action: 'accept' });
    assert.deepEqual(upstream.responseTo('e1'), { jsonrpc: '2.0', id: 'e1', result: { action: 'accept' } });
    upstream.notify('notifications/elicitation/complete', { elicitationId: 'el-1' });
    assert.equal(eliciter.notifications('notifications/elicitation/complete').length, 1);
    assert.deepEqual(sampler.received, []);
  });

  test('a client\'s progress for a server request goes upstream unchanged', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready({ sampling: {} });
    upstream.ask(5, 'sampling/createMessage', { messages: [], maxTokens: 1, _meta: { progressToken: 'srv-tok' } });
    a.notify('notifications/progress', { progressToken: 'srv-tok', progress: 1 });
    assert.deepEqual(upstream.notifications('notifications/progress').map((n) => n.params), [{ progressToken: 'srv-tok', progress: 1 }]);
  });
});

describe('roots', () => {
  test('roots/list is answered with the merged roots of the capable clients', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready({ roots: { listChanged: true } });
    const b = await ready({ roots: {} });
    const none = await ready({ sampling: {} });
    upstream.ask('r1', 'roots/list');
    const askA = a.request('roots/list');
    const askB = b.request('roots/list');
    assert.deepEqual(none.received, []);
    a.respond(askA.id, { roots: [{ uri: 'file:///a', name: 'A' }] });
    await tick();
    assert.deepEqual(upstream.responsesTo('r1'), [], 'waits for every capable client');
    b.respond(askB.id, { roots: [{ uri: 'file:///b', name: 'B' }, { uri: 'file:///a', name: 'A' }] });
    await tick();
    const roots = resultOf(upstream.responseTo('r1'))['roots'] as JsonObject[];
    assert.deepEqual(
      [...roots].sort((x, y) => String(x['uri']).localeCompare(String(y['uri']))),
      [{ uri: 'file:///a', name: 'A' }, { uri: 'file:///b', name: 'B' }],
    );
  });

  test('roots/list with no capable client is an error to the server', async (t) => {
    const { upstream, ready } = createHarness(t);
    await ready({ sampling: {} });
    upstream.ask('r1', 'roots/list');
    assert.equal(errorOf(upstream.responseTo('r1')).code, ErrorCodes.NoCapableClient);
  });

  test('roots/list_changed goes upstream only when the merged set changes', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready({ roots: { listChanged: true } });
    const b = await ready({ roots: { listChanged: true } });
    upstream.ask('r1', 'roots/list');
    a.respond(a.request('roots/list').id, { roots: [{ uri: 'file:///shared' }] });
    b.respond(b.request('roots/list').id, { roots: [{ uri: 'file:///shared' }, { uri: 'file:///b' }] });
    await tick();
    resultOf(upstream.responseTo('r1'));
    a.clear();

    // a's own roots change, but b still has file:///shared: the merged set is the same.
    a.notify('notifications/roots/list_changed');
    a.respond(a.request('roots/list').id, { roots: [] });
    await tick();
    assert.deepEqual(upstream.notifications('notifications/roots/list_changed'), []);

    a.clear();
    a.notify('notifications/roots/list_changed');
    a.respond(a.request('roots/list').id, { roots: [{ uri: 'file:///new' }] });
    await tick();
    assert.equal(upstream.notifications('notifications/roots/list_changed').length, 1);

    upstream.ask('r2', 'roots/list');
    await tick();
    const roots = (resultOf(upstream.responseTo('r2'))['roots'] as JsonObject[]).map((root) => root['uri']).sort();
    assert.deepEqual(roots, ['file:///b', 'file:///new', 'file:///shared']);
  });
});

describe('roots membership', () => {
  async function rootsGiven(t: TestContext) {
    const h = createHarness(t);
    const a = await h.ready({ roots: { listChanged: true } });
    h.upstream.ask('r1', 'roots/list');
    a.respond(a.request('roots/list').id, { roots: [{ uri: 'file:///a' }] });
    await tick();
    resultOf(h.upstream.responseTo('r1'));
    return { ...h, a };
  }

  test('a client joining with new roots makes muxd tell the server', async (t) => {
    const { upstream, connect } = await rootsGiven(t);
    const b = connect();
    b.initialize(0, { roots: {} });
    b.respond(b.request('roots/list').id, { roots: [{ uri: 'file:///b' }] });
    await tick();
    assert.equal(upstream.notifications('notifications/roots/list_changed').length, 1);
  });

  test('a client joining with roots already known changes nothing upstream', async (t) => {
    const { upstream, connect } = await rootsGiven(t);
    const b = connect();
    b.initialize(0, { roots: {} });
    b.respond(b.request('roots/list').id, { roots: [{ uri: 'file:///a' }] });
    await tick();
    assert.deepEqual(upstream.notifications('notifications/roots/list_changed'), []);
  });

  test('the only client holding a root leaving makes muxd tell the server', async (t) => {
    const { upstream, a } = await rootsGiven(t);
    a.handle.disconnect();
    assert.equal(upstream.notifications('notifications/roots/list_changed').length, 1);
  });
});

describe('resource subscriptions', () => {
  const URI = 'file:///watched';

  test('ref-counted: one upstream subscribe, updates to subscribers only, unsubscribe on the last', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    const b = await ready();
    const c = await ready();
    const outsider = await ready();
    a.call(1, 'resources/subscribe', { uri: URI });
    b.call(1, 'resources/subscribe', { uri: URI });
    assert.equal(upstream.requests('resources/subscribe').length, 1);
    assert.deepEqual(upstream.request('resources/subscribe').params, { uri: URI });
    assert.deepEqual(a.responses(), [], 'answered once the server has subscribed');
    upstream.respondAll('resources/subscribe');
    await tick();
    assert.deepEqual(resultOf(a.responseTo(1)), {});
    assert.deepEqual(resultOf(b.responseTo(1)), {});
    c.call('s', 'resources/subscribe', { uri: URI });
    assert.deepEqual(resultOf(c.responseTo('s')), {}, 'a repeat subscribe is answered locally');
    assert.equal(upstream.requests('resources/subscribe').length, 1);

    a.call(2, 'resources/unsubscribe', { uri: URI });
    assert.deepEqual(resultOf(a.responseTo(2)), {});
    assert.deepEqual(upstream.requests('resources/unsubscribe'), [], 'others still subscribed');

    upstream.notify('notifications/resources/updated', { uri: URI });
    upstream.notify('notifications/resources/updated', { uri: `${URI}/part` });
    upstream.notify('notifications/resources/updated', { uri: 'file:///elsewhere' });
    // Only a sub-resource: a URI that merely starts with the same characters is another resource.
    upstream.notify('notifications/resources/updated', { uri: `${URI}b` });
    upstream.notify('notifications/resources/updated', { uri: `${URI}-old` });
    assert.equal(a.notifications('notifications/resources/updated').length, 0);
    assert.deepEqual(b.notifications('notifications/resources/updated').map((n) => n.params?.['uri']), [URI, `${URI}/part`]);
    assert.equal(c.notifications('notifications/resources/updated').length, 2);
    assert.deepEqual(outsider.received, []);

    b.call(2, 'resources/unsubscribe', { uri: URI });
    assert.deepEqual(upstream.requests('resources/unsubscribe'), []);
    c.handle.disconnect();
    assert.deepEqual(upstream.requests('resources/unsubscribe').map((r) => r.params), [{ uri: URI }], 'a disconnect releases the last subscription');
    upstream.notify('notifications/resources/updated', { uri: URI });
    assert.equal(b.notifications('notifications/resources/updated').length, 2);
  });

  test('the last subscriber disconnecting unsubscribes upstream', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.call(1, 'resources/subscribe', { uri: URI });
    upstream.respondAll('resources/subscribe');
    await tick();
    a.handle.disconnect();
    assert.deepEqual(upstream.requests('resources/unsubscribe').map((r) => r.params), [{ uri: URI }]);
  });

  test('a subscribe sent while the child restarts waits for the new child instead of failing', async (t) => {
    const h = createHarness(t);
    const a = await h.ready();
    const b = await h.ready();
    h.upstream.handle.closed('crashed');
    a.call(1, 'resources/subscribe', { uri: URI });
    b.call(1, 'resources/subscribe', { uri: URI });
    await tick();
    assert.deepEqual(a.responses(), [], 'queued like any other request');
    const second = new FakeUpstream(h.mux);
    h.upstream = second;
    second.completeInitialize();
    await tick();
    assert.equal(second.requests('resources/subscribe').length, 1, 'one upstream subscribe for both');
    second.respondAll('resources/subscribe');
    await tick();
    assert.deepEqual(resultOf(a.responseTo(1)), {});
    assert.deepEqual(resultOf(b.responseTo(1)), {});
    second.notify('notifications/resources/updated', { uri: URI });
    assert.equal(a.notifications('notifications/resources/updated').length, 1);
  });

  test('a subscribe pipelined behind the first initialize is sent after the handshake', async (t) => {
    const { upstream, connect } = createHarness(t);
    const a = connect();
    a.initialize(0);
    a.call(1, 'resources/subscribe', { uri: URI });
    await tick();
    assert.deepEqual(upstream.methods(), ['initialize']);
    upstream.completeInitialize();
    await tick();
    assert.deepEqual(upstream.methods(), ['initialize', 'notifications/initialized', 'resources/subscribe']);
    upstream.respondAll('resources/subscribe');
    await tick();
    assert.deepEqual(a.responses().map((response) => response.id), [0, 1]);
    assert.deepEqual(resultOf(a.responseTo(1)), {});
  });

  test('a failed upstream subscribe fails every waiting subscriber', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    const b = await ready();
    a.call(1, 'resources/subscribe', { uri: URI });
    b.call(2, 'resources/subscribe', { uri: URI });
    upstream.fail(upstream.request('resources/subscribe'), -32602, 'no such resource');
    await tick();
    assert.equal(errorOf(a.responseTo(1)).message, 'no such resource');
    assert.equal(errorOf(b.responseTo(2)).message, 'no such resource');
    upstream.notify('notifications/resources/updated', { uri: URI });
    assert.equal(a.notifications().length + b.notifications().length, 0);
  });
});

describe('logging', () => {
  test('each client keeps its level; the server gets the most verbose; messages are filtered per client', async (t) => {
    const { upstream, ready } = createHarness(t);
    const quiet = await ready();
    const chatty = await ready();
    quiet.call(1, 'logging/setLevel', { level: 'error' });
    assert.deepEqual(resultOf(quiet.responseTo(1)), {});
    chatty.call(1, 'logging/setLevel', { level: 'info' });
    assert.deepEqual(resultOf(chatty.responseTo(1)), {});
    assert.deepEqual(upstream.requests('logging/setLevel').map((r) => r.params?.['level']), ['error', 'info']);
    upstream.respondAll('logging/setLevel');

    for (const level of ['debug', 'info', 'warning', 'error', 'critical']) {
      upstream.notify('notifications/message', { level, logger: 'srv', data: level });
    }
    assert.deepEqual(quiet.notifications('notifications/message').map((n) => n.params?.['data']), ['error', 'critical']);
    assert.deepEqual(chatty.notifications('notifications/message').map((n) => n.params?.['data']), ['info', 'warning', 'error', 'critical']);

    chatty.handle.disconnect();
    assert.deepEqual(upstream.requests('logging/setLevel').map((r) => r.params?.['level']), ['error', 'info', 'error'], 'the leaving client\'s level is released');
  });

  test('an unknown level is refused and not sent upstream', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.call(1, 'logging/setLevel', { level: 'verbose' });
    assert.equal(errorOf(a.responseTo(1)).code, ErrorCodes.InvalidParams);
    assert.deepEqual(upstream.requests('logging/setLevel'), []);
  });
});

describe('tasks', () => {
  async function twoOwners(t: TestContext) {
    const h = createHarness(t);
    const a = await h.ready({ tasks: {} });
    const b = await h.ready({ tasks: {} });
    a.call(1, 'tools/call', { name: 'long', arguments: {}, task: { ttl: 60000 } });
    b.call(1, 'tools/call', { name: 'long', arguments: {}, task: { ttl: 60000 } });
    const [callA, callB] = h.upstream.requests('tools/call');
    h.upstream.respond(callA!, { task: { taskId: 'task-a', status: 'working', createdAt: 'now', ttl: 60000 } });
    h.upstream.respond(callB!, { task: { taskId: 'task-b', status: 'working', createdAt: 'now', ttl: 60000 } });
    assert.equal((resultOf(a.responseTo(1))['task'] as JsonObject)['taskId'], 'task-a');
    assert.equal((resultOf(b.responseTo(1))['task'] as JsonObject)['taskId'], 'task-b');
    a.clear();
    b.clear();
    return { ...h, a, b };
  }

  test('another client\'s task is refused for tasks/get, tasks/result and tasks/cancel', async (t) => {
    const { upstream, a, b } = await twoOwners(t);
    const before = upstream.sent.length;
    b.call(2, 'tasks/get', { taskId: 'task-a' });
    b.call(3, 'tasks/result', { taskId: 'task-a' });
    b.call(4, 'tasks/cancel', { taskId: 'task-a' });
    b.call(5, 'tasks/get', { taskId: 'no-such-task' });
    for (const id of [2, 3, 4, 5]) assert.equal(errorOf(b.responseTo(id)).code, ErrorCodes.InvalidParams);
    assert.equal(upstream.sent.length, before, 'nothing forwarded');

    a.call(2, 'tasks/get', { taskId: 'task-a' });
    const get = upstream.request('tasks/get');
    assert.deepEqual(get.params, { taskId: 'task-a' });
    upstream.respond(get, { taskId: 'task-a', status: 'working' });
    assert.deepEqual(resultOf(a.responseTo(2)), { taskId: 'task-a', status: 'working' });
  });

  test('tasks/list shows each client only its own tasks', async (t) => {
    const { upstream, a } = await twoOwners(t);
    a.call(2, 'tasks/list', {});
    upstream.respond(upstream.request('tasks/list'), {
      tasks: [{ taskId: 'task-a', status: 'working' }, { taskId: 'task-b', status: 'working' }, { taskId: 'task-x', status: 'completed' }],
      nextCursor: 'c2',
    });
    assert.deepEqual(resultOf(a.responseTo(2)), { tasks: [{ taskId: 'task-a', status: 'working' }], nextCursor: 'c2' });
  });

  test('notifications/tasks/status goes to the task\'s owner only', async (t) => {
    const { upstream, a, b } = await twoOwners(t);
    upstream.notify('notifications/tasks/status', { taskId: 'task-b', status: 'working', statusMessage: 'halfway' });
    upstream.notify('notifications/tasks/status', { taskId: 'task-a', status: 'completed' });
    upstream.notify('notifications/tasks/status', { taskId: 'task-unknown', status: 'completed' });
    assert.deepEqual(a.notifications('notifications/tasks/status').map((n) => n.params?.['taskId']), ['task-a']);
    assert.deepEqual(b.notifications('notifications/tasks/status').map((n) => n.params?.['taskId']), ['task-b']);
  });

  test('a server request tied to a task goes to the task\'s owner, not the busiest client', async (t) => {
    const { upstream, ready } = createHarness(t);
    const owner = await ready({ tasks: {}, elicitation: {} });
    const busy = await ready({ elicitation: {} });
    owner.call(1, 'tools/call', { name: 'long', task: { ttl: 1000 } });
    upstream.respond(upstream.request('tools/call'), { task: { taskId: 'tk', status: 'working' } });
    busy.call(1, 'tools/call', { name: 'slow' });
    upstream.ask(50, 'elicitation/create', {
      message: 'confirm?',
      requestedSchema: { type: 'object', properties: {} },
      _meta: { 'io.modelcontextprotocol/related-task': { taskId: 'tk' } },
    });
    assert.equal(owner.requests('elicitation/create').length, 1);
    assert.deepEqual(busy.requests(), []);
  });

  test('a task\'s progress keeps reaching its owner after the CreateTaskResult, until the task ends', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready({ tasks: {} });
    a.call(1, 'tools/call', { name: 'long', task: { ttl: 1000 }, _meta: { progressToken: 'mine' } });
    const call = upstream.request('tools/call');
    upstream.respond(call, { task: { taskId: 't1', status: 'working' } });
    const token = tokenOf(call) as JsonRpcId;
    upstream.notify('notifications/progress', { progressToken: token, progress: 1 });
    upstream.notify('notifications/tasks/status', { taskId: 't1', status: 'completed' });
    upstream.notify('notifications/progress', { progressToken: token, progress: 2 });
    assert.deepEqual(a.notifications('notifications/progress').map((n) => n.params), [{ progressToken: 'mine', progress: 1 }]);
  });
});

describe('broadcast notifications', () => {
  test('list_changed and unknown notifications reach every initialized client, and only them', async (t) => {
    const { upstream, ready, connect } = createHarness(t);
    const a = await ready();
    const b = await ready();
    const uninitialized = connect();
    const methods = [
      'notifications/tools/list_changed',
      'notifications/prompts/list_changed',
      'notifications/resources/list_changed',
      'notifications/vendor/something',
    ];
    for (const method of methods) upstream.notify(method, method.includes('vendor') ? { x: 1 } : undefined);
    for (const client of [a, b]) {
      assert.deepEqual(client.notifications().map((n) => n.method), methods);
      assert.deepEqual(client.notifications('notifications/vendor/something')[0]?.params, { x: 1 });
    }
    assert.deepEqual(uninitialized.received, []);
  });
});

describe('batches', () => {
  test('a batch is split, each member forwarded alone, and answered with one array', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.raw([
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } },
      { jsonrpc: '2.0', method: 'notifications/vendor/hello' },
      { jsonrpc: '2.0', id: '2', method: 'tools/list' },
      { foo: 'bar' },
    ]);
    assert.ok(upstream.sent.every((entry) => !Array.isArray(entry)), 'never an array upstream');
    assert.deepEqual(upstream.methods().slice(-3), ['tools/call', 'notifications/vendor/hello', 'tools/list']);
    upstream.respond(upstream.request('tools/list'), { tools: [] });
    assert.deepEqual(a.received, [], 'no partial answer');
    upstream.respond(upstream.request('tools/call'), TOOL_RESULT);

    assert.equal(a.received.length, 1);
    const [batch] = a.batches;
    assert.ok(batch, 'the answer is an array');
    assert.equal(batch.length, 3);
    const byId = (id: JsonRpcId | null) => batch.filter((m) => 'id' in m && m.id === id);
    assert.deepEqual(byId(1), [{ jsonrpc: '2.0', id: 1, result: TOOL_RESULT }]);
    assert.deepEqual(byId('2'), [{ jsonrpc: '2.0', id: '2', result: { tools: [] } }]);
    assert.equal(errorOf(byId(null)[0] as never).code, ErrorCodes.InvalidRequest);
  });

  test('a batch of notifications gets no answer; an empty batch is an error', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.raw([{ jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', method: 'notifications/vendor/x' }]);
    assert.deepEqual(a.received, []);
    assert.equal(upstream.notifications('notifications/vendor/x').length, 1);
    a.raw([]);
    assert.equal(errorOf(a.responseTo(null)).code, ErrorCodes.InvalidRequest);
  });

  test('a cancelled batch member does not hold back the answers to the others', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.raw([
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow' } },
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    ]);
    a.notify('notifications/cancelled', { requestId: 1 });
    upstream.respond(upstream.request('tools/list'), { tools: [] });
    assert.deepEqual(a.batches, [[{ jsonrpc: '2.0', id: 2, result: { tools: [] } }]]);
  });

  test('batch members answered at once still come back inside the array', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.raw([
      { jsonrpc: '2.0', id: 1, method: 'logging/setLevel', params: { level: 'nonsense' } },
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    ]);
    assert.deepEqual(a.received, []);
    upstream.respond(upstream.request('tools/list'), { tools: [] });
    assert.equal(a.batches.length, 1);
    assert.deepEqual(a.batches[0]!.map((m) => ('id' in m ? m.id : undefined)).sort(), [1, 2]);
  });
});

describe('invalid messages', () => {
  test('an invalid message gets -32600 and disturbs nobody', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    const b = await ready();
    b.call(1, 'tools/call', { name: 'x' });
    const before = upstream.sent.length;

    a.raw({ hello: 'world' });
    a.raw('just a string');
    a.raw({ jsonrpc: '1.0', method: 'tools/list' });
    a.raw({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: ['positional'] });
    const errors = a.responses();
    assert.equal(errors.length, 4);
    for (const response of errors) assert.equal(errorOf(response).code, ErrorCodes.InvalidRequest);
    assert.deepEqual(errors.map((response) => response.id), [null, null, null, 8]);
    assert.equal(upstream.sent.length, before, 'nothing forwarded');

    a.call(2, 'tools/list');
    upstream.respond(upstream.request('tools/list'), { tools: [] });
    upstream.respond(upstream.request('tools/call'), TOOL_RESULT);
    assert.deepEqual(resultOf(a.responseTo(2)), { tools: [] }, 'the client keeps working');
    assert.deepEqual(b.received, [{ jsonrpc: '2.0', id: 1, result: TOOL_RESULT }]);
  });

  test('a malformed answer to a server request is not echoed back under that request\'s id', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready({ sampling: {} });
    upstream.ask(1, 'sampling/createMessage', { messages: [], maxTokens: 1 });
    const routed = a.request('sampling/createMessage');
    a.raw({ jsonrpc: '2.0', id: routed.id, result: 'not an object' });
    // The client never sent a request with that id: a response carrying it would be one it did not ask for.
    assert.deepEqual(a.responses().map((response) => response.id), [null]);
    assert.equal(errorOf(a.responses()[0]).code, ErrorCodes.InvalidRequest);
  });

  test('an invalid message from the server is skipped; the next one still routes', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.call(1, 'tools/list');
    upstream.handle.receive({ nonsense: true });
    upstream.handle.receive(42);
    upstream.respond(upstream.request('tools/list'), { tools: [] });
    assert.deepEqual(a.received, [{ jsonrpc: '2.0', id: 1, result: { tools: [] } }]);
  });
});

describe('child restarts', () => {
  test('a call in flight when the child exits gets an error; after a new child the session carries on', async (t) => {
    const h = createHarness(t);
    const first = h.upstream;
    const a = await h.ready();
    a.call(1, 'resources/subscribe', { uri: 'file:///r' });
    first.respondAll('resources/subscribe');
    await tick();
    a.call(2, 'logging/setLevel', { level: 'warning' });
    first.respondAll('logging/setLevel');
    a.clear();

    a.call(3, 'tools/call', { name: 'slow' });
    first.handle.closed('exit code 1');
    const error = errorOf(a.responseTo(3));
    assert.equal(error.code, ErrorCodes.UpstreamExited);
    assert.ok(!a.closed, 'the client stays connected');

    a.call(4, 'tools/call', { name: 'after' });
    a.call(5, 'ping');
    assert.deepEqual(resultOf(a.responseTo(5)), {}, 'muxd answers ping while the child is down');
    const waiting = new FakeClient(h.mux);
    t.after(() => waiting.handle.disconnect());
    waiting.initialize('w');
    assert.deepEqual(waiting.received, [], 'a new client waits for the new child');

    const second = new FakeUpstream(h.mux);
    h.upstream = second;
    assert.deepEqual(second.methods(), ['initialize']);
    assert.deepEqual(second.request('initialize').params, first.request('initialize').params, 'the same handshake');
    h.connect().initialize('during-handshake');
    second.completeInitialize();
    await tick();

    assert.equal(second.requests('initialize').length, 1, 'one initialize per child');
    assert.equal(second.notifications('notifications/initialized').length, 1);
    assert.deepEqual(second.request('resources/subscribe').params, { uri: 'file:///r' }, 're-subscribed');
    assert.deepEqual(second.request('logging/setLevel').params, { level: 'warning' }, 'log level re-applied');
    assert.deepEqual(resultOf(waiting.responseTo('w')), INIT_RESULT);

    second.respond(second.request('tools/call'), TOOL_RESULT);
    assert.deepEqual(resultOf(a.responseTo(4)), TOOL_RESULT, 'the call queued during the restart succeeds');
    a.call(6, 'tools/call', { name: 'next' });
    second.respond(second.unanswered('tools/call')[0]!, TOOL_RESULT);
    assert.deepEqual(resultOf(a.responseTo(6)), TOOL_RESULT);

    second.respondAll('resources/subscribe');
    await tick();
    second.notify('notifications/resources/updated', { uri: 'file:///r' });
    assert.equal(a.notifications('notifications/resources/updated').length, 1, 'updates flow again');
    assert.equal(second.requests('initialize').length, 1);
    assert.deepEqual(a.responses().map((response) => response.id).filter((id) => id === 0), [], 'the client is never re-initialized');
  });

  test('messages from a child that is gone are ignored', async (t) => {
    const h = createHarness(t);
    const first = h.upstream;
    const a = await h.ready();
    a.call(1, 'tools/call', { name: 'x' });
    const call = first.request('tools/call');
    h.restart();
    a.clear();
    first.respond(call, TOOL_RESULT);
    first.notify('notifications/tools/list_changed');
    assert.deepEqual(a.received, []);
  });

  test('clients are told list_changed when the new child answers differently, not when it answers the same', async (t) => {
    const h = createHarness(t);
    const a = await h.ready();
    h.restart().completeInitialize();
    await tick();
    assert.deepEqual(a.notifications(), [], 'same server: nothing to announce');

    h.restart().completeInitialize({ ...INIT_RESULT, serverInfo: { name: 'fake-server', version: '2.0.0' } });
    await tick();
    assert.deepEqual(a.notifications().map((n) => n.method).sort(), [
      'notifications/prompts/list_changed',
      'notifications/resources/list_changed',
      'notifications/tools/list_changed',
    ]);
  });

  test('a child replaced during its handshake: the new child\'s handshake serves the waiting clients', async (t) => {
    const failures: string[] = [];
    const h = createHarness(t, { onUpstreamFailure: (reason) => failures.push(reason) });
    const a = h.connect();
    a.initialize(1);
    assert.equal(h.upstream.requests('initialize').length, 1);
    // The supervisor attaches a replacement without a closed() first.
    const second = new FakeUpstream(h.mux);
    h.upstream = second;
    await tick();
    assert.deepEqual(a.received, [], 'the old child\'s handshake failing is not this child\'s failure');
    assert.deepEqual(failures, []);
    second.completeInitialize();
    await tick();
    assert.deepEqual(resultOf(a.responseTo(1)), INIT_RESULT);
    assert.equal(h.mux.upstreamState, UpstreamState.Ready);
  });

  test('server requests routed to a client are cancelled toward it when the child exits', async (t) => {
    const h = createHarness(t);
    const a = await h.ready({ sampling: {} });
    h.upstream.ask(1, 'sampling/createMessage', { messages: [], maxTokens: 1 });
    const routed = a.request('sampling/createMessage');
    const second = h.restart();
    assert.deepEqual(a.notifications('notifications/cancelled').map((n) => n.params?.['requestId']), [routed.id]);
    a.respond(routed.id, { role: 'assistant', content: { type: 'text', text: 'late' }, model: 'm' });
    assert.deepEqual(second.responses(), [], 'the new child gets no answer to the old child\'s request');
  });
});

describe('availability and timeouts', () => {
  test('setUnavailable fails queued requests and waiting initializes, and refuses new ones until lifted', async (t) => {
    const h = createHarness(t);
    const a = await h.ready();
    h.upstream.handle.closed('stopped');
    a.call(1, 'tools/call', { name: 'queued' });
    const b = h.connect();
    b.initialize(1);
    assert.deepEqual(a.responses(), []);

    h.mux.setUnavailable("service 'test' is stopped");
    assert.equal(errorOf(a.responseTo(1)).code, ErrorCodes.ServiceUnavailable);
    assert.match(errorOf(a.responseTo(1)).message, /stopped/);
    assert.equal(errorOf(b.responseTo(1)).code, ErrorCodes.ServiceUnavailable);
    assert.equal(h.mux.stats().queued, 0);
    a.call(2, 'tools/call', { name: 'new' });
    assert.equal(errorOf(a.responseTo(2)).code, ErrorCodes.ServiceUnavailable);

    h.mux.setUnavailable(undefined);
    const second = new FakeUpstream(h.mux);
    h.upstream = second;
    second.completeInitialize();
    await tick();
    a.call(3, 'tools/call', { name: 'works' });
    second.respond(second.request('tools/call'), TOOL_RESULT);
    assert.deepEqual(resultOf(a.responseTo(3)), TOOL_RESULT);
    assert.ok(!second.requests('tools/call').some((call) => call.params?.['name'] === 'queued'), 'failed requests are not sent later');
  });

  test('a handshake that times out fails the waiting clients and never cancels initialize', async (t) => {
    const failures: string[] = [];
    const clock = new ManualClock();
    const { upstream, connect, mux } = createHarness(t, { requestTimeoutMs: 30, clock, onUpstreamFailure: (reason) => failures.push(reason) });
    const a = connect();
    a.initialize(1);
    clock.advance(29);
    await tick();
    assert.deepEqual(a.responses(), [], 'not before the timeout');
    clock.advance(1);
    await tick();
    assert.equal(errorOf(a.responseTo(1)).code, ErrorCodes.UpstreamInitializeFailed);
    assert.equal(mux.upstreamState, UpstreamState.Failed);
    assert.equal(failures.length, 1);
    // MCP: the initialize request must not be cancelled.
    assert.deepEqual(upstream.notifications('notifications/cancelled'), []);
    const b = connect();
    b.initialize(2);
    assert.equal(errorOf(b.responseTo(2)).code, ErrorCodes.UpstreamInitializeFailed, 'later clients are told at once');
  });

  test('a request timeout answers the client with an error and cancels upstream', async (t) => {
    const clock = new ManualClock();
    const { upstream, ready } = createHarness(t, { requestTimeoutMs: 40, clock });
    const a = await ready();
    const b = await ready();
    a.call('slow', 'tools/call', { name: 'slow' });
    const call = upstream.request('tools/call');
    clock.advance(40);
    const error = errorOf(a.responseTo('slow'));
    assert.equal(error.code, ErrorCodes.RequestTimeout);
    assert.deepEqual(upstream.notifications('notifications/cancelled').map((n) => n.params?.['requestId']), [call.id]);
    upstream.respond(call, TOOL_RESULT);
    assert.equal(a.responses().length, 1, 'the late answer is dropped');
    assert.deepEqual(b.received, []);
  });
});

describe('end of input', () => {
  test('end() closes the client only after its in-flight answers are delivered', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.call(1, 'tools/call', { name: 'x' });
    a.call(2, 'tools/call', { name: 'y' });
    a.handle.end();
    assert.ok(!a.closed);
    const [x, y] = upstream.requests('tools/call');
    upstream.respond(y!, { which: 'y' });
    assert.ok(!a.closed, 'one answer still owed');
    upstream.respond(x!, { which: 'x' });
    assert.deepEqual(
      a.events.map((event) => (event.type === 'close' ? 'close' : (event.message as { id: JsonRpcId }).id)),
      [2, 1, 'close'],
    );
  });

  test('end() with nothing in flight closes at once', async (t) => {
    const { ready } = createHarness(t);
    const a = await ready();
    a.handle.end();
    assert.ok(a.closed);
  });

  test('end() right after initialize waits for the initialize answer', async (t) => {
    const { upstream, connect } = createHarness(t);
    const a = connect();
    a.initialize(1);
    a.handle.end();
    assert.ok(!a.closed, 'the initialize answer is still owed');
    upstream.completeInitialize();
    await tick();
    assert.deepEqual(
      a.events.map((event) => event.type),
      ['send', 'close'],
    );
    assert.deepEqual(resultOf(a.responseTo(1)), INIT_RESULT);
  });

  test('end() while a subscribe waits for the server waits for its answer', async (t) => {
    const { upstream, ready } = createHarness(t);
    const a = await ready();
    a.call(1, 'resources/subscribe', { uri: 'file:///r' });
    a.handle.end();
    assert.ok(!a.closed, 'the subscribe answer is still owed');
    upstream.respondAll('resources/subscribe');
    await tick();
    assert.deepEqual(resultOf(a.responseTo(1)), {});
    assert.ok(a.closed);
  });
});

describe('hostile input', () => {
  test('a request the child\'s transport refuses fails at once with its error; the next one goes through', async (t) => {
    const h = createHarness(t);
    const client = await h.ready();
    h.upstream.refusing = { code: ErrorCodes.ChildBufferFull, message: 'full' };
    client.call(1, 'tools/call', { name: 'x' });
    assert.equal(errorOf(client.responseTo(1)).code, ErrorCodes.ChildBufferFull);
    assert.equal(h.mux.stats().inflight, 0, 'nothing left in flight');
    h.upstream.refusing = undefined;
    client.call(2, 'tools/call', { name: 'x' });
    h.upstream.respondAll('tools/call', TOOL_RESULT);
    assert.deepEqual(resultOf(client.responseTo(2)), TOOL_RESULT);
  });

  test('requests waiting for the handshake are bounded in bytes: past maxQueuedBytes they fail at once', (t) => {
    const h = createHarness(t, { maxQueuedBytes: 1000 });
    const client = h.connect();
    client.initialize(0);
    for (let id = 1; id <= 4; id++) client.handle.receive({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'x' } }, 400);
    assert.equal(h.mux.stats().queued, 2, 'two of 400 bytes fit in 1000');
    assert.deepEqual([errorOf(client.responseTo(3)).code, errorOf(client.responseTo(4)).code], [ErrorCodes.ChildBufferFull, ErrorCodes.ChildBufferFull]);
    // A cancelled one frees its place.
    client.notify('notifications/cancelled', { requestId: 1 });
    client.handle.receive({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'x' } }, 400);
    assert.equal(h.mux.stats().queued, 2);
    assert.equal(client.responsesTo(5).length, 0, 'queued, not refused');
  });

  test('the handshake muxd replays after a restart holds only the fields it checked, not what the client added', async (t) => {
    const h = createHarness(t);
    const client = h.connect();
    client.call(0, 'initialize', {
      protocolVersion: '2025-06-18',
      capabilities: { sampling: {} },
      clientInfo: { name: 'n'.repeat(10_000), version: '1', extra: [[[[]]]] },
      poison: { deep: [[[[[[]]]]]] },
    });
    h.upstream.completeInitialize();
    await tick();
    const second = h.restart();
    const replayed = second.request('initialize').params as JsonObject;
    assert.deepEqual(Object.keys(replayed).sort(), ['capabilities', 'clientInfo', 'protocolVersion']);
    assert.deepEqual(Object.keys(replayed['clientInfo'] as JsonObject).sort(), ['name', 'version']);
    assert.equal(((replayed['clientInfo'] as JsonObject)['name'] as string).length, 256);
  });

  test('an initialize without a usable protocolVersion is refused alone and sets nothing upstream', (t) => {
    const h = createHarness(t);
    const client = h.connect();
    client.call(0, 'initialize', { protocolVersion: { nested: true }, capabilities: {} });
    assert.equal(errorOf(client.responseTo(0)).code, ErrorCodes.InvalidParams);
    assert.equal(h.upstream.requests('initialize').length, 0);
    client.initialize(1);
    assert.equal(h.upstream.requests('initialize').length, 1, 'a good initialize after it works');
  });
});

describe('bounds on what a server can make muxd hold', () => {
  test('requests of the server to a client that never answers stop at maxInflight; the rest are refused upstream', async (t) => {
    const h = createHarness(t, { maxInflight: 4 });
    const client = await h.ready({ sampling: {} });
    for (let id = 1; id <= 10; id++) h.upstream.ask(id, 'sampling/createMessage', { messages: [], maxTokens: 1 });
    assert.equal(client.requests('sampling/createMessage').length, 4);
    const refused = h.upstream.responses().filter((response) => errorOf(response).code === ErrorCodes.TooManyRequests);
    assert.deepEqual(refused.map((response) => response.id), [5, 6, 7, 8, 9, 10]);
  });

  test('status of a task nobody owns yet is held for its newest 16 notifications only', async (t) => {
    const h = createHarness(t);
    const client = await h.ready({ tasks: {} });
    client.call(1, 'tools/call', { name: 'long', task: { ttl: 1000 } });
    for (let n = 0; n < 1000; n++) h.upstream.notify('notifications/tasks/status', { taskId: 'early', status: 'working', statusMessage: String(n) });
    h.upstream.respond(h.upstream.request('tools/call'), { task: { taskId: 'early', status: 'working' } });
    const delivered = client.notifications('notifications/tasks/status').map((n) => n.params?.['statusMessage']);
    assert.deepEqual(delivered, Array.from({ length: 16 }, (_, k) => String(984 + k)));
  });
});

describe('protocol versions', () => {
  const SERVER_RESULT = {
    protocolVersion: '2025-11-25',
    capabilities: { tools: {}, completions: {}, tasks: { list: {} }, logging: {} },
    serverInfo: { name: 'fake-server', version: '1.0.0' },
  };
  const VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'];

  for (const order of [VERSIONS, [...VERSIONS].reverse(), ['2025-06-18', '2025-11-25', '2024-11-05', '2025-03-26']]) {
    test(`each client is answered in the version it asked for, whoever came first (${order.join(', ')})`, async (t) => {
      const h = createHarness(t);
      const clients = order.map((version, index) => {
        const client = h.connect();
        client.call(index, 'initialize', { protocolVersion: version, capabilities: {}, clientInfo: { name: version, version: '1' } });
        if (index === 0) h.upstream.completeInitialize(SERVER_RESULT);
        return client;
      });
      await tick();
      assert.equal(h.upstream.requests('initialize').length, 1, 'one child, one handshake');
      for (const [index, version] of order.entries()) {
        const result = resultOf(clients[index]!.responseTo(index));
        assert.equal(result['protocolVersion'], version);
        const capabilities = Object.keys(result['capabilities'] as JsonObject).sort();
        const expected = ['logging', 'tools', ...(version >= '2025-03-26' ? ['completions'] : []), ...(version >= '2025-11-25' ? ['tasks'] : [])].sort();
        assert.deepEqual(capabilities, expected, `capabilities defined in ${version}`);
      }
    });
  }

  test('a client asking a version newer than the server\'s, or one muxd does not know, gets the server\'s', async (t) => {
    const h = createHarness(t);
    const newer = h.connect();
    newer.call(1, 'initialize', { protocolVersion: '2025-11-25', capabilities: {} });
    h.upstream.completeInitialize({ ...SERVER_RESULT, protocolVersion: '2025-03-26' });
    const unknown = h.connect();
    unknown.call(2, 'initialize', { protocolVersion: '2099-01-01', capabilities: {} });
    await tick();
    assert.equal(resultOf(newer.responseTo(1))['protocolVersion'], '2025-03-26');
    assert.equal(resultOf(unknown.responseTo(2))['protocolVersion'], '2025-03-26');
  });

  test('content a client\'s version does not define reaches it as text; newer clients get it as the server sent it', async (t) => {
    const h = createHarness(t);
    const clients = VERSIONS.map((version, index) => {
      const client = h.connect();
      client.call('init', 'initialize', { protocolVersion: version, capabilities: {} });
      if (index === 0) h.upstream.completeInitialize(SERVER_RESULT);
      return client;
    });
    await tick();
    const blocks = [
      { type: 'text', text: 'plain' },
      { type: 'resource_link', uri: 'file:///a.txt', name: 'a.txt' },
      { type: 'audio', data: 'AAAA', mimeType: 'audio/wav' },
    ];
    for (const client of clients) client.call(1, 'tools/call', { name: 'x' });
    for (const request of h.upstream.unanswered('tools/call')) h.upstream.respond(request, { content: blocks });
    const typesOf = (client: FakeClient) => ((resultOf(client.responseTo(1))['content'] as JsonObject[]).map((block) => block['type']));
    assert.deepEqual(typesOf(clients[0]!), ['text', 'text', 'text'], '2024-11-05');
    assert.deepEqual(typesOf(clients[1]!), ['text', 'text', 'audio'], '2025-03-26');
    assert.deepEqual(typesOf(clients[2]!), ['text', 'resource_link', 'audio'], '2025-06-18');
    assert.deepEqual(typesOf(clients[3]!), ['text', 'resource_link', 'audio'], '2025-11-25');
    assert.match(String((resultOf(clients[0]!.responseTo(1))['content'] as JsonObject[])[1]!['text']), /a\.txt: file:\/\/\/a\.txt/);
  });
});

describe('a child that ends before its handshake', () => {
  test('clients waiting for it are told at once, with the reason and its stderr; so is a client arriving before the next child', async (t) => {
    const h = createHarness(t);
    const waiting = h.connect();
    waiting.initialize(1);
    h.upstream.handle.closed('exited with exit code 1', { failed: true, stderrTail: 'cannot read config' });
    const error = errorOf(waiting.responseTo(1));
    assert.equal(error.code, ErrorCodes.UpstreamInitializeFailed);
    assert.match(error.message, /exit code 1.*cannot read config/);
    const late = h.connect();
    late.initialize(2);
    assert.equal(errorOf(late.responseTo(2)).code, ErrorCodes.UpstreamInitializeFailed, 'no wait for the backoff');
    // The next child comes up: clients are served again.
    const next = new FakeUpstream(h.mux);
    const again = h.connect();
    again.initialize(3);
    next.completeInitialize();
    await tick();
    resultOf(again.responseTo(3));
  });

  test('a stop muxd asked for is no failure: a client arriving after it waits for the next child', async (t) => {
    const h = createHarness(t);
    h.upstream.handle.closed('stopped (idle)', { failed: false });
    const client = h.connect();
    client.initialize(1);
    assert.deepEqual(client.responses(), []);
  });
});

describe('batches answered at once', () => {
  test('a batch whose every member is refused at once is answered once, as one array', async (t) => {
    const h = createHarness(t);
    const early = h.connect();
    early.raw([{ jsonrpc: '2.0', id: '1', method: 'prompts/list' }, { jsonrpc: '2.0', id: '2', method: 'tools/list' }]);
    assert.equal(early.batches.length, 1, 'before initialize: one array, not one per refusal');
    assert.deepEqual(early.batches[0]!.map((response) => response.id), ['1', '2']);
    const client = await h.ready({ tasks: {} });
    client.raw([{ jsonrpc: '2.0', id: 'x', method: 'tasks/cancel', params: { taskId: 'nobody' } }, { jsonrpc: '2.0', id: 'y' }]);
    assert.equal(client.batches.length, 1);
    assert.deepEqual(client.batches[0]!.map((response) => ('error' in response ? response.error.code : 0)), [ErrorCodes.InvalidRequest, ErrorCodes.InvalidParams]);
  });
});

describe('names every JavaScript object has', () => {
  test('methods named __proto__, constructor or toString are forwarded like any other, both ways', async (t) => {
    const h = createHarness(t);
    const client = await h.ready({ sampling: {} });
    for (const [id, method] of [[1, '__proto__'], [2, 'constructor'], [3, 'toString'], [4, 'hasOwnProperty']] as const) client.call(id, method);
    assert.deepEqual(h.upstream.requests().filter((request) => request.method !== 'initialize').map((request) => request.method), ['__proto__', 'constructor', 'toString', 'hasOwnProperty']);
    h.upstream.respondAll('__proto__', { ok: true });
    assert.deepEqual(resultOf(client.responseTo(1)), { ok: true });
    client.notify('__proto__');
    assert.equal(h.upstream.notifications('__proto__').length, 1);
    h.upstream.notify('__proto__', {});
    assert.equal(client.notifications('__proto__').length, 1, 'an unknown notification from the server is broadcast');
    h.upstream.ask(9, '__proto__', {});
    assert.equal(client.requests('__proto__').length, 1, 'a server request of that name reaches a client, needing no capability');
  });
});
