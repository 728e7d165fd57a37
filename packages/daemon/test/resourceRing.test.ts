import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallTable, MAX_LABEL_CHARS, OTHER_LABEL } from '../src/metrics/callTable.js';
import { ResourceRing } from '../src/metrics/resourceRing.js';

test('a ring keeps the newest items up to its capacity, oldest first', () => {
  const ring = new ResourceRing<number>(720);
  for (let index = 0; index < 10_000; index++) ring.push(index);
  const items = ring.toArray();
  assert.equal(items.length, 720);
  assert.equal(ring.size, 720);
  assert.equal(items[0], 10_000 - 720);
  assert.equal(items.at(-1), 9_999);
  assert.equal(ring.newest(), 9_999);
  assert.deepEqual(items, [...items].sort((a, b) => a - b));
});

test('a ring below capacity lists what it has; a ring of no capacity is refused', () => {
  const ring = new ResourceRing<string>(3);
  assert.equal(ring.newest(), undefined);
  ring.push('a');
  ring.push('b');
  assert.deepEqual(ring.toArray(), ['a', 'b']);
  assert.throws(() => new ResourceRing(0), RangeError);
});

test('a call table keeps at most its bound of names, folds the rest into other, and cuts long names', () => {
  const table = new CallTable(200);
  for (let index = 0; index < 10_000; index++) table.entry(`method/${index}`).requests++;
  assert.equal(table.size, 201);
  const record = table.toRecord();
  assert.equal(record[OTHER_LABEL]?.requests, 10_000 - 200);
  assert.equal(record['method/0']?.requests, 1);
  const small = new CallTable(5);
  small.entry('x'.repeat(10_000)).requests++;
  assert.deepEqual(Object.keys(small.toRecord()), ['x'.repeat(MAX_LABEL_CHARS)]);
  small.entry('__proto__').requests++;
  assert.equal(small.toRecord()['__proto__']?.requests, 1);
});
