import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import roll from 'pino-roll';
import { LOG_DEFAULTS } from '@muxd/config';
import type { LogRotation } from '@muxd/config';

export type { Logger } from 'pino';

/** Keys whose values never reach a log, wherever they appear. */
const REDACT = ['env', '*.env', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization'];

/** Directory of one service's logs; `current.log` points at the live file. */
export function serviceLogDir(logDir: string, service: string): string {
  return join(logDir, 'services', service);
}

export function daemonLogDir(logDir: string): string {
  return join(logDir, 'daemon');
}

/** A pino logger writing to `<dir>/<base>.N.log`, rotated by size, with `current.log` beside it. */
export async function createFileLogger(dir: string, base: string, rotation: LogRotation = LOG_DEFAULTS): Promise<Logger> {
  return pino({ base: null, redact: { paths: REDACT, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime }, await rollingFile(dir, base, rotation));
}

/** Lines held in memory per log file while its writes fail (a full disk); later lines are dropped. */
const MAX_PENDING_LOG_BYTES = 4 * 1024 ** 2;

/** Logs whose last write failed: directory -> the file, the error, lines dropped since. */
const failingLogs = new Map<string, { file: string; message: string; dropped: number }>();

/**
 * Why log lines are not reaching their files right now (a full disk, say),
 * or null when every log file takes its writes. Serving is not affected:
 * lines wait in memory (up to 4 MiB a file) and are written once the disk
 * takes them again; beyond that they are dropped and counted.
 */
export function logWriteProblem(): string | null {
  const problem = failingLogs.values().next().value;
  if (problem === undefined) return null;
  const others = failingLogs.size > 1 ? ` (and ${failingLogs.size - 1} more log${failingLogs.size > 2 ? 's' : ''})` : '';
  const dropped = problem.dropped > 0 ? `; ${problem.dropped} line${problem.dropped === 1 ? '' : 's'} dropped so far` : '';
  return `cannot write ${problem.file}${others}: ${problem.message}${dropped}. Free space in the log directory; writing resumes by itself`;
}

async function rollingFile(dir: string, base: string, rotation: LogRotation): ReturnType<typeof roll> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stream = await roll({
    file: join(dir, base),
    extension: '.log',
    size: `${rotation.maxSizeBytes}b`,
    // Also files left by an earlier daemon: pino-roll otherwise deletes only those it created.
    limit: { count: rotation.keep, removeOtherLogFiles: true },
    symlink: true,
    mkdir: true,
    maxLength: MAX_PENDING_LOG_BYTES,
  });
  // A failed write (ENOSPC, EIO...) must never take muxd down: the stream keeps the
  // lines and retries with the next one; the failure is reported by `muxctl ls`.
  stream.on('error', (error) => {
    const known = failingLogs.get(dir);
    failingLogs.set(dir, { file: stream.file, message: error.message, dropped: known?.dropped ?? 0 });
  });
  stream.on('drop', () => {
    const known = failingLogs.get(dir);
    if (known) known.dropped++;
  });
  stream.on('write', () => failingLogs.delete(dir));
  stream.on('close', () => failingLogs.delete(dir));
  return stream;
}

/** How the daemon log's lines are written: each carries muxd's pid. */
const daemonLogOptions = () => ({ base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime });

/**
 * Writes a last fatal line to the daemon log in `logDir`, synchronously,
 * after the lines `log` still holds: for a muxd about to exit (a crash),
 * where the log's own asynchronous writes would be lost. The line goes to
 * `current.log`, the live file. Returns false, never throws, when it cannot
 * be written.
 */
export function logFatalSync(log: Logger, logDir: string, fields: object, message: string): boolean {
  const stream = (log as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[pino.symbols.streamSym];
  try {
    stream?.flushSync?.();
  } catch {
    // Not open yet, or closed: the fatal line below still goes.
  }
  try {
    const destination = pino.destination({ dest: join(daemonLogDir(logDir), 'current.log'), sync: true, append: true, mkdir: true });
    pino(daemonLogOptions(), destination).fatal(fields, message);
    return true;
  } catch {
    return false;
  }
}

/**
 * The daemon log: to its file and, in the foreground, to stderr as well,
 * as JSON lines or through `prettyStderr` (the file stays JSON; both get
 * the lines already redacted).
 */
export async function createDaemonLogger(
  logDir: string,
  alsoStderr: boolean,
  rotation: LogRotation = LOG_DEFAULTS,
  prettyStderr?: DestinationStream,
): Promise<Logger> {
  const file = await rollingFile(daemonLogDir(logDir), 'muxd', rotation);
  const options = daemonLogOptions();
  if (!alsoStderr) return pino(options, file);
  return pino(options, pino.multistream([{ stream: file }, { stream: prettyStderr ?? process.stderr }]));
}
