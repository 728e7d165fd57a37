import Database from 'better-sqlite3';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import type { RunRecord } from '@muxd/protocol';
import type { Logger } from './logs.js';
import type { ExitInfo } from './supervisor.js';

/** Each entry is one schema version; `PRAGMA user_version` records how many ran. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE daemon_runs (
     id INTEGER PRIMARY KEY,
     pid INTEGER NOT NULL,
     version TEXT NOT NULL,
     config_file TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     how TEXT
   );
   CREATE TABLE runs (
     id INTEGER PRIMARY KEY,
     service TEXT NOT NULL,
     pid INTEGER,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     code INTEGER,
     signal TEXT,
     reason TEXT,
     error TEXT
   );
   CREATE INDEX runs_by_service ON runs (service, started_at DESC);
   CREATE INDEX runs_by_start ON runs (started_at DESC);`,
];

/** How much history is kept. */
export interface Retention {
  maxAgeMs: number;
  /** Runs kept per service. */
  maxRunsPerService: number;
  maxDaemonRuns: number;
}

export const DEFAULT_RETENTION: Retention = { maxAgeMs: 30 * 24 * 3600_000, maxRunsPerService: 1000, maxDaemonRuns: 200 };

type Write = (db: SqliteDatabase) => void;

/** Failed writes kept for a retry while the database can't be written; past this, the oldest go. */
const MAX_PENDING_WRITES = 1000;

/**
 * muxd's history in SQLite (WAL). Only the daemon opens it. Writes are
 * queued and flushed together on a later tick, never on the message path.
 * A database that can't be opened or written is reported (`error`) and
 * logged once; the daemon keeps serving without it. Writes that fail are
 * kept and retried with the next flush, so a passing outage (a lock held
 * by another process, a full disk) leaves no gap in the history.
 */
export class Store {
  readonly path: string;
  readonly #log: Logger;
  readonly #retention: Retention;
  #db: SqliteDatabase | undefined;
  #queue: Write[] = [];
  #flushScheduled = false;
  #daemonRunId: number | undefined;
  /** Why the database is unusable; null while it works. */
  error: string | null = null;

  constructor(path: string, log: Logger, retention: Retention = DEFAULT_RETENTION) {
    this.path = path;
    this.#log = log;
    this.#retention = retention;
    let db: SqliteDatabase | undefined;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // Only muxd opens it: a lock held elsewhere is an anomaly, and a long wait would stall every client.
      db.pragma('busy_timeout = 100');
      migrate(db);
      this.#db = db;
    } catch (error) {
      // A file that opened but is not a usable database must not stay open for the daemon's life.
      db?.close();
      this.#fail('open', error);
    }
  }

  #fail(what: string, error: unknown): void {
    const message = `database ${this.path}: cannot ${what}: ${(error as Error).message}`;
    if (this.error !== message) this.#log.error({ err: (error as Error).message, database: this.path }, message);
    this.error = message;
  }

  /** Records this daemon's start and closes out runs a killed daemon left open. */
  daemonStarted(pid: number, version: string, configFile: string, at: number): void {
    this.#enqueue((db) => {
      db.prepare(`UPDATE runs SET ended_at = ?, reason = 'daemon-lost' WHERE ended_at IS NULL`).run(at);
      db.prepare(`UPDATE daemon_runs SET how = 'killed' WHERE ended_at IS NULL AND how IS NULL`).run();
      const info = db.prepare(`INSERT INTO daemon_runs (pid, version, config_file, started_at) VALUES (?, ?, ?, ?)`).run(pid, version, configFile, at);
      this.#daemonRunId = Number(info.lastInsertRowid);
    });
    this.#enqueue((db) => this.#prune(db, at));
  }

  runStarted(service: string, pid: number, at: number): void {
    this.#enqueue((db) => {
      db.prepare(`INSERT INTO runs (service, pid, started_at) VALUES (?, ?, ?)`).run(service, pid, at);
    });
  }

  runEnded(service: string, exit: ExitInfo): void {
    this.#enqueue((db) => {
      if (exit.pid === undefined) {
        db.prepare(`INSERT INTO runs (service, pid, started_at, ended_at, reason, error) VALUES (?, NULL, ?, ?, ?, ?)`).run(
          service,
          exit.at,
          exit.at,
          exit.reason,
          exit.error ?? null,
        );
        return;
      }
      db.prepare(
        `UPDATE runs SET ended_at = ?, code = ?, signal = ?, reason = ?, error = ?
         WHERE id = (SELECT id FROM runs WHERE service = ? AND pid = ? AND ended_at IS NULL ORDER BY started_at DESC LIMIT 1)`,
      ).run(exit.at, exit.code, exit.signal, exit.reason, exit.error ?? null, service, exit.pid);
    });
  }

  /** Newest first. Throws when the database is unusable. */
  history(service: string | undefined, limit: number): RunRecord[] {
    this.flush();
    const db = this.#require();
    const rows = service
      ? db.prepare(`SELECT * FROM runs WHERE service = ? ORDER BY started_at DESC, id DESC LIMIT ?`).all(service, limit)
      : db.prepare(`SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?`).all(limit);
    return (rows as RunRow[]).map(toRecord);
  }

  #require(): SqliteDatabase {
    if (!this.#db) throw new Error(this.error ?? 'database is closed');
    return this.#db;
  }

  #enqueue(write: Write): void {
    if (!this.#db) return;
    this.#queue.push(write);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes everything queued, in one transaction. */
  flush(): void {
    this.#flushScheduled = false;
    const db = this.#db;
    if (!db || this.#queue.length === 0) return;
    const writes = this.#queue;
    this.#queue = [];
    try {
      db.transaction(() => {
        for (const write of writes) write(db);
      })();
      if (this.error !== null) this.#log.info({ database: this.path }, 'database writable again');
      this.error = null;
    } catch (error) {
      // The transaction rolled back: none of them was written.
      this.#queue = [...writes, ...this.#queue].slice(-MAX_PENDING_WRITES);
      this.#fail('write', error);
    }
  }

  #prune(db: SqliteDatabase, now: number): void {
    const { maxAgeMs, maxRunsPerService, maxDaemonRuns } = this.#retention;
    db.prepare(`DELETE FROM runs WHERE ended_at IS NOT NULL AND ended_at < ?`).run(now - maxAgeMs);
    db.prepare(
      `DELETE FROM runs WHERE id IN (
         SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY service ORDER BY started_at DESC, id DESC) AS n FROM runs) WHERE n > ?)`,
    ).run(maxRunsPerService);
    db.prepare(`DELETE FROM daemon_runs WHERE id NOT IN (SELECT id FROM daemon_runs ORDER BY id DESC LIMIT ?)`).run(maxDaemonRuns);
  }

  /** Applies retention now (also done at every daemon start). */
  prune(now = Date.now()): void {
    this.#enqueue((db) => this.#prune(db, now));
  }

  close(how: 'stopped' | 'killed' = 'stopped'): void {
    const id = this.#daemonRunId;
    if (id !== undefined) {
      this.#enqueue((db) => {
        db.prepare(`UPDATE daemon_runs SET ended_at = ?, how = ? WHERE id = ?`).run(Date.now(), how, id);
      });
    }
    this.flush();
    try {
      this.#db?.close();
    } catch {
      // Closing a broken database is best effort.
    }
    this.#db = undefined;
  }
}

function migrate(db: SqliteDatabase): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`schema version ${current} is newer than this muxd knows (${MIGRATIONS.length}); upgrade muxd`);
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

interface RunRow {
  id: number;
  service: string;
  pid: number | null;
  started_at: number;
  ended_at: number | null;
  code: number | null;
  signal: string | null;
  reason: string | null;
  error: string | null;
}

function toRecord(row: RunRow): RunRecord {
  return {
    id: row.id,
    service: row.service,
    pid: row.pid,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    code: row.code,
    signal: row.signal,
    reason: row.reason,
    error: row.error,
  };
}
