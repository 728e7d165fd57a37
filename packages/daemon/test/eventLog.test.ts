import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from '../src/http/eventLog.js';
import type { LoggedEvent } from '../src/http/eventLog.js';

describe('EventLog', () => {
  test('ids name the stream; replay gives that stream after an id; bounds evict the oldest', () => {
    const evicted: LoggedEvent[] = [];
    const log = new EventLog({ maxEvents: 3, maxBytes: 1000, onEvict: (event) => evicted.push(event) });
    const a = log.append('g', 'a');
    const primed = log.mark('p1');
    log.append('p1', 'b');
    log.append('g', 'c');
    assert.deepEqual(EventLog.parseId(a.id), { stream: 'g', seq: a.seq });
    assert.deepEqual(EventLog.parseId(primed.id), { stream: 'p1', seq: primed.seq });
    assert.equal(EventLog.parseId('x_1'), undefined);
    assert.deepEqual(log.after('p1', primed.seq).map((event) => event.data), ['b']);
    assert.deepEqual(log.after('g', 0).map((event) => event.data), ['a', 'c']);
    log.append('g', 'd');
    assert.deepEqual(evicted.map((event) => event.data), ['a']);
    log.drop('p1');
    assert.ok(!log.has('p1'));
    assert.deepEqual(log.after('g', 0).map((event) => event.data), ['c', 'd']);
  });

  test('bytes bound too', () => {
    const evicted: string[] = [];
    const log = new EventLog({ maxEvents: 100, maxBytes: 10, onEvict: (event) => evicted.push(event.data) });
    log.append('g', '123456');
    log.append('g', '7890ab');
    assert.deepEqual(evicted, ['123456']);
  });
});
