import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeThrown, readCrashRecord, writeCrashRecord } from '../src/crash.js';
import { resolvePaths } from '@muxd/protocol/paths';

function home(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'muxd-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return resolvePaths({ MUXD_HOME: join(dir, 'state') });
}

test('describeThrown: one line and a stack for errors, strings and anything else, bounded', () => {
  const error = new TypeError('bad thing\nsecond line');
  assert.deepEqual(describeThrown(error), { message: 'TypeError: bad thing', stack: error.stack });
  assert.deepEqual(describeThrown('\nplain words\nmore'), { message: 'plain words', stack: '\nplain words\nmore' });
  assert.equal(describeThrown({ code: 42 }).message, '{ code: 42 }');
  assert.equal(describeThrown(undefined).message, 'undefined');
  const huge = describeThrown(new Error('x'.repeat(100_000)));
  assert.equal(huge.message.length, 1000);
  assert.equal(huge.stack.length, 16 * 1024);
});

test('a crash record is written whole (0600, its directory made) and read back with its file; none, or garbage, reads as null', (t) => {
  const paths = home(t);
  assert.equal(readCrashRecord(paths), null);
  const record = { at: 1_700_000_000_000, pid: 42, version: '1.2.3', origin: 'uncaughtException', message: 'Error: boom', stack: 'Error: boom\n    at x' };
  assert.equal(writeCrashRecord(paths, record), true);
  assert.equal(lstatSync(paths.lastCrashFile).mode & 0o777, 0o600);
  assert.equal(paths.lastCrashFile, join(paths.stateDir, 'last-crash.json'));
  assert.deepEqual(readCrashRecord(paths), { ...record, file: paths.lastCrashFile });
  for (const garbage of ['{', 'null', '{"at": "soon"}', '[]']) {
    writeFileSync(paths.lastCrashFile, garbage);
    assert.equal(readCrashRecord(paths), null, garbage);
  }
});

test('writeCrashRecord never throws: it says false when it cannot write', (t) => {
  const paths = home(t);
  writeFileSync(join(paths.stateDir, '..', 'blocker'), '');
  assert.equal(writeCrashRecord({ ...paths, lastCrashFile: join(paths.stateDir, '..', 'blocker', 'last-crash.json') }, { at: 1, pid: 1, version: '', origin: '', message: '', stack: '' }), false);
});
