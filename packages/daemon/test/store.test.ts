import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { Store } from '../src/store.js';
import type { Retention } from '../src/store.js';
import type { ExitInfo } from '../src/supervisor.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'muxd-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A logger that keeps what it writes. */
function memoryLogger() {
  const entries: Array<{ level: number; msg: string }> = [];
  const log = pino({ base: null }, { write: (line: string) => void entries.push(JSON.parse(line)) });
  return { log, entries };
}

function openStore(t: TestContext, path: string, retention?: Retention) {
  const { log, entries } = memoryLogger();
  const store = retention ? new Store(path, log, retention) : new Store(path, log);
  t.after(() => store.close());
  return { store, entries };
}

/** Reads the database directly, as another process would. */
function query<T>(t: TestContext, path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  return db.prepare(sql).all() as T[];
}

function exit(pid: number | undefined, at: number, extra: Partial<ExitInfo> = {}): ExitInfo {
  return { pid, code: 0, signal: null, reason: 'crash', at, uptimeMs: 0, ...extra } as ExitInfo;
}

describe('Store', () => {
  test('a new database gets the schema and user_version; reopening keeps the data', (t) => {
    const path = join(tempDir(t), 'muxd.db');
    const first = openStore(t, path).store;
    assert.equal(first.error, null);
    first.runStarted('fs', 10, 1000);
    first.close();
    assert.equal(query<{ user_version: number }>(t, path, 'PRAGMA user_version')[0]?.user_version, 1);

    const { store } = openStore(t, path);
    assert.equal(store.error, null, 'migrations are not run twice');
    assert.deepEqual(
      store.history('fs', 10).map((run) => run.pid),
      [10],
    );
  });

  test('history lists runs newest first, per service or all, with how each one ended', (t) => {
    const { store } = openStore(t, join(tempDir(t), 'muxd.db'));
    store.daemonStarted(process.pid, '0.1.0', '/etc/muxd.yaml', 500);
    store.runStarted('fs', 100, 1000);
    store.runEnded('fs', exit(100, 2000, { code: 1, reason: 'crash', uptimeMs: 1000 }));
    store.runStarted('memory', 200, 2500);
    store.runStarted('fs', 101, 3000);
    store.runEnded('fs', exit(101, 3500, { code: null, signal: 'SIGKILL', reason: 'memory' }));
    store.runStarted('fs', 102, 4000);

    assert.deepEqual(store.history('fs', 10).map(({ id: _id, ...run }) => run), [
      { service: 'fs', pid: 102, startedAt: 4000, endedAt: null, code: null, signal: null, reason: null, error: null },
      { service: 'fs', pid: 101, startedAt: 3000, endedAt: 3500, code: null, signal: 'SIGKILL', reason: 'memory', error: null },
      { service: 'fs', pid: 100, startedAt: 1000, endedAt: 2000, code: 1, signal: null, reason: 'crash', error: null },
    ]);
    assert.deepEqual(
      store.history(undefined, 3).map((run) => [run.service, run.pid]),
      [
        ['fs', 102],
        ['fs', 101],
        ['memory', 200],
      ],
    );
    assert.deepEqual(store.history('nope', 10), []);
  });

  test('a child that could not be spawned is recorded as a run without a pid, with the error', (t) => {
    const { store } = openStore(t, join(tempDir(t), 'muxd.db'));
    store.runEnded('fs', exit(undefined, 7000, { code: null, reason: 'crash', error: 'spawn nope ENOENT' }));
    const [run] = store.history('fs', 10);
    assert.deepEqual(run && { pid: run.pid, startedAt: run.startedAt, endedAt: run.endedAt, error: run.error }, {
      pid: null,
      startedAt: 7000,
      endedAt: 7000,
      error: 'spawn nope ENOENT',
    });
  });

  test('runEnded closes the open run of that pid, not an older run of the same service', (t) => {
    const { store } = openStore(t, join(tempDir(t), 'muxd.db'));
    store.runStarted('fs', 100, 1000);
    store.runEnded('fs', exit(100, 1500));
    store.runStarted('fs', 100, 2000); // the pid came back for a later run
    store.runEnded('fs', exit(100, 2500, { code: 3 }));
    assert.deepEqual(
      store.history('fs', 10).map((run) => [run.startedAt, run.endedAt, run.code]),
      [
        [2000, 2500, 3],
        [1000, 1500, 0],
      ],
    );
  });

  test('a new daemon closes the runs a killed daemon left open, with reason daemon-lost', (t) => {
    const path = join(tempDir(t), 'muxd.db');
    // The first daemon records a running child and is killed: it never calls close().
    const killed = openStore(t, path).store;
    killed.daemonStarted(111, '0.1.0', '/c.yaml', 1000);
    killed.runStarted('fs', 100, 1100);
    killed.runStarted('memory', 200, 1200);
    killed.runEnded('memory', exit(200, 1300, { reason: 'manual' }));
    killed.flush();

    const { store } = openStore(t, path);
    store.daemonStarted(222, '0.1.0', '/c.yaml', 5000);
    const [fs] = store.history('fs', 1);
    assert.equal(fs?.endedAt, 5000);
    assert.equal(fs?.reason, 'daemon-lost');
    assert.equal(store.history('memory', 1)[0]?.reason, 'manual', 'runs that had ended are left alone');
    store.close();

    const daemons = query<{ pid: number; how: string | null; ended_at: number | null }>(t, path, 'SELECT pid, how, ended_at FROM daemon_runs ORDER BY id');
    assert.equal(daemons.length, 2);
    assert.equal(daemons[0]?.how, 'killed');
    assert.equal(daemons[1]?.how, 'stopped');
    assert.equal(typeof daemons[1]?.ended_at, 'number');
  });

  test('retention keeps the newest runs of each service, drops old ended runs, and caps daemon runs', (t) => {
    const path = join(tempDir(t), 'muxd.db');
    const day = 24 * 3600_000;
    const now = 100 * day;
    const { store } = openStore(t, path, { maxAgeMs: 30 * day, maxRunsPerService: 3, maxDaemonRuns: 2 });
    for (let index = 0; index < 5; index++) {
      store.runStarted('fs', 100 + index, now - 10 * day + index);
      store.runEnded('fs', exit(100 + index, now - 10 * day + index + 1));
    }
    store.runStarted('memory', 200, now - 60 * day);
    store.runEnded('memory', exit(200, now - 59 * day));
    store.runStarted('memory', 201, now - 50 * day); // old but still running: kept
    store.runStarted('memory', 202, now - 1000);
    store.runEnded('memory', exit(202, now - 500));
    for (const pid of [1, 2, 3]) store.daemonStarted(pid, '0.1.0', '', now - 5 * day + pid);
    store.prune(now);

    assert.deepEqual(
      store.history('fs', 10).map((run) => run.pid),
      [104, 103, 102],
    );
    assert.deepEqual(
      store.history('memory', 10).map((run) => run.pid),
      [202, 201],
    );
    store.close();
    assert.deepEqual(
      query<{ pid: number }>(t, path, 'SELECT pid FROM daemon_runs ORDER BY id').map((row) => row.pid),
      [2, 3],
    );
  });

  test('a database path that is a directory gives Store.error, logged once, and never throws on writes', (t) => {
    const dir = join(tempDir(t), 'muxd.db');
    mkdirSync(dir);
    const { store, entries } = openStore(t, dir);
    assert.match(store.error ?? '', /^database .*muxd\.db: cannot open: /);
    store.daemonStarted(process.pid, '0.1.0', '', Date.now());
    store.runStarted('fs', 1, 1);
    store.runEnded('fs', exit(1, 2));
    store.flush();
    store.prune();
    assert.throws(() => store.history(undefined, 10), { message: store.error ?? '' });
    assert.equal(entries.filter((entry) => entry.level === 50).length, 1);
  });

  test('a file of garbage gives Store.error and no throw', (t) => {
    const path = join(tempDir(t), 'muxd.db');
    writeFileSync(path, Buffer.alloc(64 * 1024, 'garbage! '));
    const { store } = openStore(t, path);
    assert.match(store.error ?? '', /cannot open: file is not a database/);
    store.runStarted('fs', 1, 1);
    store.flush();
    if (process.platform === 'linux') {
      const open = readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === path;
        } catch {
          return false;
        }
      });
      assert.deepEqual(open, [], 'the unusable file is not held open');
    }
  });

  test('writes that fail while another process holds the write lock are kept, and written once it lets go', (t) => {
    const path = join(tempDir(t), 'muxd.db');
    const { store, entries } = openStore(t, path);
    store.runStarted('fs', 1, 1000);
    store.flush();
    const locker = new Database(path);
    t.after(() => locker.close());
    locker.exec('BEGIN EXCLUSIVE');
    store.runEnded('fs', exit(1, 2000));
    store.runStarted('fs', 2, 2000);
    store.flush();
    assert.match(store.error ?? '', /cannot write: database is locked/);
    assert.equal(entries.filter((entry) => entry.level === 50).length, 1, 'logged once');

    locker.exec('COMMIT');
    store.runStarted('other', 3, 3000);
    store.flush();
    assert.equal(store.error, null);
    assert.deepEqual(
      store.history(undefined, 10).map((run) => [run.service, run.pid, run.endedAt]),
      [['other', 3, null], ['fs', 2, null], ['fs', 1, 2000]],
      'nothing written during the outage was lost',
    );
  });

  test('a database from a newer muxd is refused rather than altered', (t) => {
    const path = join(tempDir(t), 'muxd.db');
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    const { store } = openStore(t, path);
    assert.match(store.error ?? '', /schema version 99 is newer than this muxd knows \(1\)/);
    assert.equal(query<{ user_version: number }>(t, path, 'PRAGMA user_version')[0]?.user_version, 99);
  });
});
