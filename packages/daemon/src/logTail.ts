import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';

/** The last `count` lines of `file` (reads backwards in blocks; fine for large logs). */
export function readLastLines(file: string, count: number): string[] {
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
    let text = '';
    let lines: string[] = [];
    while (position > 0) {
      const length = Math.min(block, position);
      position -= length;
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, position);
      text = buffer.toString('utf8') + text;
      lines = text.split('\n');
      if (lines.length > count + 1) break;
    }
    return lines.filter((line) => line.length > 0).slice(-count);
  } finally {
    closeSync(fd);
  }
}

/**
 * Follows a log file the way `tail -F` does: new complete lines go to
 * `onLines`; when rotation points the path at a new file, it follows that.
 * Returns a function that stops following.
 */
export function followFile(path: string, onLines: (lines: string[]) => void, intervalMs = 200): () => void {
  let target = resolveTarget(path);
  let offset = target ? safeSize(target) : 0;
  let partial = '';
  const timer = setInterval(() => {
    const current = resolveTarget(path);
    if (current !== target) {
      target = current;
      offset = 0;
      partial = '';
    }
    if (!target) return;
    const size = safeSize(target);
    if (size < offset) offset = 0;
    if (size === offset) return;
    let fd: number;
    try {
      fd = openSync(target, 'r');
    } catch {
      return;
    }
    try {
      const buffer = Buffer.alloc(size - offset);
      readSync(fd, buffer, 0, buffer.length, offset);
      offset = size;
      const text = partial + buffer.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      if (lines.length > 0) onLines(lines.filter((line) => line.length > 0));
    } finally {
      closeSync(fd);
    }
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
