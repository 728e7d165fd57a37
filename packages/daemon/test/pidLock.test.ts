import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MuxErrorCodes } from '@muxd/protocol';
import { readPid } from '@muxd/runtime/pidFile';
import { PidLock } from '../src/pidLock.js';

function lockPath(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'muxd-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'muxd.pid');
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  assert.ok(child.pid);
  return child.pid;
}

/** A running process, killed after the test. */
async function livePid(t: TestContext): Promise<number> {
  const child = spawn(process.execPath, ['-e', "process.stdout.write('up'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => child.kill('SIGKILL'));
  await once(child.stdout, 'data');
  assert.ok(child.pid);
  return child.pid;
}

const runningError = (pid: number) => (error: unknown) => {
  assert.equal((error as { code?: string }).code, MuxErrorCodes.DaemonRunning);
  assert.match((error as Error).message, new RegExp(`already running .*\\(pid ${pid}\\)`));
  return true;
};

describe('PidLock', () => {
  test('acquire writes our pid to a private file; a second acquire is refused while we hold it', (t) => {
    const path = lockPath(t);
    const lock = PidLock.acquire(path);
    t.after(() => lock.release());
    assert.equal(readPid(path), process.pid);
    assert.equal(lstatSync(path).mode & 0o777, 0o600);
    assert.throws(() => PidLock.acquire(path), runningError(process.pid));
    assert.equal(readPid(path), process.pid, 'the refused attempt left the lock alone');
  });

  test('a lock held by another live process is refused, naming that pid', async (t) => {
    const path = lockPath(t);
    const pid = await livePid(t);
    writeFileSync(path, `${pid}\n`);
    assert.throws(() => PidLock.acquire(path), runningError(pid));
    assert.equal(readPid(path), pid);
  });

  test('the stale lock of a dead pid is taken over', async (t) => {
    const path = lockPath(t);
    writeFileSync(path, `${await deadPid()}\n`);
    const lock = PidLock.acquire(path);
    t.after(() => lock.release());
    assert.equal(readPid(path), process.pid);
    assert.equal(existsSync(`${path}.takeover`), false, 'the takeover guard is cleaned up');
  });

  test('a lock file with garbage in it is taken over', (t) => {
    const path = lockPath(t);
    writeFileSync(path, 'not a pid');
    const lock = PidLock.acquire(path);
    t.after(() => lock.release());
    assert.equal(readPid(path), process.pid);
  });

  test('a takeover guard left by a dead starter does not block the takeover', async (t) => {
    const path = lockPath(t);
    const dead = await deadPid();
    writeFileSync(path, `${dead}\n`);
    writeFileSync(`${path}.takeover`, `${dead}\n`);
    const lock = PidLock.acquire(path);
    t.after(() => lock.release());
    assert.equal(readPid(path), process.pid);
  });

  test('release removes the lock so the next acquire succeeds; releasing twice is harmless', (t) => {
    const path = lockPath(t);
    const lock = PidLock.acquire(path);
    lock.release();
    assert.equal(existsSync(path), false);
    lock.release();
    const again = PidLock.acquire(path);
    t.after(() => again.release());
    assert.equal(readPid(path), process.pid);
  });

  test('release leaves alone a lock that now belongs to someone else', async (t) => {
    const path = lockPath(t);
    const lock = PidLock.acquire(path);
    const other = await livePid(t);
    writeFileSync(path, `${other}\n`);
    lock.release();
    assert.equal(readFileSync(path, 'utf8'), `${other}\n`);
  });
});
