import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
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

function rollingFile(dir: string, base: string, rotation: LogRotation): ReturnType<typeof roll> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return roll({
    file: join(dir, base),
    extension: '.log',
    size: `${rotation.maxSizeBytes}b`,
    // Also files left by an earlier daemon: pino-roll otherwise deletes only those it created.
    limit: { count: rotation.keep, removeOtherLogFiles: true },
    symlink: true,
    mkdir: true,
  });
}

/** The daemon log: to its file and, in the foreground, to stderr as well. */
export async function createDaemonLogger(logDir: string, alsoStderr: boolean, rotation: LogRotation = LOG_DEFAULTS): Promise<Logger> {
  const file = await rollingFile(daemonLogDir(logDir), 'muxd', rotation);
  const options = { base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (!alsoStderr) return pino(options, file);
  return pino(options, pino.multistream([{ stream: file }, { stream: process.stderr }]));
}
