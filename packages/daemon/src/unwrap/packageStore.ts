import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A package muxd installed, as its manifest (`muxd-package.json`) keeps it. */
export interface StoredPackage {
  /** What was installed (`npm install` SPEC, paths absolute). */
  spec: string;
  /** The generation directory it is in (`<key>/<n>`). */
  dir: string;
  name: string;
  version: string;
  bin: string;
  binFile: string;
  /** Node options from the bin's shebang; null for a bin that runs itself. */
  nodeOptions: string[] | null;
  /** ms since the epoch */
  installedAt: number;
}

const MANIFEST = 'muxd-package.json';

/**
 * The packages muxd installs for unwrapped runners, under
 * `<stateDir>/packages/`: one directory per install spec, holding numbered
 * generations (each a whole `npm install --prefix`) and a manifest naming
 * the current one, so a restart of muxd reuses it and an update installs
 * beside the running one. Work on one spec runs one at a time.
 */
export class PackageStore {
  readonly root: string;
  readonly #busy = new Map<string, Promise<unknown>>();

  constructor(root: string) {
    this.root = root;
  }

  /** The directory of `spec`: readable, and unique (a hash of the whole spec). */
  keyDir(spec: string): string {
    const readable = spec.replace(/^@/, '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(-40);
    const hash = createHash('sha256').update(spec).digest('hex').slice(0, 10);
    return join(this.root, `${readable}-${hash}`);
  }

  /** Runs `task` once every earlier task on `spec` is done. */
  exclusive<T>(spec: string, task: () => Promise<T>): Promise<T> {
    const key = this.keyDir(spec);
    const before = this.#busy.get(key) ?? Promise.resolve();
    const next = before.then(task, task);
    const settled = next.catch(() => undefined);
    this.#busy.set(key, settled);
    void settled.then(() => {
      if (this.#busy.get(key) === settled) this.#busy.delete(key);
    });
    return next;
  }

  /** The current install of `spec`, or undefined when there is none or its files are gone. */
  async current(spec: string): Promise<StoredPackage | undefined> {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(join(this.keyDir(spec), MANIFEST), 'utf8'));
    } catch {
      return undefined;
    }
    const stored = storedPackage(raw);
    if (!stored || stored.spec !== spec || !existsSync(stored.binFile)) return undefined;
    return stored;
  }

  /** A new, empty generation directory for `spec`. */
  async newGeneration(spec: string): Promise<string> {
    const key = this.keyDir(spec);
    await mkdir(key, { recursive: true, mode: 0o700 });
    const taken = (await readdir(key)).filter((entry) => /^\d+$/.test(entry)).map(Number);
    const dir = join(key, String(Math.max(0, ...taken) + 1));
    await mkdir(dir, { mode: 0o700 });
    // npm installs into the nearest package.json: this one, never a project above.
    await writeFile(join(dir, 'package.json'), `${JSON.stringify({ private: true, description: `installed by muxd: ${spec}` }, null, 2)}\n`);
    return dir;
  }

  /** Makes `stored` the current install of its spec (atomically: the manifest is renamed into place). */
  async commit(stored: StoredPackage): Promise<void> {
    const file = join(this.keyDir(stored.spec), MANIFEST);
    await writeFile(`${file}.tmp`, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  /** Removes every generation of `spec` but `keep` (an update's old one, or a failed install). */
  async prune(spec: string, keep: string | undefined): Promise<void> {
    const key = this.keyDir(spec);
    let entries: string[];
    try {
      entries = await readdir(key);
    } catch {
      return;
    }
    for (const entry of entries) {
      const dir = join(key, entry);
      if (/^\d+$/.test(entry) && dir !== keep) await rm(dir, { recursive: true, force: true });
    }
    // A spec never installed leaves nothing behind.
    if (keep === undefined && !entries.includes(MANIFEST)) await rm(key, { recursive: true, force: true });
  }
}

function storedPackage(raw: unknown): StoredPackage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const value = raw as Record<string, unknown>;
  const strings = ['spec', 'dir', 'name', 'version', 'bin', 'binFile'] as const;
  if (!strings.every((key) => typeof value[key] === 'string')) return undefined;
  const nodeOptions = value['nodeOptions'];
  if (nodeOptions !== null && !(Array.isArray(nodeOptions) && nodeOptions.every((option) => typeof option === 'string'))) return undefined;
  if (typeof value['installedAt'] !== 'number') return undefined;
  return value as unknown as StoredPackage;
}

