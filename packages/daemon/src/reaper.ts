import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/**
 * Kills every child process group if the daemon dies without cleaning up
 * (SIGKILL, OOM). A tiny POSIX shell process (about 1 MiB) reads "+PGID" and
 * "-PGID" lines on stdin; when stdin reaches EOF, because the daemon is gone,
 * it sends SIGTERM to each group still listed, then SIGKILL. (dash's kill
 * takes no `--`: a negative pid right after the signal names a group.) One reaper
 * serves the whole daemon, so a service costs no extra process.
 */
const SCRIPT = `
trap '' INT HUP TERM
groups=' '
while IFS= read -r line; do
  case "$line" in
    +*) groups="$groups\${line#+} " ;;
    -*) kept=' '
        for g in $groups; do [ "$g" = "\${line#-}" ] || kept="$kept$g "; done
        groups=$kept ;;
  esac
done
[ "$groups" = ' ' ] && exit 0
for g in $groups; do kill -TERM "-$g" 2>/dev/null; done
sleep 2
for g in $groups; do kill -KILL "-$g" 2>/dev/null; done
exit 0
`;

export class Reaper {
  readonly #process: ChildProcess;
  /** Groups alive right now, for the synchronous last-chance kill on exit. */
  readonly groups = new Set<number>();
  /** If this process exits without `close()` (an uncaught error, `process.exit`), the groups go with it. */
  readonly #onExit = (): void => this.killAllNow();

  constructor() {
    this.#process = spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    this.#process.stdin?.on('error', () => undefined);
    this.#process.unref();
    process.on('exit', this.#onExit);
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  watch(pgid: number): void {
    this.groups.add(pgid);
    this.#process.stdin?.write(`+${pgid}\n`);
  }

  forget(pgid: number): void {
    if (!this.groups.delete(pgid)) return;
    this.#process.stdin?.write(`-${pgid}\n`);
  }

  /** SIGKILL every group still watched; safe inside `process.on('exit')`. */
  killAllNow(): void {
    for (const pgid of this.groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  /** Lets the reaper exit (after a clean shutdown nothing is left to kill). Idempotent. */
  close(): void {
    process.off('exit', this.#onExit);
    this.#process.stdin?.end();
  }
}
