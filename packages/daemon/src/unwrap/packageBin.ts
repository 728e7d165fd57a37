import { accessSync, constants, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, delimiter, extname, isAbsolute, join } from 'node:path';

/** What the supervisor spawns: a program and its arguments (cwd and env stay the service's). */
export interface LaunchCommand {
  command: string;
  args: string[];
}

/** The parts of a package.json muxd reads, checked. */
export interface PackageManifest {
  name: string;
  version: string;
  /** Bin name to path inside the package, as npm normalizes a string `bin`. */
  bins: Record<string, string>;
}

/**
 * Checks a parsed package.json: a name, a version, and its `bin` as npm
 * reads it (a string is one bin named after the package, without its
 * scope). Throws an Error saying what is wrong.
 */
export function readManifest(raw: unknown, where: string): PackageManifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${where} is not a JSON object`);
  const record = raw as Record<string, unknown>;
  const { name, version, bin } = record;
  if (typeof name !== 'string' || name === '') throw new Error(`${where} has no name`);
  if (typeof version !== 'string' || version === '') throw new Error(`${where} has no version`);
  const bins: Record<string, string> = {};
  if (typeof bin === 'string') {
    bins[unscoped(name)] = bin;
  } else if (typeof bin === 'object' && bin !== null && !Array.isArray(bin)) {
    for (const [key, value] of Object.entries(bin as Record<string, unknown>)) if (typeof value === 'string' && key !== '') bins[key] = value;
  }
  return { name, version, bins };
}

function unscoped(name: string): string {
  return name.replace(/^@[^/]+\//, '');
}

/**
 * The bin to run, as npm exec picks it: the one `wanted` names; else the
 * only one (or several names for one file); else the one named after the
 * package without its scope. Throws an Error saying why none can be picked.
 */
export function pickBin(manifest: PackageManifest, wanted: string | undefined): { bin: string; path: string } {
  const names = Object.keys(manifest.bins);
  const id = `${manifest.name}@${manifest.version}`;
  if (names.length === 0) throw new Error(`${id} has no bin to run`);
  if (wanted !== undefined) {
    const path = Object.hasOwn(manifest.bins, wanted) ? manifest.bins[wanted] : undefined;
    if (path === undefined) throw new Error(`${id} has no bin '${wanted}' (it has ${names.join(', ')})`);
    return { bin: wanted, path };
  }
  if (new Set(Object.values(manifest.bins)).size === 1) return { bin: names[0] as string, path: manifest.bins[names[0] as string] as string };
  const own = unscoped(manifest.name);
  const path = Object.hasOwn(manifest.bins, own) ? manifest.bins[own] : undefined;
  if (path === undefined) throw new Error(`${id} has several bins (${names.join(', ')}) and none is named ${own}: the runner could not pick one either`);
  return { bin: own, path };
}

const JS_EXTENSIONS = new Set(['.js', '.mjs', '.cjs']);

/**
 * How to run a bin file: a Node script (a `.js`, `.mjs` or `.cjs` file, or
 * a `node` shebang) is given to this Node with the shebang's own Node
 * options, one process and no shell; anything else runs itself. Returns
 * the Node options, or null for a file that runs itself.
 */
export async function nodeOptionsOf(binFile: string): Promise<string[] | null> {
  const handle = await open(binFile, 'r');
  let head: string;
  try {
    const buffer = Buffer.alloc(512);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
  if (head.startsWith('#!')) {
    const words = (head.split('\n')[0] as string).slice(2).trim().split(/\s+/);
    const at = words.findIndex((word) => basename(word) === 'node' || basename(word) === 'nodejs');
    // `env -S node --flag`: what follows node is Node's options.
    return at === -1 ? null : words.slice(at + 1);
  }
  return JS_EXTENSIONS.has(extname(binFile)) ? [] : null;
}

/**
 * The command that runs `binFile` with `args`, given what `nodeOptionsOf`
 * said: a Node script runs on `node` (see `nodeOnPath`), as its shebang
 * would have run it.
 */
export function launchCommand(binFile: string, nodeOptions: readonly string[] | null, args: readonly string[], node: string = process.execPath): LaunchCommand {
  if (nodeOptions === null) return { command: binFile, args: [...args] };
  return { command: node, args: [...nodeOptions, binFile, ...args] };
}

/**
 * The Node a `#!/usr/bin/env node` script would run under `pathVar` (the
 * service's PATH): the first executable `node` file on it, as the runner
 * would have found it, so a server that needs a newer Node than muxd's
 * still gets the one the user set up (nvm, Volta, a system package). muxd's
 * own Node when PATH has none.
 */
export function nodeOnPath(pathVar: string | undefined): string {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, 'node');
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here.
    }
  }
  return process.execPath;
}
