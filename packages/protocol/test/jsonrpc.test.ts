import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MessageKind,
  classifyMessage,
  errorResponse,
  isFailure,
  isNotification,
  isRequest,
  isResponse,
  successResponse,
} from '../src/jsonrpc.js';

describe('classifyMessage', () => {
  const cases: Array<[string, unknown, MessageKind]> = [
    ['a request with a number id', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, MessageKind.Request],
    ['a request with id 0', { jsonrpc: '2.0', id: 0, method: 'ping' }, MessageKind.Request],
    ['a request with a string id and object params', { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'x' } }, MessageKind.Request],
    ['a notification (no id member)', { jsonrpc: '2.0', method: 'notifications/initialized' }, MessageKind.Notification],
    ['a notification with params', { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } }, MessageKind.Notification],
    ['a success response', { jsonrpc: '2.0', id: 3, result: {} }, MessageKind.Response],
    ['a success response with a string id', { jsonrpc: '2.0', id: 'x', result: { tools: [] } }, MessageKind.Response],
    ['an error response', { jsonrpc: '2.0', id: 3, error: { code: -32601, message: 'no' } }, MessageKind.Response],
    ['an error response with a null id', { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse' } }, MessageKind.Response],

    ['a batch (array)', [{ jsonrpc: '2.0', id: 1, method: 'ping' }], MessageKind.Invalid],
    ['null', null, MessageKind.Invalid],
    ['a string', 'ping', MessageKind.Invalid],
    ['no jsonrpc member', { id: 1, method: 'ping' }, MessageKind.Invalid],
    ['jsonrpc 1.0', { jsonrpc: '1.0', id: 1, method: 'ping' }, MessageKind.Invalid],
    ['positional (array) params', { jsonrpc: '2.0', id: 1, method: 'm', params: [1, 2] }, MessageKind.Invalid],
    ['null params', { jsonrpc: '2.0', id: 1, method: 'm', params: null }, MessageKind.Invalid],
    ['a non-string method', { jsonrpc: '2.0', id: 1, method: 5 }, MessageKind.Invalid],
    ['a request with a null id', { jsonrpc: '2.0', id: null, method: 'm' }, MessageKind.Invalid],
    ['a request with an object id', { jsonrpc: '2.0', id: { n: 1 }, method: 'm' }, MessageKind.Invalid],
    ['a request with a boolean id', { jsonrpc: '2.0', id: true, method: 'm' }, MessageKind.Invalid],
    ['both result and error', { jsonrpc: '2.0', id: 1, result: {}, error: { code: 1, message: 'x' } }, MessageKind.Invalid],
    ['neither result nor error nor method', { jsonrpc: '2.0', id: 1 }, MessageKind.Invalid],
    ['a success response with a null id', { jsonrpc: '2.0', id: null, result: {} }, MessageKind.Invalid],
    ['a success response without an id', { jsonrpc: '2.0', result: {} }, MessageKind.Invalid],
    ['a non-object result', { jsonrpc: '2.0', id: 1, result: 'ok' }, MessageKind.Invalid],
    ['an error without a numeric code', { jsonrpc: '2.0', id: 1, error: { code: '-32600', message: 'x' } }, MessageKind.Invalid],
    ['an error that is a string', { jsonrpc: '2.0', id: 1, error: 'boom' }, MessageKind.Invalid],
    ['an error response without an id', { jsonrpc: '2.0', error: { code: -32600, message: 'x' } }, MessageKind.Invalid],
  ];
  for (const [name, value, kind] of cases) {
    test(`${name} is ${kind}`, () => assert.equal(classifyMessage(value), kind));
  }

  test('a request is judged by its shape, not by its id alone', () => {
    // Same id, different shapes: the id never makes a response look like a request.
    assert.equal(classifyMessage({ jsonrpc: '2.0', id: 9, method: 'm', result: {} }), MessageKind.Request);
    assert.equal(classifyMessage({ jsonrpc: '2.0', id: 9, result: {} }), MessageKind.Response);
  });
});

describe('type guards and builders', () => {
  test('isRequest, isNotification and isResponse agree with classifyMessage', () => {
    const request = { jsonrpc: '2.0', id: 1, method: 'ping' };
    const notification = { jsonrpc: '2.0', method: 'notifications/initialized' };
    const response = { jsonrpc: '2.0', id: 1, result: {} };
    assert.deepEqual([isRequest(request), isNotification(request), isResponse(request)], [true, false, false]);
    assert.deepEqual([isRequest(notification), isNotification(notification), isResponse(notification)], [false, true, false]);
    assert.deepEqual([isRequest(response), isNotification(response), isResponse(response)], [false, false, true]);
  });

  test('errorResponse leaves data out when undefined and keeps it otherwise', () => {
    assert.deepEqual(errorResponse(1, -32601, 'Unknown method'), { jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'Unknown method' } });
    assert.equal('data' in errorResponse(null, -32700, 'x').error, false);
    assert.deepEqual(errorResponse('a', -32050, 'no', { code: 'MUX_X' }).error, { code: -32050, message: 'no', data: { code: 'MUX_X' } });
    assert.equal(classifyMessage(errorResponse(null, -32700, 'x')), MessageKind.Response);
  });

  test('isFailure tells errors from results', () => {
    assert.equal(isFailure(errorResponse(1, -1, 'x')), true);
    assert.equal(isFailure(successResponse(1, {})), false);
  });
});
