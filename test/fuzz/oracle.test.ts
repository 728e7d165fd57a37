// The fuzzer's own judge, checked on lines whose answers are known: if it
// were wrong, the fuzzer would pass broken muxd builds or fail good ones.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Answers, Expected, allAnswered, expectHttpBody, expectSocketLine, judge } from './oracle.js';
import { bracketDepth, isInvalidUtf8, preview, scanJson, splitLines } from './rawJson.js';
import { cutPoints, pieces } from './rig.js';

function expectLines(...lines: Array<string | Buffer>): Expected {
  const expected = new Expected();
  for (const line of lines) expectSocketLine(typeof line === 'string' ? Buffer.from(line) : line, expected);
  expected.applyCancellations();
  return expected;
}

function answered(...lines: string[]): Answers {
  const answers = new Answers();
  for (const line of lines) answers.add(line);
  return answers;
}

describe('rawJson', () => {
  test('scanJson keeps each top-level member as written, the last of a name winning, and measures depth', () => {
    const object = scanJson('{"jsonrpc":"2.0","\\u0069d":1.0,"x":[[[1]]],"id" : 9007199254740993 }');
    assert.equal(object.kind, 'object');
    assert.equal(object.members.get('id'), '9007199254740993');
    assert.equal(object.members.get('x'), '[[[1]]]');
    assert.equal(object.depth, 4);
    const batch = scanJson('[{"id":-0},1,"a",[{"id":2}],{"id":"\\ud800","p":{"id":5}}]');
    assert.deepEqual(batch.elements.map((element) => [element.kind, element.members.get('id')]), [['object', '-0'], ['scalar', undefined], ['scalar', undefined], ['array', undefined], ['object', '"\\ud800"']]);
    const deep = scanJson('['.repeat(20_000) + ']'.repeat(20_000));
    assert.equal(deep.depth, 20_000);
  });

  test('lines split as muxd splits them; depth of text that is not JSON; UTF-8 checks; cuts', () => {
    assert.deepEqual(splitLines(Buffer.from('a\r\n\nb\nc')).lines.map(String), ['a', 'b']);
    assert.equal(splitLines(Buffer.from('a\r\n\nb\nc')).rest.toString(), 'c');
    assert.equal(bracketDepth('["[[[",[[]]'), 3);
    assert.equal(isInvalidUtf8(Buffer.from([0x7b, 0xed, 0xa0, 0x80])), true);
    assert.equal(isInvalidUtf8(Buffer.from('é\u{1f600}')), false);
    assert.equal(preview('['.repeat(5000) + 'x'), JSON.stringify('⟨"[" x 5000⟩x'));
    const bytes = Buffer.from('aé😀z');
    assert.deepEqual(cutPoints(bytes, { at: [], insideCharacters: true }), [2, 4]);
    assert.equal(Buffer.concat(pieces(bytes, { at: [0, 3, 5, 99], insideCharacters: true })).toString(), 'aé😀z');
  });
});

describe('what a data socket client is owed', () => {
  test('a request: one answer under its id as written', () => {
    const expected = expectLines('{"jsonrpc":"2.0","id":1.0,"method":"ping"}');
    assert.deepEqual([...expected.must], [['1.0', 1]]);
    assert.deepEqual(judge(expected, answered('{"jsonrpc":"2.0","id":1.0,"result":{}}'), 'c'), []);
    const respelled = judge(expected, answered('{"jsonrpc":"2.0","id":1,"result":{}}'), 'c');
    assert.match(respelled.join('\n'), /request id "1\.0" got 0 answer/);
    assert.match(respelled.join('\n'), /answers under ids nobody sent: "1"/);
    assert.match(judge(expected, answered('{"jsonrpc":"2.0","id":1.0,"result":{}}', '{"jsonrpc":"2.0","id":1.0,"result":{}}'), 'c').join('\n'), /answered 2 times for 1 request/);
  });

  test('the same id twice: two answers; a cancelled request may go unanswered', () => {
    const twice = expectLines('{"jsonrpc":"2.0","id":"a","method":"ping"}', '{"jsonrpc":"2.0","id":"a","method":"ping"}');
    assert.equal(twice.must.get('"a"'), 2);
    const cancelled = expectLines('{"jsonrpc":"2.0","id":7,"method":"ping"}', '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7.0}}');
    assert.equal(cancelled.must.get('7'), undefined);
    assert.equal(cancelled.may.get('7'), 1);
  });

  test('not JSON: -32700 with id null; invalid JSON-RPC: -32600, under the id when it has a method and an id', () => {
    const expected = expectLines('{"jsonrpc":"2.0","id":1,', '42', '{"jsonrpc":"1.0","id":3,"method":"ping"}', '{"jsonrpc":"2.0","method":"notifications/initialized"}', '{"jsonrpc":"2.0","id":9,"result":{}}');
    assert.equal(expected.parseErrors, 1);
    assert.deepEqual([expected.nullMin, expected.nullMax], [2, 2]);
    assert.deepEqual([...expected.must], [['3', 1]]);
    const answers = answered('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}', '{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}', '{"jsonrpc":"2.0","id":3,"error":{"code":-32600,"message":"x"}}');
    assert.deepEqual(judge(expected, answers, 'c'), []);
    assert.equal(allAnswered(expected, answers), true);
  });

  test('nested past the limit: -32040 under its id; a notification is dropped; near the limit either way', () => {
    const deep = expectLines(`{"jsonrpc":"2.0","id":5,"method":"ping","params":{"a":${'['.repeat(300)}${']'.repeat(300)}}}`, `{"jsonrpc":"2.0","method":"x","params":{"a":${'['.repeat(300)}${']'.repeat(300)}}}`);
    assert.deepEqual([...deep.must], [['5', 1]]);
    assert.deepEqual([...deep.deep], [['5', 1]]);
    assert.deepEqual([deep.nullMin, deep.nullMax], [0, 0]);
    assert.match(judge(deep, answered('{"jsonrpc":"2.0","id":5,"result":{}}'), 'c').join('\n'), /instead of -32040/);
    assert.deepEqual(judge(deep, answered('{"jsonrpc":"2.0","id":5,"error":{"code":-32040,"message":"deep"}}'), 'c'), []);
    const near = expectLines(`{"jsonrpc":"2.0","id":6,"method":"ping","params":{"a":${'['.repeat(127)}${']'.repeat(127)}}}`);
    assert.deepEqual([...near.deep], []);
    assert.deepEqual([...near.must], [['6', 1]]);
  });

  test('a batch is owed an answer per request; bytes that are not UTF-8 or a BOM allow a refusal', () => {
    const batch = expectLines('[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":{},"method":"ping"}]');
    assert.deepEqual([...batch.must], [['1', 1]]);
    assert.deepEqual([batch.nullMin, batch.nullMax], [1, 1]);
    const lenient = expectLines(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":2,"method":"ping","params":{"s":"'), Buffer.from([0xff]), Buffer.from('"}}')]), '\ufeff{"jsonrpc":"2.0","id":3,"method":"ping"}');
    assert.deepEqual([...lenient.must], []);
    assert.deepEqual([...lenient.may], [['2', 1], ['3', 1]]);
  });
});

describe('what an HTTP POST is owed', () => {
  test('statuses as http.md gives them', () => {
    const expected = new Expected();
    assert.deepEqual(expectHttpBody(Buffer.from('nope'), expected).statuses, [400]);
    assert.deepEqual(expectHttpBody(Buffer.from('{"jsonrpc":"1.0","id":1,"method":"ping"}'), expected).statuses, [400]);
    assert.deepEqual(expectHttpBody(Buffer.from('{"jsonrpc":"2.0","method":"n"}'), expected).statuses, [202]);
    assert.deepEqual(expectHttpBody(Buffer.from('[{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","id":"3","method":"ping"}]'), expected).statuses, [200]);
    assert.deepEqual(expectHttpBody(Buffer.from(`{"jsonrpc":"2.0","id":4,"method":"ping","params":{"a":${'['.repeat(300)}${']'.repeat(300)}}}`), expected).statuses, 'any');
    assert.deepEqual([...expected.must], [['2', 1], ['"3"', 1], ['4', 1]]);
    assert.deepEqual([...expected.may], [['1', 1]]);
  });
});
