/**
 * Starting muxd on demand, shared by muxctl and mux-proxy: connect if it
 * runs, otherwise take a spawn lock, check again, start it detached, and
 * wait until its control socket answers. Many callers at once end with one
 * daemon: the lock makes one of them the starter, and the daemon's own pid
 * lock turns away any second daemon that slips through. Node built-ins only.
 *
 * This package does not depend on @muxd/daemon (the daemon depends on this
 * one): the caller, which declares that dependency, says which entry point
 * to start, usually `() => resolveDaemonEntry(import.meta.url)`.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { MuxPaths } from '@muxd/protocol/paths';
import { isAlive, readPid } from './pidFile.js';
import { canConnect } from './socket.js';

export interface EnsureDaemonOptions {
  /**
   * Absolute path of muxd's entry point, run with this process's node;
   * called only when this call starts muxd (see `resolveDaemonEntry`).
   */
  daemonEntry: () => string;
  /** Give up after this long. Default 15000 ms. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Called once when this caller starts the daemon (for a progress message). */
  onStarting?: () => void;
}

/**
 * Path of muxd's entry point (`dist/main.js` of @muxd/daemon), resolved as
 * the module at `from` (a file URL or path, usually the caller's
 * `import.meta.url`) sees @muxd/daemon: through the caller's declared
 * dependency. Throws when @muxd/daemon cannot be found from there.
 */
export function resolveDaemonEntry(from: string | URL): string {
  const require = createRequire(from);
  return join(dirname(require.resolve('@muxd/daemon/package.json')), 'dist', 'main.js');
}

/**
 * Where a daemon started in the background writes its stderr: what it
 * prints before its log opens, and the stack of a crash. Appended to by
 * each start, after a line of its own (`STARTUP_MARK`), so an earlier
 * daemon's crash survives the next start.
 */
export function daemonStartupLog(paths: MuxPaths): string {
  return join(paths.stateDir, 'muxd.stderr');
}

/** Begins each background start's part of `muxd.stderr`. */
export const STARTUP_MARK = '--- muxd starting';
/** At a start, a `muxd.stderr` over this size is cut to its last `STARTUP_LOG_KEEP_BYTES`. */
export const STARTUP_LOG_MAX_BYTES = 1024 * 1024;
/** What a cut `muxd.stderr` keeps: its last bytes, from the first line that starts in them. */
export const STARTUP_LOG_KEEP_BYTES = 256 * 1024;

/**
 * Opens `muxd.stderr` for a new daemon to append to: cut to its last
 * `STARTUP_LOG_KEEP_BYTES` (from a line start) when over
 * `STARTUP_LOG_MAX_BYTES`, then a `STARTUP_MARK` line. Returns the fd.
 */
function openStartupLog(path: string): number {
  const size = fileSize(path);
  if (size > STARTUP_LOG_MAX_BYTES) {
    const tail = Buffer.alloc(STARTUP_LOG_KEEP_BYTES);
    const fd = openSync(path, 'r');
    let read = 0;
    try {
      read = readSync(fd, tail, 0, tail.length, size - tail.length);
    } finally {
      closeSync(fd);
    }
    const kept = tail.subarray(0, read);
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, kept.subarray(kept.indexOf(0x0a) + 1), { mode: 0o600 });
    renameSync(temporary, path);
  }
  const fd = openSync(path, 'a', 0o600);
  writeSync(fd, `${STARTUP_MARK} at ${new Date().toISOString()} (started by pid ${process.pid}) ---\n`);
  return fd;
}

/**
 * Makes sure muxd runs for `paths`. Resolves 'running' if it already did,
 * 'started' if this call started it. Rejects with the daemon's own error
 * when it fails to start (a broken config, say).
 */
export async function ensureDaemon(paths: MuxPaths, options: EnsureDaemonOptions): Promise<'running' | 'started'> {
  if (await canConnect(paths.controlSocket)) return 'running';
  const timeoutMs = options.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
  const lockPath = join(paths.stateDir, 'spawn.lock');
  while (Date.now() < deadline) {
    if (takeLock(lockPath)) {
      try {
        if (await canConnect(paths.controlSocket)) return 'running';
        if (!daemonStarting(paths)) {
          options.onStarting?.();
          const child = startDetached(paths, options.daemonEntry, options.env ?? process.env);
          await waitForDaemon(paths, deadline, child);
          return 'started';
        }
      } finally {
        releaseLock(lockPath);
      }
    }
    if (await canConnect(paths.controlSocket)) return 'running';
    await sleep(50);
  }
  throw new Error(`muxd did not start within ${timeoutMs} ms; see ${daemonStartupLog(paths)} and ${join(paths.logDir, 'daemon', 'current.log')}`);
}

/** True when a daemon holds the pid lock and is alive but not listening yet. */
function daemonStarting(paths: MuxPaths): boolean {
  const pid = readPid(paths.lockFile);
  return pid !== undefined && isAlive(pid);
}

interface Started {
  exited: boolean;
  code: number | null;
}

function startDetached(paths: MuxPaths, daemonEntry: () => string, env: NodeJS.ProcessEnv): Started {
  const fd = openStartupLog(daemonStartupLog(paths));
  const args = [daemonEntry()];
  // Restart with the config the previous daemon of this home used, unless told otherwise.
  const lastConfig = readText(paths.lastConfigFile).trim();
  if (!env['MUXD_CONFIG'] && lastConfig && existsSync(lastConfig)) args.push('--config', lastConfig);
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', 'ignore', fd],
    env: { ...env, MUXD_BACKGROUND: '1' },
    cwd: process.cwd(),
  });
  closeSync(fd);
  const state: Started = { exited: false, code: null };
  child.once('exit', (code) => {
    state.exited = true;
    state.code = code;
  });
  child.unref();
  return state;
}

async function waitForDaemon(paths: MuxPaths, deadline: number, child: Started): Promise<void> {
  while (Date.now() < deadline) {
    if (await canConnect(paths.controlSocket)) return;
    if (child.exited) {
      // Another daemon may have won the race; otherwise report why it died.
      if (await canConnect(paths.controlSocket)) return;
      if (daemonStarting(paths)) {
        await sleep(50);
        continue;
      }
      // Only this start's part: an earlier daemon's last words are not this one's.
      // muxd's own line first (a stack follows a crash), else the last line.
      const log = readText(daemonStartupLog(paths));
      const lines = log.slice(Math.max(0, log.lastIndexOf(`\n${STARTUP_MARK}`))).split('\n').filter((line) => line.trim() !== '' && !line.startsWith(STARTUP_MARK));
      const text = lines.find((line) => line.startsWith('muxd: ')) ?? lines.pop();
      throw new Error(text ? text.replace(/^muxd: /, 'muxd failed to start: ') : `muxd exited with code ${child.code} while starting`);
    }
    await sleep(50);
  }
}

/** An exclusive lock file holding our pid; a dead owner's lock is removed. */
function takeLock(path: string): boolean {
  try {
    const fd = openSync(path, 'wx', 0o600);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const owner = readPid(path);
  const age = ageMs(path);
  if ((owner !== undefined && !isAlive(owner)) || (owner === undefined && age > 2000) || age > 60_000) {
    try {
      unlinkSync(path);
    } catch {
      // Someone else removed it.
    }
  }
  return false;
}

function releaseLock(path: string): void {
  if (readPid(path) !== process.pid) return;
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}


function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}


function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
