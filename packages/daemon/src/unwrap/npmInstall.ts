import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** How long one `npm install` may take before it is stopped (ms). */
export const NPM_INSTALL_TIMEOUT_MS = 2 * 60_000;

export interface NpmInstallOptions {
  /** The directory npm installs into (`--prefix`). */
  prefix: string;
  /** What to install: a spec npm understands, paths absolute. */
  spec: string;
  /** npm settings the runner was given (`--registry=URL`). */
  npmOptions: readonly string[];
  /** `muxctl update`: ask the registry for the newest match; otherwise use the cache when it can. */
  preferOnline: boolean;
  /** The environment npm runs with (the service's: its `npm_config_*` settings and credentials apply). */
  env: NodeJS.ProcessEnv;
  /** Each line npm prints (stdout and stderr). */
  onLine: (line: string) => void;
  /** Stops npm (its whole process group). */
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * Runs `npm install --prefix DIR SPEC` without blocking muxd, in its own
 * process group so that a timeout or an abort stops npm and whatever it
 * started. Resolves when npm succeeded; rejects with a one-line Error
 * saying why it did not (npm missing, its exit code and last line, a
 * timeout).
 */
export function npmInstall(options: NpmInstallOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? NPM_INSTALL_TIMEOUT_MS;
  const args = [
    'install',
    '--prefix',
    options.prefix,
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
    options.preferOnline ? '--prefer-online' : '--prefer-offline',
    ...options.npmOptions,
    options.spec,
  ];
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new Error('cancelled'));
      return;
    }
    const child = spawn('npm', args, { cwd: options.prefix, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let why = '';
    let stopped: string | undefined;
    const onLine = (line: string) => {
      if (line.trim() === '') return;
      if (!why) why = errorText(line);
      options.onLine(line);
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    const stop = (why: string) => {
      if (stopped || child.pid === undefined || child.exitCode !== null) return;
      stopped = why;
      signalGroup(child.pid, 'SIGTERM');
      setTimeout(() => signalGroup(child.pid as number, 'SIGKILL'), 2000).unref();
    };
    const timer = setTimeout(() => stop(`npm install took longer than ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
    const onAbort = () => stop('cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (error: Error | undefined) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      finish(new Error(error.code === 'ENOENT' ? 'npm is not on the service PATH' : `cannot run npm: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      if (stopped) finish(new Error(stopped));
      else if (code === 0) finish(undefined);
      else finish(new Error(`npm install failed (${signal ? `signal ${signal}` : `exit code ${code}`})${why ? `: ${why}` : ''}`));
    });
  });
}

/** What an `npm error` line says, past the lines that only name a code or the debug log; '' for any other line. */
function errorText(line: string): string {
  const match = /^npm (?:error|ERR!) (.*)$/.exec(line.trim());
  const text = match?.[1]?.trim() ?? '';
  return /^(code|errno|syscall) |^A complete log|^$/.test(text) ? '' : text.slice(0, 300);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Gone already.
  }
}
