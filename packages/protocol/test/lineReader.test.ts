import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EDGE_BYTES, LineReader, sniffRequestId, sniffResponseId } from '../src/lineReader.js';
import type { Overflow } from '../src/lineReader.js';

/** A reader that records what it delivers, as text. */
function createReader(maxLineBytes = 1024 * 1024) {
  const lines: string[] = [];
  const overflows: Overflow[] = [];
  const reader = new LineReader({
    maxLineBytes,
    onLine: (line) => lines.push(line.toString('utf8')),
    onOverflow: (overflow) => overflows.push(overflow),
  });
  const push = (...chunks: Array<string | Buffer>) => {
    for (const chunk of chunks) reader.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  };
  return { reader, lines, overflows, push };
}

describe('LineReader', () => {
  test('joins a line split across chunks and splits several lines in one chunk', () => {
    const { lines, push } = createReader();
    push('{"a"', ':1}\n{"b":2}\n{"c"');
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
    push(':3}', '\n');
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  test('a UTF-8 character split between two chunks arrives whole', () => {
    const { lines, push } = createReader();
    const text = '{"text":"caf\u00e9 \u20ac \u{1F600}"}';
    const bytes = Buffer.from(text + '\n');
    // Cut inside the 3-byte euro sign and inside the 4-byte emoji.
    const euro = bytes.indexOf(Buffer.from('\u20ac'));
    const emoji = bytes.indexOf(Buffer.from('\u{1F600}'));
    push(bytes.subarray(0, euro + 1), bytes.subarray(euro + 1, emoji + 2), bytes.subarray(emoji + 2));
    assert.deepEqual(lines, [text]);
  });

  test('strips the \\r of \\r\\n line endings, including when the \\r ends a chunk', () => {
    const { lines, push } = createReader();
    push('one\r\ntwo\r', '\nthree\n');
    assert.deepEqual(lines, ['one', 'two', 'three']);
  });

  test('skips empty lines', () => {
    const { lines, push } = createReader();
    push('\n\n{"a":1}\n\r\n\n', '\n{"b":2}\n');
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
  });

  test('holds an unterminated line until its newline comes', () => {
    const { reader, lines, push } = createReader();
    push('{"partial":');
    assert.deepEqual(lines, []);
    assert.equal(reader.bufferedBytes, 11);
    push('true}\n');
    assert.deepEqual(lines, ['{"partial":true}']);
    assert.equal(reader.bufferedBytes, 0);
  });

  test('a line of exactly maxLineBytes is delivered; one byte more overflows', () => {
    const { lines, overflows, push } = createReader(8);
    push('12345678\n');
    assert.deepEqual(lines, ['12345678']);
    assert.equal(overflows.length, 0);
    push('123456789\n');
    assert.deepEqual(lines, ['12345678']);
    assert.equal(overflows.length, 1);
    assert.equal(overflows[0]?.bytes, 9);
  });

  test('an oversized line is discarded, reported once with its size and both ends, and the next line still arrives', () => {
    const { lines, overflows, push } = createReader(2048);
    const big = 'H'.repeat(EDGE_BYTES) + 'm'.repeat(8000) + 'T'.repeat(EDGE_BYTES);
    // Small chunks, so the line is seen growing past the limit and then streaming on.
    const payload = Buffer.from(`${big}\n{"next":1}\n`);
    for (let at = 0; at < payload.length; at += 700) push(payload.subarray(at, at + 700));

    assert.equal(overflows.length, 1, 'onOverflow called once for one oversized line');
    const [overflow] = overflows as [Overflow];
    assert.equal(overflow.bytes, big.length);
    assert.equal(overflow.head.toString(), 'H'.repeat(EDGE_BYTES));
    assert.equal(overflow.tail.toString(), 'T'.repeat(EDGE_BYTES));
    assert.deepEqual(lines, ['{"next":1}']);
  });

  test('the tail of an oversized \\r\\n line has no \\r', () => {
    const { overflows, push } = createReader(16);
    push(`${'x'.repeat(40)}end\r\n`);
    assert.equal(overflows.length, 1);
    assert.equal(overflows[0]?.tail.toString().endsWith('end'), true);
  });

  test('two oversized lines in a row are reported separately', () => {
    const { lines, overflows, push } = createReader(10);
    push(`${'a'.repeat(20)}\n${'b'.repeat(30)}\nok\n`);
    assert.deepEqual(overflows.map((overflow) => overflow.bytes), [20, 30]);
    assert.deepEqual(lines, ['ok']);
  });

  test('keeps no memory for a discarded line: nothing buffered, and the reported ends do not pin the chunks', () => {
    const { reader, overflows, lines, push } = createReader(1024 * 1024);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let index = 0; index < 16; index++) {
      push(chunk);
      assert.ok(reader.bufferedBytes <= 1024 * 1024, `buffered ${reader.bufferedBytes} bytes after ${index + 1} MiB`);
    }
    assert.equal(reader.bufferedBytes, 0, 'nothing is kept once the line is known to be too large');
    // The line ends inside a large chunk: what is reported of its end must not be a view into that chunk.
    const last = Buffer.concat([chunk, Buffer.from('\n{"after":true}\n')]);
    push(last);
    assert.equal(overflows.length, 1);
    const [overflow] = overflows as [Overflow];
    assert.equal(overflow.bytes, 17 * 1024 * 1024);
    assert.equal(overflow.head.length, EDGE_BYTES);
    assert.equal(overflow.tail.length, EDGE_BYTES);
    // A view into a 1 MiB chunk would keep that whole chunk alive for as long as the overflow is held.
    assert.ok(overflow.head.buffer.byteLength < chunk.length, 'head is a copy');
    assert.ok(overflow.tail.buffer.byteLength < chunk.length, `tail is a copy, not a view into a ${overflow.tail.buffer.byteLength}-byte chunk`);
    assert.deepEqual(lines, ['{"after":true}']);
  });
});

/** What the reader reports for `message` when it is too large. */
function overflowOf(message: string): Overflow {
  const { overflows, push } = createReader(EDGE_BYTES * 2);
  push(message + '\n');
  assert.equal(overflows.length, 1, 'the message overflowed');
  return overflows[0] as Overflow;
}

const filler = 'z'.repeat(EDGE_BYTES * 4);

describe('sniffRequestId', () => {
  test('finds an id written before params', () => {
    const message = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"write","arguments":{"text":"${filler}"}}}`;
    assert.equal(sniffRequestId(overflowOf(message)), 42);
  });

  test('finds an id written last, as the MCP TypeScript SDK serializes requests', () => {
    const request = { method: 'tools/call', params: { name: 'write', arguments: { id: 5, text: filler } } };
    // The SDK sends {...request, jsonrpc, id}: the id is the final member.
    const message = JSON.stringify({ ...request, jsonrpc: '2.0', id: 7 });
    assert.ok(message.endsWith(',"jsonrpc":"2.0","id":7}'));
    assert.equal(sniffRequestId(overflowOf(message)), 7);
  });

  test('keeps the JSON type of the id: a string id stays a string', () => {
    assert.equal(sniffRequestId(overflowOf(`{"jsonrpc":"2.0","id":"7","method":"m","params":{"t":"${filler}"}}`)), '7');
    assert.equal(sniffRequestId(overflowOf(`{"jsonrpc":"2.0","method":"m","params":{"t":"${filler}"},"id":"req-\\"1\\""}`)), 'req-"1"');
    assert.equal(sniffRequestId(overflowOf(`{"jsonrpc":"2.0","method":"m","params":{"t":"${filler}"},"id":-3}`)), -3);
  });

  test('does not trust an "id" nested inside params', () => {
    const head = `{"jsonrpc":"2.0","method":"tools/call","params":{"id":3,"text":"${filler}`;
    assert.equal(sniffRequestId(overflowOf(`${head}","more":{"id":9}}}`)), null);
    assert.equal(sniffRequestId(overflowOf(`${head}","id":9}}`)), null);
  });

  test('does not trust an "id" inside a nested object before params', () => {
    const message = `{"jsonrpc":"2.0","_meta":{"id":4},"method":"m","params":{"t":"${filler}"}}`;
    assert.equal(sniffRequestId(overflowOf(message)), null);
  });

  test('gives null for a notification, a null id, or garbage', () => {
    assert.equal(sniffRequestId(overflowOf(`{"jsonrpc":"2.0","method":"notifications/message","params":{"t":"${filler}"}}`)), null);
    assert.equal(sniffRequestId(overflowOf(`{"jsonrpc":"2.0","id":null,"method":"m","params":{"t":"${filler}"}}`)), null);
    assert.equal(sniffRequestId(overflowOf(`not json at all ${filler}`)), null);
  });
});

describe('sniffResponseId', () => {
  test('finds the id of a response the MCP TypeScript SDK wrote (result first, id last)', () => {
    const message = JSON.stringify({ result: { content: [{ type: 'text', text: filler }] }, jsonrpc: '2.0', id: 12 });
    assert.equal(sniffResponseId(overflowOf(message)), 12);
  });

  test('finds the id of a response written envelope first, and of a large error', () => {
    assert.equal(sniffResponseId(overflowOf(`{"jsonrpc":"2.0","id":3,"result":{"text":"${filler}"}}`)), 3);
    assert.equal(sniffResponseId(overflowOf(`{"jsonrpc":"2.0","id":"s","error":{"code":1,"message":"${filler}"}}`)), 's');
  });

  test('gives null for a request or a notification, whatever ids they hold', () => {
    // The SDK writes a server's request as {method, params, jsonrpc, id}.
    assert.equal(sniffResponseId(overflowOf(`{"method":"sampling/createMessage","params":{"t":"${filler}"},"jsonrpc":"2.0","id":0}`)), null);
    assert.equal(sniffResponseId(overflowOf(`{"jsonrpc":"2.0","id":4,"method":"m","params":{"t":"${filler}"}}`)), null);
    assert.equal(sniffResponseId(overflowOf(`{"params":{"result":{"t":"${filler}"}},"method":"m","jsonrpc":"2.0","id":5}`)), null);
    assert.equal(sniffResponseId(overflowOf(`{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"${filler}"}}`)), null);
  });

  test('gives null for garbage and for a response whose id it cannot read', () => {
    assert.equal(sniffResponseId(overflowOf(`GARBAGE ${filler}`)), null);
    assert.equal(sniffResponseId(overflowOf(`{"result":{"t":"${filler}"}}`)), null);
    assert.equal(sniffResponseId(overflowOf(`{"result":{"t":"${filler}","id":6}}`)), null);
  });
});
