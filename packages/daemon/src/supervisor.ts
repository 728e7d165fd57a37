import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { statSync } from 'node:fs';
import type { Mux, UpstreamHandle } from '@muxd/engine';
import type { ServiceConfig } from '@muxd/config';
import { ChildStdin, StderrTail, readChildStderr, readChildStdout } from './childStdio.js';
import type { Logger } from './logs.js';
import { reapGroup, settlesWithin, signalGroup } from './processGroup.js';
import type { Reaper } from './reaper.js';
import type { LaunchCommand } from './unwrap/packageBin.js';

/** What `muxctl ls` shows for a service. */
export const ServiceStatus = {
  Stopped: 'stopped',
  Starting: 'starting',
  Online: 'online',
  /** Crashed; waiting to restart. */
  Backoff: 'backoff',
  /** Gave up: too many restarts, or the command can't be run. */
  Errored: 'errored',
  /** Stopped for lack of clients; the next client starts it. */
  Idle: 'idle',
} as const;
export type ServiceStatus = (typeof ServiceStatus)[keyof typeof ServiceStatus];

/** Why a child ended. */
export const ExitReason = {
  Crash: 'crash',
  SpawnFailed: 'spawn-failed',
  Manual: 'manual',
  Idle: 'idle',
  Shutdown: 'shutdown',
  Config: 'config',
  Hung: 'hung',
  Memory: 'memory',
  /** The child did not complete the initialize handshake. */
  Handshake: 'handshake',
  ClientGone: 'client-gone',
  /** `muxctl update` installed a new version of the package. */
  Update: 'update',
} as const;
export type ExitReason = (typeof ExitReason)[keyof typeof ExitReason];

export interface ExitInfo {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  reason: ExitReason;
  /** When it ended, ms since the epoch. */
  at: number;
  uptimeMs: number;
  /** Set for spawn failures: why the command could not run. */
  error?: string;
}

/** Lifecycle events, for logs and the history. */
export type SupervisorEvent =
  | { type: 'spawn'; pid: number }
  | { type: 'exit'; exit: ExitInfo; willRestart: boolean; delayMs?: number }
  | { type: 'errored'; message: string };

export interface SupervisorOptions {
  config: ServiceConfig;
  mux: Mux;
  reaper: Reaper;
  log: Logger;
  onEvent?: (event: SupervisorEvent) => void;
  /** Called after every change of `status`. */
  onStatusChange?: (status: ServiceStatus) => void;
  /** What each child runs (the package runner's bin, see unwrap/); by default the configured command. */
  launch?: (config: ServiceConfig) => LaunchCommand | Promise<LaunchCommand>;
}

/**
 * Runs one MCP server child: spawns it in its own process group, feeds its
 * stdio to the engine, restarts it with exponential backoff when it dies,
 * gives up after too many restarts, and stops it with stdin close, SIGTERM,
 * then SIGKILL to the whole group.
 */
export class ChildSupervisor {
  #config: ServiceConfig;
  readonly #mux: Mux;
  readonly #reaper: Reaper;
  readonly #log: Logger;
  readonly #onEvent: ((event: SupervisorEvent) => void) | undefined;
  readonly #onStatusChange: ((status: ServiceStatus) => void) | undefined;
  readonly #launch: ((config: ServiceConfig) => LaunchCommand | Promise<LaunchCommand>) | undefined;
  /** Set while a spawn waits for its command; a stop clears it, so that spawn never happens. */
  #launching: symbol | undefined;

  #status: ServiceStatus = ServiceStatus.Stopped;
  #restarts = 0;
  #lastExit: ExitInfo | undefined;
  #errorMessage: string | undefined;

  #child: ChildProcessWithoutNullStreams | undefined;
  #startedAt = 0;
  #upstream: UpstreamHandle | undefined;
  /** The current child's stdin as the engine sees it. */
  #stdin: ChildStdin | undefined;
  #backoffTimer: ReturnType<typeof setTimeout> | undefined;
  #delayMs: number;
  #recentRestarts: number[] = [];
  /**
   * Set while muxd ends the child on purpose. With `failure`, the child was
   * unusable (hung, over maxMemory, failed its handshake): its end counts
   * as a crash does, through the backoff and the crash-loop limit.
   */
  #stopping: { reason: ExitReason; done: Promise<void>; failure?: string } | undefined;
  /** Counts stop() calls, so a restart knows a stop came in while it waited. */
  #stopRequests = 0;
  /** The current child's last stderr lines, for clients of a handshake it never completed. */
  readonly #stderrTail = new StderrTail();
  #exited: Promise<void> = Promise.resolve();
  /** Settles once what the last child left in its process group is gone (or SIGKILLed). */
  #groupGone: Promise<void> = Promise.resolve();

  constructor(options: SupervisorOptions) {
    this.#config = options.config;
    this.#mux = options.mux;
    this.#reaper = options.reaper;
    this.#log = options.log;
    this.#onEvent = options.onEvent;
    this.#onStatusChange = options.onStatusChange;
    this.#launch = options.launch;
    this.#delayMs = this.#config.restart.initialDelayMs;
  }

  /** What `muxctl ls` shows; changed only by the supervisor itself (see `onStatusChange`). */
  get status(): ServiceStatus {
    return this.#status;
  }

  /** Restarts after crashes (and `muxctl restart`) since the daemon started. */
  get restarts(): number {
    return this.#restarts;
  }

  get lastExit(): ExitInfo | undefined {
    return this.#lastExit;
  }

  /** Why the service is errored, when it is. */
  get errorMessage(): string | undefined {
    return this.#errorMessage;
  }

  #setStatus(status: ServiceStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.#onStatusChange?.(status);
  }

  /** A lazy service waiting for its first client: a stopped supervisor counts as idle. */
  markIdle(): void {
    if (this.#status === ServiceStatus.Stopped) this.#setStatus(ServiceStatus.Idle);
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** When the current child started, ms since the epoch; undefined when none runs. */
  get startedAt(): number | undefined {
    return this.#child ? this.#startedAt : undefined;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the child unless it runs; clears an errored state and the restart budget. */
  start(): void {
    if (this.#stopping) {
      // Start once the stop under way is done, unless another stop is asked for meanwhile.
      const stops = this.#stopRequests;
      void this.#stopping.done.then(() => {
        if (stops === this.#stopRequests && !this.#stopping) this.start();
      });
      return;
    }
    if (this.#child || this.#launching) return;
    if (this.#backoffTimer) clearTimeout(this.#backoffTimer);
    this.#backoffTimer = undefined;
    this.#recentRestarts = [];
    this.#delayMs = this.#config.restart.initialDelayMs;
    this.#errorMessage = undefined;
    this.#mux.setUnavailable(undefined);
    this.#spawn();
  }

  /**
   * Stops the child (stdin close, SIGTERM, SIGKILL to its group after
   * `stopTimeout`) and keeps it stopped. Resolves once the whole group is gone.
   */
  async stop(reason: ExitReason, counted = true): Promise<void> {
    if (counted) this.#stopRequests++;
    const target = reason === ExitReason.Idle ? ServiceStatus.Idle : ServiceStatus.Stopped;
    const wasErrored = this.status === ServiceStatus.Errored;
    // Whatever is going on (a backoff, a stop or a restart of muxd's own), it ends stopped.
    for (;;) {
      if (this.#backoffTimer) clearTimeout(this.#backoffTimer);
      this.#backoffTimer = undefined;
      this.#launching = undefined;
      if (this.#stopping) {
        await this.#stopping.done;
        continue;
      }
      const child = this.#child;
      if (!child) break;
      const done = this.#terminate(child);
      this.#stopping = { reason, done };
      try {
        await done;
      } finally {
        this.#stopping = undefined;
      }
    }
    // An idle stop leaves an errored service errored: only the user's start clears that.
    if (!(wasErrored && reason === ExitReason.Idle)) this.#setStatus(target);
    this.#markUnavailable(reason);
  }

  /**
   * Ends a child that runs but cannot serve (it failed its handshake, stopped
   * answering, grew over maxMemory, or leaves its stdin full) and starts a new
   * one the way a crash does: after the backoff delay, and counted against
   * `restart.maxRestarts`, so that a child that is always unusable ends
   * errored with `why` instead of restarting forever.
   */
  async recycle(reason: ExitReason, why: string): Promise<void> {
    const child = this.#child;
    if (!child || this.#stopping) return;
    const done = this.#terminate(child);
    this.#stopping = { reason, done, failure: why };
    try {
      await done;
    } finally {
      if (this.#stopping?.done === done) this.#stopping = undefined;
    }
  }

  /** Uses `config` from the next spawn on. */
  reconfigure(config: ServiceConfig): void {
    this.#config = config;
  }

  /** Stops the child and starts a new one; clients stay connected. */
  async restart(reason: ExitReason): Promise<void> {
    const stops = ++this.#stopRequests;
    await this.stop(reason, false);
    // A stop asked for while this one ran wins over the start.
    if (stops !== this.#stopRequests) return;
    this.#restarts++;
    this.start();
  }

  #markUnavailable(reason: ExitReason): void {
    if (reason === ExitReason.Manual) {
      this.#mux.setUnavailable(`Service '${this.#config.name}' is stopped; start it with: muxctl start ${this.#config.name}`);
    } else if (reason === ExitReason.Shutdown) {
      this.#mux.setUnavailable('muxd is shutting down');
    }
  }

  #spawn(): void {
    this.#setStatus(ServiceStatus.Starting);
    const { command, args } = this.#config;
    const launch = this.#launch?.(this.#config) ?? { command, args };
    if (!(launch instanceof Promise)) {
      this.#spawnCommand(launch);
      return;
    }
    const token = (this.#launching = Symbol('launch'));
    void launch.catch(() => ({ command, args })).then((resolved) => {
      if (this.#launching !== token) return;
      this.#launching = undefined;
      this.#spawnCommand(resolved);
    });
  }

  #spawnCommand({ command, args }: LaunchCommand): void {
    const { cwd, env } = this.#config;
    const cwdProblem = checkDirectory(cwd);
    if (cwdProblem) {
      this.#spawnFailed(`working directory ${cwd} ${cwdProblem}`);
      return;
    }
    this.#stderrTail.clear();
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    } catch (error) {
      this.#spawnFailed(`cannot run ${command}: ${(error as Error).message}`);
      return;
    }
    this.#child = child;
    this.#startedAt = Date.now();
    let resolveExited!: () => void;
    this.#exited = new Promise((resolve) => (resolveExited = resolve));

    child.once('error', (error: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) {
        this.#log.warn({ err: error.message }, 'child process error');
        return;
      }
      this.#child = undefined;
      resolveExited();
      const why = error.code === 'ENOENT' ? `command not found: ${command}` : error.code === 'EACCES' ? `permission denied: ${command}` : error.message;
      this.#spawnFailed(why);
    });

    child.once('spawn', () => {
      const pid = child.pid as number;
      this.#setStatus(ServiceStatus.Online);
      this.#reaper.watch(pid);
      this.#log.info({ child: pid, command }, 'child started');
      this.#onEvent?.({ type: 'spawn', pid });
      this.#stdin = new ChildStdin(child, {
        config: () => this.#config,
        log: this.#log,
        onStall: (why) => {
          if (this.#child === child) void this.recycle(ExitReason.Hung, why);
        },
      });
      this.#upstream = this.#mux.attachUpstream(this.#stdin.peer);
    });

    const stdout = readChildStdout({ config: () => this.#config, log: this.#log, upstream: () => this.#upstream, stdin: () => this.#stdin?.peer });
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    const stderr = readChildStderr(this.#log, this.#stderrTail);
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', (error) => this.#log.debug({ err: error.message }, 'child stdin closed'));

    child.once('exit', (code, signal) => {
      const pid = child.pid;
      if (pid !== undefined) this.#groupGone = reapGroup(pid, this.#reaper, this.#log);
      // Let stdout drain (a last answer written just before exiting), but don't
      // wait for grandchildren holding the pipe open.
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(fallback);
        resolveExited();
        this.#childGone(child, code, signal);
      };
      const fallback = setTimeout(finish, 200);
      child.stdout.once('close', finish);
      if (child.stdout.closed) finish();
    });
  }

  #spawnFailed(why: string): void {
    this.#child = undefined;
    const exit: ExitInfo = { pid: undefined, code: null, signal: null, reason: ExitReason.SpawnFailed, at: Date.now(), uptimeMs: 0, error: why };
    this.#lastExit = exit;
    this.#log.error({ error: why }, 'child could not start');
    this.#onEvent?.({ type: 'exit', exit, willRestart: false });
    this.#becomeErrored(`Service '${this.#config.name}' cannot start: ${why}. Fix the config, then: muxctl start ${this.#config.name}`);
  }

  #becomeErrored(message: string): void {
    this.#errorMessage = message;
    this.#setStatus(ServiceStatus.Errored);
    this.#log.error({}, message);
    this.#onEvent?.({ type: 'errored', message });
    this.#mux.setUnavailable(message);
  }

  #childGone(child: ChildProcessWithoutNullStreams, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    const now = Date.now();
    const stopping = this.#stopping;
    const exit: ExitInfo = {
      pid: child.pid,
      code,
      signal,
      reason: stopping ? stopping.reason : ExitReason.Crash,
      at: now,
      uptimeMs: now - this.#startedAt,
    };
    this.#lastExit = exit;
    this.#stdin?.dispose();
    this.#stdin = undefined;
    const how = stopping?.failure ? `${stopping.reason}: ${stopping.failure}` : signal ? `signal ${signal}` : `exit code ${code}`;
    const deliberate = stopping !== undefined && !stopping.failure;
    this.#upstream?.closed(deliberate ? `stopped (${stopping.reason})` : stopping ? `restarted (${how})` : `exited with ${how}`, {
      failed: !deliberate,
      stderrTail: this.#stderrTail.toString(),
    });
    this.#upstream = undefined;
    if (stopping && !stopping.failure) {
      this.#log.info({ pid: child.pid, code, signal, reason: stopping.reason }, 'child stopped');
      this.#onEvent?.({ type: 'exit', exit, willRestart: false });
      return;
    }
    const { maxRestarts, windowMs, resetAfterMs, initialDelayMs, maxDelayMs } = this.#config.restart;
    const stable = exit.uptimeMs >= resetAfterMs;
    if (stable) this.#delayMs = initialDelayMs;
    this.#recentRestarts = this.#recentRestarts.filter((at) => now - at < windowMs);
    if (maxRestarts > 0 && this.#recentRestarts.length >= maxRestarts) {
      this.#log.error({ pid: child.pid, code, signal }, `child ended (${how})`);
      this.#onEvent?.({ type: 'exit', exit, willRestart: false });
      this.#becomeErrored(
        `Service '${this.#config.name}' is errored: it ${stopping ? 'had to be restarted' : 'exited'} ${this.#recentRestarts.length + 1} times within ${Math.round(windowMs / 1000)} s (last: ${how}). See muxctl logs ${this.#config.name}, then: muxctl start ${this.#config.name}`,
      );
      return;
    }
    // The first end after a stable run restarts at once (its clients wait for nothing); a second backs off.
    const immediate = stable || this.#recentRestarts.length === 0;
    const delayMs = immediate ? 0 : this.#delayMs;
    if (!immediate) this.#delayMs = Math.min(this.#delayMs * 2, maxDelayMs);
    this.#recentRestarts.push(now);
    this.#restarts++;
    this.#setStatus(ServiceStatus.Backoff);
    this.#log.warn({ pid: child.pid, code, signal, delayMs }, `child ended (${how}); restarting in ${delayMs} ms`);
    this.#onEvent?.({ type: 'exit', exit, willRestart: true, delayMs });
    this.#backoffTimer = setTimeout(() => {
      this.#backoffTimer = undefined;
      this.#spawn();
    }, delayMs);
  }

  /** stdin close, then SIGTERM, then SIGKILL, each to the whole process group. */
  async #terminate(child: ChildProcessWithoutNullStreams): Promise<void> {
    const pid = child.pid;
    const exited = this.#exited;
    child.stdin.end();
    const stopTimeoutMs = this.#config.stopTimeoutMs;
    if (!(await settlesWithin(exited, Math.min(1000, stopTimeoutMs)))) {
      if (pid !== undefined) signalGroup(pid, 'SIGTERM');
      if (!(await settlesWithin(exited, stopTimeoutMs))) {
        this.#log.warn({ pid, stopTimeoutMs }, 'child ignored SIGTERM: sending SIGKILL');
        if (pid !== undefined) signalGroup(pid, 'SIGKILL');
        await exited;
      }
    }
    // A stop is done when the whole group is, not just its leader.
    await this.#groupGone;
  }
}

function checkDirectory(path: string): string | undefined {
  try {
    return statSync(path).isDirectory() ? undefined : 'is not a directory';
  } catch {
    return 'does not exist';
  }
}
