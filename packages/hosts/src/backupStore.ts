/**
 * Backups and journals of rewired host files, under muxd's state directory:
 * `backups/<file name>-<hash of its absolute path>/<timestamp>.bak` holds the
 * file as it was, `<timestamp>.journal.json` the original transport of every
 * entry rewire changed (what `rewire --undo` restores). Backups are created
 * with O_EXCL and never overwritten; the directory is private (0700).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Transport, TransportPath } from './hostDocument.js';
import type { FileFormat, HostId, HostScope } from './hostRegistry.js';

/** One entry rewire changed. */
export interface JournalEntry {
  name: string;
  service: string;
  where: TransportPath;
  /** Its transport fields before and after (`null`: the field was absent). */
  before: JournalTransport;
  after: JournalTransport;
  /** The entry's text before and after, for a byte-exact undo while it is unchanged. */
  regionBefore: string;
  regionAfter: string;
  /** How the entry reaches muxd after the change (absent in older journals: stdio). */
  transport?: 'stdio' | 'http';
  /**
   * Set when the change added or removed whole fields (stdio <-> HTTP): the
   * entry's own fields it touched, as they were and as it wrote them (null:
   * absent). Undo of an entry a host changed since puts `before` back.
   */
  fields?: { before: Record<string, unknown>; after: Record<string, unknown> };
}

/** `Transport` as JSON keeps it: absent fields are null. */
export interface JournalTransport {
  command: string | null;
  args: string[] | null;
  type?: string | null;
}

export interface Journal {
  version: 1;
  /** Absolute path of the host file (symlinks resolved). */
  file: string;
  host: HostId;
  scope: HostScope;
  format: FileFormat;
  /** Keys from the document root to the servers map. */
  serversPath: string[];
  /** ISO time of the rewire. */
  time: string;
  backup: string;
  entries: JournalEntry[];
  /** ISO time of the undo, once done. */
  undoneAt?: string;
}

/** A journal with where it is stored. */
export interface StoredJournal extends Journal {
  path: string;
}

export function toJournalTransport(transport: Transport, withType: boolean): JournalTransport {
  const result: JournalTransport = { command: transport.command ?? null, args: transport.args ?? null };
  if (withType) result.type = transport.type ?? null;
  return result;
}

export function fromJournalTransport(transport: JournalTransport): Transport {
  const result: Transport = { command: transport.command ?? undefined, args: transport.args ?? undefined };
  if ('type' in transport) result.type = transport.type ?? undefined;
  return result;
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

export class BackupStore {
  readonly dir: string;

  /** `stateDir`: muxd's state directory (`resolvePaths().stateDir`). */
  constructor(stateDir: string) {
    this.dir = join(stateDir, 'backups');
  }

  /** The directory of one host file's backups, keyed by its absolute path. */
  fileDir(file: string): string {
    return join(this.dir, `${basename(file).replace(/^\.+/, '')}-${createHash('sha256').update(file).digest('hex').slice(0, 12)}`);
  }

  /**
   * Saves `text` as a new timestamped backup of `file` and returns its path.
   * Never overwrites: a backup made in the same millisecond gets a suffix.
   */
  async backup(file: string, text: string, now = new Date()): Promise<string> {
    const dir = this.fileDir(file);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'source'), file + '\n', { flag: 'w', mode: 0o600 });
    const base = stamp(now);
    for (let suffix = 0; ; suffix++) {
      const path = join(dir, `${base}${suffix ? `-${suffix}` : ''}.bak`);
      let handle;
      try {
        handle = await open(path, 'wx', 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      return path;
    }
  }

  /** Writes the journal beside its backup (`x.bak` -> `x.journal.json`) and returns its path. */
  async writeJournal(journal: Journal): Promise<string> {
    const path = journal.backup.replace(/\.bak$/, '.journal.json');
    await writeFile(path, JSON.stringify(journal, null, 2) + '\n', { flag: 'wx', mode: 0o600 });
    return path;
  }

  /** Every journal, newest first. */
  async journals(): Promise<StoredJournal[]> {
    const result: StoredJournal[] = [];
    let dirs: string[];
    try {
      dirs = await readdir(this.dir);
    } catch {
      return [];
    }
    for (const dir of dirs) {
      let names: string[];
      try {
        names = await readdir(join(this.dir, dir));
      } catch {
        continue;
      }
      for (const name of names.filter((item) => item.endsWith('.journal.json'))) {
        const path = join(this.dir, dir, name);
        try {
          const journal = JSON.parse(await readFile(path, 'utf8')) as Journal;
          if (journal.version === 1) result.push({ ...journal, path });
        } catch {
          // A journal that cannot be read is left for a person to look at.
        }
      }
    }
    return result.sort((a, b) => b.time.localeCompare(a.time) || b.path.localeCompare(a.path));
  }

  /** Records that a journal was undone (the journal, not a backup, is rewritten). */
  async markUndone(journal: StoredJournal, now = new Date()): Promise<void> {
    const { path, ...stored } = journal;
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify({ ...stored, undoneAt: now.toISOString() }, null, 2) + '\n', { mode: 0o600 });
    await rename(temp, path);
  }
}
