import { linkSync, unlinkSync, writeFileSync } from 'node:fs';
import { MuxError, MuxErrorCodes } from '@muxd/protocol';
import { isAlive, readPid } from '@muxd/runtime/pidFile';

/**
 * One daemon per home: a lock file holding the owner's pid, created
 * exclusively. A lock whose pid is dead is taken over (under a second
 * exclusive file, so two starters can't both take it). A pid check frees a
 * crashed daemon's lock at once, where a time-based stale lock would make
 * the next start wait.
 */
export class PidLock {
  readonly path: string;
  #held = false;

  private constructor(path: string) {
    this.path = path;
  }

  /** Takes the lock or throws `MUX_DAEMON_RUNNING` naming the running daemon's pid. */
  static acquire(path: string): PidLock {
    const lock = new PidLock(path);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (tryCreate(path)) {
        lock.#held = true;
        return lock;
      }
      const owner = readPid(path);
      if (owner !== undefined && isAlive(owner)) {
        throw new MuxError(MuxErrorCodes.DaemonRunning, `muxd is already running for this home (pid ${owner})`);
      }
      takeOverStale(path, owner);
    }
    throw new MuxError(MuxErrorCodes.DaemonRunning, `could not take the lock ${path}; another muxd is starting`);
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    if (readPid(this.path) === process.pid) unlinkQuietly(this.path);
  }
}

/**
 * Creates `path` holding our pid, atomically: the pid is written to a
 * private file first and linked into place, so nobody ever reads the lock
 * file empty (and mistakes it for a dead owner's).
 */
function tryCreate(path: string): boolean {
  const staging = `${path}.${process.pid}.tmp`;
  writeFileSync(staging, `${process.pid}\n`, { mode: 0o600 });
  try {
    linkSync(staging, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkQuietly(staging);
  }
}

function takeOverStale(path: string, stalePid: number | undefined): void {
  const guard = `${path}.takeover`;
  if (!tryCreate(guard)) {
    const guardOwner = readPid(guard);
    if (guardOwner !== undefined && isAlive(guardOwner)) return;
    unlinkQuietly(guard);
    return;
  }
  try {
    // Re-read under the guard: another starter may have taken it already.
    if (readPid(path) === stalePid) unlinkQuietly(path);
  } finally {
    unlinkQuietly(guard);
  }
}



function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
