import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { followFile, readLastLines } from '../src/logTail.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'muxd-tail-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const numbered = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => `line ${from + index}`);

describe('readLastLines', () => {
  test('returns the last N lines in order', (t) => {
    const file = join(tempDir(t), 'a.log');
    writeFileSync(file, numbered(1, 10).join('\n') + '\n');
    assert.deepEqual(readLastLines(file, 3), numbered(8, 10));
    assert.deepEqual(readLastLines(file, 50), numbered(1, 10), 'all of a short file');
  });

  test('includes a last line without a newline', (t) => {
    const file = join(tempDir(t), 'a.log');
    writeFileSync(file, 'one\ntwo\nthree');
    assert.deepEqual(readLastLines(file, 2), ['two', 'three']);
  });

  test('a missing or empty file has no lines', (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'empty.log'), '');
    assert.deepEqual(readLastLines(join(dir, 'missing.log'), 5), []);
    assert.deepEqual(readLastLines(join(dir, 'empty.log'), 5), []);
  });

  test('zero lines asked is zero lines given', (t) => {
    const file = join(tempDir(t), 'a.log');
    writeFileSync(file, numbered(1, 10).join('\n') + '\n');
    assert.deepEqual(readLastLines(file, 0), []);
  });

  test('reads across block boundaries of a large file', (t) => {
    const file = join(tempDir(t), 'big.log');
    const lines = numbered(1, 20_000); // about 200 KiB, several 64 KiB blocks
    writeFileSync(file, lines.join('\n') + '\n');
    assert.deepEqual(readLastLines(file, 2), numbered(19_999, 20_000));
    assert.deepEqual(readLastLines(file, 15_000), numbered(5001, 20_000));
  });

  test('a UTF-8 character that straddles a block boundary is read whole', (t) => {
    const file = join(tempDir(t), 'utf8.log');
    const block = 64 * 1024;
    const euro = '\u20ac'; // 3 bytes
    // The last 64 KiB block starts one byte into the euro sign.
    const tail = 'x'.repeat(block - 2 - 1) + '\n';
    const text = 'first\n' + `price: 5${euro}\n` + tail;
    writeFileSync(file, text);
    assert.equal(Buffer.byteLength(tail) + 2, block);
    assert.deepEqual(readLastLines(file, 2), [`price: 5${euro}`, 'x'.repeat(block - 3)]);
  });

  test('never returns the cut-off start of a line, even with empty lines around', (t) => {
    const file = join(tempDir(t), 'blank.log');
    const long = 'L'.repeat(70 * 1024);
    writeFileSync(file, `${long}\nwanted\n${'\n'.repeat(5)}`);
    const lines = readLastLines(file, 2);
    assert.deepEqual(lines, [long, 'wanted']);
  });
});

/** Collects what followFile delivers; `until` waits (bounded) for a line. */
function follow(t: TestContext, path: string) {
  const received: string[] = [];
  const waiters = new Set<() => void>();
  const stop = followFile(
    path,
    (lines) => {
      received.push(...lines);
      for (const wake of waiters) wake();
    },
    5,
  );
  t.after(stop);
  const until = (line: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!received.includes(line)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no line ${JSON.stringify(line)}; got ${JSON.stringify(received)}`));
      }, 5000);
      waiters.add(check);
      check();
    });
  return { received, until, stop };
}

describe('followFile', () => {
  test('delivers lines appended after it starts, not what was already there', async (t) => {
    const file = join(tempDir(t), 'a.log');
    writeFileSync(file, 'old 1\nold 2\n');
    const { received, until } = follow(t, file);
    appendFileSync(file, 'new 1\nnew 2\n');
    await until('new 2');
    assert.deepEqual(received, ['new 1', 'new 2']);
  });

  test('holds a partial line until its newline is written', async (t) => {
    const file = join(tempDir(t), 'a.log');
    writeFileSync(file, '');
    const { received, until } = follow(t, file);
    appendFileSync(file, 'first\nhal');
    await until('first');
    appendFileSync(file, 'f\n');
    await until('half');
    assert.deepEqual(received, ['first', 'half']);
  });

  test('a UTF-8 character split between two writes arrives whole', async (t) => {
    const file = join(tempDir(t), 'a.log');
    writeFileSync(file, '');
    const { received, until } = follow(t, file);
    const euro = Buffer.from('\u20ac');
    appendFileSync(file, Buffer.concat([Buffer.from('first\n5'), euro.subarray(0, 1)]));
    await until('first');
    appendFileSync(file, Buffer.concat([euro.subarray(1), Buffer.from('\n')]));
    await until('5\u20ac');
    assert.deepEqual(received, ['first', '5\u20ac']);
  });

  test('follows the symlink to the new file when the log rotates, without losing the old file\'s last lines', async (t) => {
    const dir = tempDir(t);
    const link = join(dir, 'current.log');
    writeFileSync(join(dir, 'muxd.1.log'), 'before\n');
    symlinkSync('muxd.1.log', link);
    const { received, until } = follow(t, link);

    appendFileSync(join(dir, 'muxd.1.log'), 'one\n');
    await until('one');
    // Rotation between two polls: a last line lands in the old file, then the link moves.
    appendFileSync(join(dir, 'muxd.1.log'), 'last of one\n');
    writeFileSync(join(dir, 'muxd.2.log'), 'first of two\n');
    symlinkSync('muxd.2.log', join(dir, 'next.link'));
    renameSync(join(dir, 'next.link'), link);
    await until('first of two');
    appendFileSync(join(dir, 'muxd.2.log'), 'two\n');
    await until('two');
    assert.deepEqual(received, ['one', 'last of one', 'first of two', 'two']);
  });

  test('starts from the beginning of a file that appears later or is truncated', async (t) => {
    const file = join(tempDir(t), 'late.log');
    const { received, until } = follow(t, file);
    writeFileSync(file, 'a\nb\n');
    await until('b');
    truncateSync(file, 0);
    appendFileSync(file, 'c\n');
    await until('c');
    assert.deepEqual(received, ['a', 'b', 'c']);
  });

  test('stops delivering once stopped', async (t) => {
    const file = join(tempDir(t), 'a.log');
    writeFileSync(file, '');
    const { received, until, stop } = follow(t, file);
    // A second follower on the same interval is the clock: by the time it has
    // seen two later writes in separate polls, the first would have polled too.
    const witness = follow(t, file);
    appendFileSync(file, 'seen\n');
    await until('seen');
    stop();
    appendFileSync(file, 'unseen\n');
    await witness.until('unseen');
    appendFileSync(file, 'marker\n');
    await witness.until('marker');
    assert.deepEqual(received, ['seen']);
  });
});
