import { chmod, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ListResult } from '@muxd/protocol';
import type { Logger } from './logs.js';

export interface StatusFileOptions {
  /** What the file holds: the control socket's `list` result (`muxctl ls --json`). */
  snapshot: () => ListResult | Promise<ListResult>;
  /**
   * A cheap fingerprint of every service's state (status, pids, clients,
   * restarts...): when it differs from the last one written, the file is
   * rewritten. Checked once a second.
   */
  signature: () => string;
  log: Logger;
  /** Shortest time between two writes, in ms. Default 1000. */
  minIntervalMs?: number;
  /** After a failed write, how long before the next try when nothing changed, in ms. Default 5000. */
  retryMs?: number;
}

/** Distinct write errors remembered so each is logged once. */
const MAX_LOGGED_ERRORS = 32;

/**
 * The `statusFile` of the config: a JSON copy of `muxctl ls --json` for
 * status bars, rewritten when a service's state changes, at most once a
 * second (a burst of changes gives one trailing write). Each write goes to
 * a temporary file in the same directory, is synced, then renamed over the
 * file, so a reader never sees half of one. A write that fails is logged
 * once per distinct error and reported by `problem`; it never throws.
 */
export class StatusFile {
  readonly #options: Required<StatusFileOptions>;
  #path: string | undefined;
  #poll: ReturnType<typeof setInterval> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> | undefined;
  /** A change came while a write was under way: another write follows it. */
  #dirty = false;
  #lastWriteAt = 0;
  #lastSignature: string | undefined;
  #problem: string | null = null;
  #retryAt = 0;
  readonly #logged = new Set<string>();

  constructor(options: StatusFileOptions) {
    this.#options = { minIntervalMs: 1000, retryMs: 5000, ...options };
  }

  /** The file being kept, or undefined when none is. */
  get path(): string | undefined {
    return this.#path;
  }

  /** Why the file is not being written right now, or null. */
  get problem(): string | null {
    return this.#problem;
  }

  /**
   * Keeps the file at `path` from now on (undefined: none). A file left at
   * a previous path is removed. Called at start and on each reload.
   */
  async configure(path: string | undefined): Promise<void> {
    if (path === this.#path) return;
    const previous = this.#path;
    this.#path = path;
    this.#problem = null;
    this.#lastSignature = undefined;
    if (previous !== undefined) {
      await this.#writing;
      await removeQuietly(previous);
    }
    if (path === undefined) {
      this.#stopTimers();
      return;
    }
    this.#poll ??= setInterval(() => this.#check(), this.#options.minIntervalMs);
    this.#poll.unref();
    this.changed();
  }

  /** Something changed: write the file soon (at once, unless a write was less than `minIntervalMs` ago). */
  changed(): void {
    if (this.#path === undefined) return;
    if (this.#writing) {
      this.#dirty = true;
      return;
    }
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastWriteAt + this.#options.minIntervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#writing = this.#write().finally(() => {
        this.#writing = undefined;
        if (this.#dirty) {
          this.#dirty = false;
          this.changed();
        }
      });
    }, wait);
    this.#timer.unref();
  }

  #check(): void {
    if (this.#path === undefined) return;
    const failing = this.#problem !== null && Date.now() >= this.#retryAt;
    if (failing || this.#options.signature() !== this.#lastSignature) this.changed();
  }

  async #write(): Promise<void> {
    const path = this.#path;
    if (path === undefined) return;
    this.#lastWriteAt = Date.now();
    let text: string;
    let signature: string;
    try {
      signature = this.#options.signature();
      text = `${JSON.stringify(await this.#options.snapshot(), null, 2)}\n`;
    } catch (error) {
      this.#fail(path, error);
      return;
    }
    const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
    try {
      const handle = await open(temporary, 'w', 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // An earlier file in the way may have had another mode: open's mode applies only to a new file.
      await chmod(temporary, 0o600);
      await rename(temporary, path);
    } catch (error) {
      await removeQuietly(temporary);
      if (path === this.#path) this.#fail(path, error);
      return;
    }
    if (path !== this.#path) {
      // Reconfigured while writing: the old path must not stay behind.
      await removeQuietly(path);
      return;
    }
    this.#lastSignature = signature;
    if (this.#problem !== null) this.#options.log.info({ statusFile: path }, 'status file written again');
    this.#problem = null;
  }

  #fail(path: string, error: unknown): void {
    const message = (error as Error).message ?? String(error);
    this.#problem = `cannot write the status file ${path}: ${message}. Fix or change statusFile in the config (its directory must exist and be writable), then muxctl reload; services are not affected`;
    this.#retryAt = Date.now() + this.#options.retryMs;
    if (this.#logged.has(message)) return;
    if (this.#logged.size >= MAX_LOGGED_ERRORS) this.#logged.clear();
    this.#logged.add(message);
    this.#options.log.warn({ statusFile: path, error: message }, 'cannot write the status file');
  }

  #stopTimers(): void {
    if (this.#poll) clearInterval(this.#poll);
    if (this.#timer) clearTimeout(this.#timer);
    this.#poll = undefined;
    this.#timer = undefined;
    this.#dirty = false;
  }

  /** Stops writing and removes the file: no file means no muxd running. Idempotent; never throws. */
  async close(): Promise<void> {
    this.#stopTimers();
    const path = this.#path;
    this.#path = undefined;
    await this.#writing;
    if (path !== undefined) await removeQuietly(path);
  }
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // Already gone, or never written.
  }
}
