import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** What an update read and wrote. */
export interface FileUpdate {
  /** The file written: `path` with symlinks resolved. */
  file: string;
  before: string;
  after: string;
}

export interface UpdateOptions {
  /** Runs after the new text is safely on disk in a temp file, just before it replaces the file (backups, journals). */
  beforeCommit?: (before: string, after: string, file: string) => Promise<void>;
  /** Tries before giving up on a file that keeps changing. Default 5. */
  attempts?: number;
}

/** A failure to update a host file, explained in one line. */
export class FileUpdateError extends Error {
  override name = 'FileUpdateError';
}

/**
 * Rewrites `path` atomically from its current text: resolves symlinks (the
 * link stays), refuses read-only and non-UTF-8 files, writes a temp file in
 * the same directory with the same mode, fsyncs it, and just before the
 * rename re-reads the file: if a host changed it meanwhile, computes again
 * from the new text. `compute` returns undefined for "nothing to change".
 * Returns undefined when nothing changed. Throws `FileUpdateError`.
 */
export async function updateFileAtomic(path: string, compute: (text: string) => string | undefined, options: UpdateOptions = {}): Promise<FileUpdate | undefined> {
  let file: string;
  try {
    file = await realpath(path);
    await access(file, constants.R_OK | constants.W_OK);
    // No write bit at all means read-only by intent, even to root (whom access() lets through).
    if (((await stat(file)).mode & 0o222) === 0) throw Object.assign(new Error('read-only'), { code: 'EACCES' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new FileUpdateError(`${path} is read-only; left as it is`);
    throw new FileUpdateError(`cannot open ${path}: ${(error as Error).message}`);
  }
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const bytes = await readFile(file);
    const before = bytes.toString('utf8');
    if (!Buffer.from(before, 'utf8').equals(bytes)) throw new FileUpdateError(`${path} is not UTF-8 text; left as it is`);
    const after = compute(before);
    if (after === undefined || after === before) return undefined;
    const { mode } = await stat(file);
    const temp = join(dirname(file), `.${basename(file)}.muxctl-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx', mode & 0o7777);
    try {
      await handle.writeFile(after, 'utf8');
      await handle.chmod(mode & 0o7777);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await unlink(temp).catch(() => undefined);
      throw new FileUpdateError(`cannot write next to ${path}: ${(error as Error).message}`);
    }
    await handle.close();
    // Hosts rewrite their files at any time (Claude Code does constantly): a change since the read wins, and we start over.
    const now = await readFile(file).catch(() => undefined);
    if (!now?.equals(bytes)) {
      await unlink(temp).catch(() => undefined);
      continue;
    }
    try {
      await options.beforeCommit?.(before, after, file);
      await rename(temp, file);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error instanceof FileUpdateError ? error : new FileUpdateError(`cannot replace ${path}: ${(error as Error).message}`);
    }
    await syncDirectory(dirname(file));
    return { file, before, after };
  }
  throw new FileUpdateError(`${path} kept changing while muxctl tried to edit it; try again when the host is idle`);
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not every platform can fsync a directory; the rename is done either way.
  }
}
