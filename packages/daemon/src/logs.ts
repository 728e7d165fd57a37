import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import roll from 'pino-roll';

export type { Logger } from 'pino';

/** Rotation of every muxd log file. */
export interface LogRotation {
  /** Rotate when the current file reaches this size, e.g. "10m". */
  size: string;
  /** Rotated files kept besides the current one. */
  keep: number;
}

export const DEFAULT_ROTATION: LogRotation = { size: '10m', keep: 5 };

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
export async function createFileLogger(dir: string, base: string, rotation: LogRotation = DEFAULT_ROTATION): Promise<Logger> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stream = await roll({
    file: join(dir, base),
    extension: '.log',
    size: rotation.size,
    limit: { count: rotation.keep },
    symlink: true,
    mkdir: true,
  });
  return pino({ base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}

/** The daemon log: to its file and, in the foreground, to stderr as well. */
export async function createDaemonLogger(logDir: string, alsoStderr: boolean): Promise<Logger> {
  const dir = daemonLogDir(logDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = await roll({
    file: join(dir, 'muxd'),
    extension: '.log',
    size: DEFAULT_ROTATION.size,
    limit: { count: DEFAULT_ROTATION.keep },
    symlink: true,
    mkdir: true,
  });
  const options = { base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (!alsoStderr) return pino(options, file);
  return pino(options, pino.multistream([{ stream: file }, { stream: process.stderr }]));
}
