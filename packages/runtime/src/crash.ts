/**
 * The record muxd leaves when it dies of an uncaught exception or an
 * unhandled rejection: written synchronously as it goes down, read by the
 * next muxd (`status`) and by `muxctl daemon status` while none runs. One
 * small JSON file in the state directory, replaced by each crash. Node
 * built-ins only.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import type { CrashRecord, LastCrash, MuxPaths } from '@muxd/protocol';

/** The longest stack a crash record keeps; the daemon log has the whole error. */
const MAX_STACK_CHARS = 16 * 1024;
/** The longest one-line message a crash record keeps. */
const MAX_MESSAGE_CHARS = 1000;

/**
 * What a crash record says of a thrown value: one line (an error's name and
 * message, a string's first line, anything else inspected) and the stack
 * (or the whole string, or the value inspected), both bounded.
 */
export function describeThrown(value: unknown): { message: string; stack: string } {
  const text = value instanceof Error ? String(value) : typeof value === 'string' ? value : inspect(value, { depth: 2, breakLength: Infinity });
  const message = (text.split('\n').find((line) => line.trim() !== '') ?? text).slice(0, MAX_MESSAGE_CHARS);
  const full = value instanceof Error && typeof value.stack === 'string' ? value.stack : typeof value === 'string' ? value : inspect(value, { depth: 4 });
  return { message, stack: full.slice(0, MAX_STACK_CHARS) };
}

/**
 * Writes `record` as the last crash, synchronously (muxd is about to exit),
 * through a temporary file so a reader never sees half of one. Never
 * throws: a crash record that cannot be written must not hide the crash.
 */
export function writeCrashRecord(paths: MuxPaths, record: CrashRecord): boolean {
  const file = paths.lastCrashFile;
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, file);
    return true;
  } catch {
    return false;
  }
}

/** The last crash of muxd in this home, or null when there is none (or its record cannot be read). */
export function readCrashRecord(paths: MuxPaths): LastCrash | null {
  const file = paths.lastCrashFile;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const { at, pid, version, origin, message, stack } = raw as Record<string, unknown>;
  if (typeof at !== 'number' || typeof pid !== 'number' || typeof message !== 'string') return null;
  return {
    at,
    pid,
    version: typeof version === 'string' ? version : '',
    origin: typeof origin === 'string' ? origin : '',
    message,
    stack: typeof stack === 'string' ? stack : '',
    file,
  };
}
