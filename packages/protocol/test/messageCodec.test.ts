import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCodes } from '../src/errorCodes.js';
import { errorResponse } from '../src/jsonrpc.js';
import { MAX_JSON_DEPTH, decodeMessage, describeId, encodeMessage, failureResponses, isExactNumberId, nestsDeeperThan, valueTextAt } from '../src/messageCodec.js';

const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);

describe('nestsDeeperThan', () => {
  test('counts arrays and objects, not brackets inside strings', () => {
    assert.equal(nestsDeeperThan(Buffer.from(nested(MAX_JSON_DEPTH)), MAX_JSON_DEPTH), false);
    assert.equal(nestsDeeperThan(Buffer.from(nested(MAX_JSON_DEPTH + 1)), MAX_JSON_DEPTH), true);
    assert.equal(nestsDeeperThan(Buffer.from(`{"a":"${'['.repeat(5000)}"}`), MAX_JSON_DEPTH), false);
    // An escaped quote does not end the string; an escaped backslash before a quote does.
    assert.equal(nestsDeeperThan(Buffer.from(`["\\"${'{'.repeat(500)}"]`), MAX_JSON_DEPTH), false);
    assert.equal(nestsDeeperThan(Buffer.from(`["\\\\"${','.repeat(200)}${'['.repeat(200)}`), MAX_JSON_DEPTH), true);
  });
});

describe('decodeMessage', () => {
  test('a request nested deeper than the limit is refused unparsed, under its own id', () => {
    const line = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"arguments":${nested(5000)}}}`;
    const decoded = decodeMessage(Buffer.from(line));
    assert.equal(decoded.ok, false);
    if (decoded.ok) return;
    assert.equal(decoded.failure.code, ErrorCodes.NestedTooDeep);
    assert.deepEqual(failureResponses(decoded.failure), errorResponse(7, ErrorCodes.NestedTooDeep, decoded.failure.message));
  });

  test('ids of a deep line are read wherever they sit, however long, exact, and per member of a batch', () => {
    const deep = nested(300);
    const longId = 'i'.repeat(5000);
    const line = `[{"jsonrpc":"2.0","id":"${longId}","method":"ping","params":{"x":${deep}}},{"jsonrpc":"2.0","method":"notifications/x"},{"params":{"x":${deep}},"method":"ping","id":9007199254740993,"jsonrpc":"2.0"},{"jsonrpc":"2.0","id":3,"result":{"x":${deep}}}]`;
    const decoded = decodeMessage(Buffer.from(line));
    assert.equal(decoded.ok, false);
    if (decoded.ok) return;
    assert.equal(decoded.failure.batch, true);
    assert.equal(decoded.failure.requests[0], longId);
    assert.equal(describeId(decoded.failure.requests[1] as string), '9007199254740993');
    assert.deepEqual(decoded.failure.answers, [3]);
    const owed = failureResponses(decoded.failure) as unknown[];
    assert.equal(owed.length, 2, 'one error per request, none for the notification or the answer');
    assert.match(encodeMessage(owed) as string, /"id":9007199254740993,/);
  });

  test('a deep line that is not JSON either is still refused without a hang', () => {
    for (const line of [`{"id":\f1,"method":${'['.repeat(300)}`, `[${'{"a":'.repeat(300)}\v`, `{"id":"${'\\'.repeat(10)}`.padEnd(400, '[')]) {
      const decoded = decodeMessage(Buffer.from(line));
      assert.equal(decoded.ok, false);
    }
  });

  test('a deep notification is refused as no request', () => {
    const decoded = decodeMessage(Buffer.from(`{"jsonrpc":"2.0","method":"notifications/x","params":{"a":${nested(200)}}}`));
    assert.equal(decoded.ok, false);
    if (!decoded.ok) assert.equal(failureResponses(decoded.failure), undefined);
  });

  test('bad JSON is a parse error with a null id', () => {
    const decoded = decodeMessage(Buffer.from('{"jsonrpc":'));
    assert.equal(decoded.ok, false);
    if (!decoded.ok) assert.deepEqual(failureResponses(decoded.failure), errorResponse(null, ErrorCodes.ParseError, decoded.failure.message));
  });

  test('ids and progress tokens come back byte for byte, whatever number they are', () => {
    for (const raw of ['9007199254740993', '-9007199254740993', '12345678901234567890123', '1.0', '1e3', '-0', '0.10', '1.5', '7', '1e400', '-1E400']) {
      const line = `{"jsonrpc":"2.0","id":${raw},"method":"x","params":{"_meta":{"progressToken":${raw}}}}`;
      const decoded = decodeMessage(Buffer.from(line));
      assert.ok(decoded.ok);
      const message = decoded.message as { id: unknown; params: { _meta: { progressToken: unknown } } };
      const reply = encodeMessage({ jsonrpc: '2.0', id: message.id, result: { token: message.params._meta.progressToken } });
      assert.equal(reply, `{"jsonrpc":"2.0","id":${raw},"result":{"token":${raw}}}\n`, raw);
      assert.equal(describeId(message.id as string | number), raw);
    }
  });

  test('an exact id stays distinct from the string with the same text, and from a near number', () => {
    const big = decodeMessage(Buffer.from('{"jsonrpc":"2.0","id":9007199254740993,"method":"x"}'));
    const near = decodeMessage(Buffer.from('{"jsonrpc":"2.0","id":9007199254740992,"method":"x"}'));
    assert.ok(big.ok && near.ok);
    const bigId = (big.message as { id: unknown }).id;
    assert.ok(isExactNumberId(bigId));
    assert.notEqual(bigId, '9007199254740993');
    assert.equal((near.message as { id: unknown }).id, 9007199254740992);
  });

  test('members of a batch keep their ids exact too; a nested "id" is not mistaken for the top-level one', () => {
    const decoded = decodeMessage(Buffer.from('[{"jsonrpc":"2.0","method":"x","params":{"id":1},"id":1.0},{"jsonrpc":"2.0","id":18446744073709551617,"method":"y"}]'));
    assert.ok(decoded.ok);
    const encoded = encodeMessage((decoded.message as Array<{ id: unknown }>).map(({ id }) => ({ id })));
    assert.equal(encoded, '[{"id":1.0},{"id":18446744073709551617}]\n');
  });

  test('the top-level id is told from nested ones wherever an SDK writes it', () => {
    for (const [line, expected] of [
      ['{"jsonrpc":"2.0","id":7,"result":{"items":[{"id":7},{"id":8}]}}', '{"id":7}'],
      ['{"result":{"items":[{"id":1}]},"jsonrpc":"2.0","id":1.0}', '{"id":1.0}'],
      ['{"result":{"items":[{"id":1.0}]},"jsonrpc":"2.0","id":1}', '{"id":1}'],
      ['{"result":{"a":{"id":3}},"id":3 }\n', '{"id":3}'],
    ] as const) {
      const decoded = decodeMessage(Buffer.from(line));
      assert.ok(decoded.ok);
      assert.equal(encodeMessage({ id: (decoded.message as { id: unknown }).id }), `${expected}\n`, line);
    }
  });

  test('a string that looks like a tag without the secret nonce stays a string', () => {
    const decoded = decodeMessage(Buffer.from('{"jsonrpc":"2.0","id":"\\u0000muxd-number-0000000000000000:5","method":"x"}'));
    assert.ok(decoded.ok);
    assert.equal(encodeMessage({ id: (decoded.message as { id: unknown }).id }), '{"id":"\\u0000muxd-number-0000000000000000:5"}\n');
  });
});

describe('encodeMessage', () => {
  test('returns undefined rather than throwing on what cannot be serialized', () => {
    let deep: unknown[] = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(encodeMessage(deep), undefined);
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    assert.equal(encodeMessage(cycle), undefined);
    assert.equal(encodeMessage({ big: 1n }), undefined);
  });
});

describe('valueTextAt', () => {
  test('finds a value by path, skipping nested values and strings with brackets', () => {
    const text = '{"a":{"x":"]}\\"","id":[1,{"id":2}]}, "id" : 1.50 ,"b":[0,{"c":-0}]}';
    assert.equal(valueTextAt(text, ['id']), '1.50');
    assert.equal(valueTextAt(text, ['b', 1, 'c']), '-0');
    assert.equal(valueTextAt(text, ['a', 'id', 1, 'id']), '2');
    assert.equal(valueTextAt(text, ['missing']), undefined);
  });
});
