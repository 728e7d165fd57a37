/**
 * Starting muxd on demand, shared by muxctl and mux-proxy: connect if it
 * runs, otherwise take a spawn lock, check again, start it detached, and
 * wait until its control socket answers. Many callers at once end with one
 * daemon: the lock makes one of them the starter, and the daemon's own pid
 * lock turns away any second daemon that slips through. Node built-ins only.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { MuxPaths } from './paths.js';
import { isAlive, readPid } from './pidFile.js';
import { canConnect } from './socket.js';

export interface EnsureDaemonOptions {
  /** Give up after this long. Default 15000 ms. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Called once when this caller starts the daemon (for a progress message). */
  onStarting?: () => void;
}

/** Path of the daemon's entry point, found through the installed @muxd/daemon package. */
export function daemonEntry(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@muxd/daemon/package.json')), 'dist', 'main.js');
}

/** Where a daemon started in the background writes what it prints before its log opens. */
export function daemonStartupLog(paths: MuxPaths): string {
  return join(paths.stateDir, 'muxd.stderr');
}

/**
 * Makes sure muxd runs for `paths`. Resolves 'running' if it already did,
 * 'started' if this call started it. Rejects with the daemon's own error
 * when it fails to start (a broken config, say).
 */
export async function ensureDaemon(paths: MuxPaths, options: EnsureDaemonOptions = {}): Promise<'running' | 'started'> {
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
          const child = startDetached(paths, options.env ?? process.env);
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

function startDetached(paths: MuxPaths, env: NodeJS.ProcessEnv): Started {
  const errorLog = daemonStartupLog(paths);
  const fd = openSync(errorLog, 'w', 0o600);
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
      const text = readText(daemonStartupLog(paths)).trim().split('\n').filter(Boolean).pop();
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
