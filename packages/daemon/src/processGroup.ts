import type { Logger } from './logs.js';
import type { Reaper } from './reaper.js';

/** After the leader exits, how long the rest of its process group gets before SIGKILL. */
const GROUP_GRACE_MS = 1000;
/** How often a group left behind is checked during that grace. */
const GROUP_POLL_MS = 25;

/** Sends `signal` to every process of group `pgid`; a group already gone is no error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already gone.
  }
}

/** True while any process of group `pgid` is alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Once a group's leader has exited, whatever is left of its group goes too:
 * SIGTERM now, SIGKILL after `GROUP_GRACE_MS`. Settles when the group is
 * gone, or once SIGKILL was sent; either way the reaper forgets the group.
 */
export function reapGroup(pgid: number, reaper: Reaper, log: Logger): Promise<void> {
  if (!groupAlive(pgid)) {
    reaper.forget(pgid);
    return Promise.resolve();
  }
  signalGroup(pgid, 'SIGTERM');
  return new Promise((resolve) => {
    const deadline = Date.now() + GROUP_GRACE_MS;
    const check = () => {
      if (groupAlive(pgid) && Date.now() < deadline) {
        setTimeout(check, GROUP_POLL_MS).unref();
        return;
      }
      if (groupAlive(pgid)) {
        log.warn({ pgid }, 'processes left behind by the child: sending SIGKILL');
        signalGroup(pgid, 'SIGKILL');
      }
      reaper.forget(pgid);
      resolve();
    };
    setTimeout(check, GROUP_POLL_MS).unref();
  });
}

/** Resolves true when `promise` settles within `ms`, false when the time runs out first. */
export function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
