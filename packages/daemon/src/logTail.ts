import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';

/** The last `count` lines of `file` (reads backwards in blocks; fine for large logs). */
export function readLastLines(file: string, count: number): string[] {
  if (count <= 0) return [];
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = statSync(file).size;
    const block = 64 * 1024;
    let position = size;
    /** The bytes of the earliest line read so far: it may be cut off, even mid-character, until the block before it is read. */
    let carry = Buffer.alloc(0);
    const parts: string[][] = [];
    let found = 0;
    while (position > 0 && found < count) {
      const length = Math.min(block, position);
      position -= length;
      const buffer = Buffer.alloc(length + carry.length);
      readSync(fd, buffer, 0, length, position);
      carry.copy(buffer, length);
      const firstNewline = position > 0 ? buffer.indexOf(0x0a) : -1;
      if (position > 0 && firstNewline === -1) {
        carry = buffer;
        continue;
      }
      carry = buffer.subarray(0, Math.max(0, firstNewline));
      const lines = buffer.toString('utf8', firstNewline + 1).split('\n').filter((line) => line.length > 0);
      parts.unshift(lines);
      found += lines.length;
    }
    return parts.flat().slice(-count);
  } finally {
    closeSync(fd);
  }
}

/**
 * Follows a log file the way `tail -F` does: new complete lines go to
 * `onLines`; when rotation points the path at a new file, it reads what is
 * left of the old one, then follows the new one from its start.
 * Returns a function that stops following.
 */
export function followFile(path: string, onLines: (lines: string[]) => void, intervalMs = 200): () => void {
  let target = resolveTarget(path);
  /** Where the first line not yet delivered starts; a partial line is read again once complete. */
  let offset = target ? safeSize(target) : 0;
  const readNew = (file: string, all: boolean) => {
    const size = safeSize(file);
    if (size < offset) offset = 0;
    if (size === offset) return;
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return;
    }
    try {
      const buffer = Buffer.alloc(size - offset);
      const length = readSync(fd, buffer, 0, buffer.length, offset);
      // Cut at a newline, in bytes: a partial line (or character) waits for the rest.
      const end = all ? length : buffer.lastIndexOf(0x0a, length - 1) + 1;
      if (end === 0) return;
      offset += end;
      const lines = buffer.toString('utf8', 0, end).split('\n').filter((line) => line.length > 0);
      if (lines.length > 0) onLines(lines);
    } finally {
      closeSync(fd);
    }
  };
  const timer = setInterval(() => {
    const current = resolveTarget(path);
    if (current !== target) {
      // Rotated: what the old file got since the last poll comes first.
      if (target) readNew(target, true);
      target = current;
      offset = 0;
    }
    if (target) readNew(target, false);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function resolveTarget(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function safeSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
