import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { REPLAY_ID_PREFIX, ResponseScanner, SessionState, sniffEnvelope } from '../src/sessionState.js';

const line = (message: unknown): Buffer => Buffer.from(JSON.stringify(message));
/** A request as the MCP TypeScript SDK writes it: method and params first, the id last. */
const sdkRequest = (id: number | string, method: string, params: unknown): Buffer => line({ method, params, jsonrpc: '2.0', id });

describe('sniffEnvelope', () => {
  test('reads method and id of a request in the SDK key order without parsing it', () => {
    assert.deepEqual(sniffEnvelope(sdkRequest(7, 'tools/call', { name: 'echo', arguments: { message: 'x'.repeat(100_000) } })), { method: 'tools/call', id: 7 });
  });

  test('reads a leading id and a string id', () => {
    assert.deepEqual(sniffEnvelope(line({ jsonrpc: '2.0', id: 'a"b', method: 'tools/list' })), { method: 'tools/list', id: 'a"b' });
  });

  test('is unsure, so the line gets parsed, when a nested id could be mistaken for the request id', () => {
    assert.equal(sniffEnvelope(line({ method: 'tools/call', params: { id: 5 } })), undefined);
    assert.equal(sniffEnvelope(line({ params: { method: 'x' }, method: 'tools/call', id: 1 })), undefined);
  });

  test('gives notifications no id', () => {
    assert.deepEqual(sniffEnvelope(line({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3 } })), { method: 'notifications/cancelled', id: undefined });
  });

  test('does not take a string value that mentions "method" for the method', () => {
    assert.equal(sniffEnvelope(line({ note: '"method":"initialize"', id: 1 })), undefined);
  });
});

describe('SessionState', () => {
  test('tracks requests in flight until answered, and hands them over once', () => {
    const state = new SessionState();
    state.fromHost(sdkRequest(1, 'tools/call', { name: 'echo', arguments: { message: 'a' } }));
    state.fromHost(sdkRequest('two', 'tools/list', {}));
    state.fromHost(line({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } }));
    state.answered(1);
    assert.deepEqual(state.takeInflight(), ['two']);
    assert.deepEqual(state.takeInflight(), []);
  });

  test('does not count the host answering a server request as a request in flight', () => {
    const state = new SessionState();
    state.fromHost(line({ jsonrpc: '2.0', id: 4, result: { roots: [] } }));
    assert.deepEqual(state.takeInflight(), []);
  });

  test('skips lines that are not JSON (muxd answers those)', () => {
    const state = new SessionState();
    state.fromHost(Buffer.from('{"method":"tools/call","id":1'));
    state.fromHost(Buffer.from('not json'));
    assert.deepEqual(state.takeInflight(), []);
  });

  test('replays initialize, initialized, live subscriptions and the log level under its own ids', () => {
    const state = new SessionState();
    const params = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'host', version: '1' } };
    state.fromHost(sdkRequest(0, 'initialize', params));
    state.fromHost(line({ method: 'notifications/initialized', jsonrpc: '2.0' }));
    state.fromHost(sdkRequest(1, 'resources/subscribe', { uri: 'test://a' }));
    state.fromHost(sdkRequest(2, 'resources/subscribe', { uri: 'test://b' }));
    state.fromHost(sdkRequest(3, 'resources/unsubscribe', { uri: 'test://a' }));
    state.fromHost(sdkRequest(4, 'logging/setLevel', { level: 'debug' }));
    const replay = state.replay();
    const messages = replay.lines.trim().split('\n').map((text) => JSON.parse(text) as { id?: string; method: string; params?: unknown });
    assert.deepEqual(
      messages.map((m) => [m.method, m.params]),
      [
        ['initialize', params],
        ['notifications/initialized', undefined],
        ['resources/subscribe', { uri: 'test://b' }],
        ['logging/setLevel', { level: 'debug' }],
      ],
    );
    const ids = messages.flatMap((m) => (m.id === undefined ? [] : [m.id]));
    assert.ok(ids.every((id) => id.startsWith(REPLAY_ID_PREFIX)));
    assert.deepEqual([...replay.ids].sort(), [...ids].sort());
  });

  test('replays nothing before the host initialized', () => {
    assert.equal(new SessionState().replay().lines, '');
  });
});

describe('ResponseScanner', () => {
  test('reports response ids across chunk boundaries and the shutdown notice', () => {
    const ids: Array<string | number> = [];
    let shutdown = false;
    const scanner = new ResponseScanner({ onResponse: (id) => ids.push(id), onShutdown: () => (shutdown = true) });
    const text = '{"jsonrpc":"2.0","id":12,"result":{}}\n{"jsonrpc":"2.0","method":"notifications/message","params":{}}\n{"jsonrpc":"2.0","id":"x","error":{"code":1,"message":"m"}}\n{"jsonrpc":"2.0","method":"muxd/shutdown"}\n';
    for (let i = 0; i < text.length; i += 7) scanner.push(Buffer.from(text.slice(i, i + 7)));
    assert.deepEqual(ids, [12, 'x']);
    assert.equal(shutdown, true);
    assert.equal(scanner.atLineStart, true);
  });
});
