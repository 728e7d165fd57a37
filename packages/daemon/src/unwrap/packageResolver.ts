import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import npa from 'npm-package-arg';
import semver from 'semver';
import { nodeOptionsOf, pickBin, readManifest } from './packageBin.js';
import { npmInstall } from './npmInstall.js';
import type { RunnerCommand } from '@muxd/config';
import type { PackageStore } from './packageStore.js';

/** Where a resolved package is. */
export const PackageSources = {
  /** A dependency of the project in the service's cwd: what the runner itself runs first. */
  Local: 'local',
  /** Installed by muxd under its state directory. */
  Muxd: 'muxd',
} as const;
export type PackageSource = (typeof PackageSources)[keyof typeof PackageSources];

/** A runner's package, found: the bin muxd spawns instead of the runner. */
export interface PackageResolution {
  source: PackageSource;
  name: string;
  version: string;
  bin: string;
  binFile: string;
  /** Node options from the bin's shebang; null for a bin that runs itself. */
  nodeOptions: string[] | null;
  /** The install spec (source `muxd`): what `muxctl update` installs again. */
  installSpec?: string;
  /** The generation directory (source `muxd`). */
  dir?: string;
}

/** The package spec as npm reads it, from `cwd`; throws an Error naming the spec when npm would not take it. */
function parseSpec(spec: string, cwd: string): npa.Result {
  try {
    return npa(spec, cwd);
  } catch (error) {
    throw new Error(`'${spec}' is no package spec npm understands (${(error as Error).message.split('\n')[0]})`);
  }
}

/** What `npm install` is given for the runner's spec: a path made absolute, anything else as written. */
export function installSpecOf(command: RunnerCommand, cwd: string): string {
  const parsed = parseSpec(command.spec, cwd);
  if ((parsed.type === 'file' || parsed.type === 'directory') && parsed.fetchSpec) return resolve(cwd, parsed.fetchSpec);
  return parsed.raw;
}

/** The package.json of `name` as Node resolves it from `from` (a directory), or undefined. */
function resolvePackageJson(name: string, from: string): string | undefined {
  const require = createRequire(join(from, 'noop.js'));
  try {
    return require.resolve(`${name}/package.json`);
  } catch (error) {
    // A package whose `exports` hides its package.json: the same lookup directories Node would search.
    if ((error as NodeJS.ErrnoException).code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') return undefined;
    for (const dir of require.resolve.paths(name) ?? []) {
      const file = join(dir, name, 'package.json');
      if (existsSync(file)) return file;
    }
    return undefined;
  }
}

/** Reads the package at `packageJson` and the bin the runner would run from it. */
async function describePackage(packageJson: string, wanted: string | undefined, source: PackageSource): Promise<PackageResolution> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(packageJson, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read ${packageJson}: ${(error as Error).message}`);
  }
  const manifest = readManifest(raw, packageJson);
  const { bin, path } = pickBin(manifest, wanted);
  const binFile = resolve(dirname(packageJson), path);
  if (!existsSync(binFile)) throw new Error(`${manifest.name}@${manifest.version}: its bin ${bin} (${binFile}) does not exist`);
  return { source, name: manifest.name, version: manifest.version, bin, binFile, nodeOptions: await nodeOptionsOf(binFile) };
}

/** npm's project directory for `cwd`: the nearest one holding a package.json or node_modules (`npm prefix`). */
function localPrefix(cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) || existsSync(join(dir, 'node_modules'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The runner's package as a dependency of the project in `cwd`, which is
 * what npx (npm exec) runs before installing anything: found by Node's
 * resolution from `cwd`, when its version satisfies the spec's range (a bare
 * name takes any). Undefined when the project has no such dependency, or
 * the spec is no registry package (a tarball, a directory, git). Throws an
 * Error when the runner would run something muxd cannot tell apart: a bare
 * name that is a bin of the project but no package of that name.
 */
export async function resolveProjectPackage(command: RunnerCommand, cwd: string): Promise<PackageResolution | undefined> {
  const parsed = parseSpec(command.spec, cwd);
  if (!parsed.registry || !parsed.name || parsed.type === 'alias') return undefined;
  const packageJson = resolvePackageJson(parsed.name, cwd);
  if (!packageJson) {
    const prefix = command.bin === undefined && parsed.raw === parsed.name ? localPrefix(cwd) : undefined;
    if (prefix && existsSync(join(prefix, 'node_modules', '.bin', parsed.name))) {
      throw new Error(`'${parsed.name}' is a bin of the project in ${prefix} but no package of that name: the runner runs that bin, so muxd leaves it to the runner`);
    }
    return undefined;
  }
  const found = await describePackage(packageJson, command.bin, PackageSources.Local);
  const range = parsed.fetchSpec ?? '';
  if (parsed.type === 'tag' ? range !== 'latest' : !semver.satisfies(found.version, range, { includePrerelease: true })) return undefined;
  return found;
}

/** The install muxd made earlier for the runner's spec, when its files are still there. */
export async function resolveStoredPackage(command: RunnerCommand, cwd: string, store: PackageStore): Promise<PackageResolution | undefined> {
  const installSpec = installSpecOf(command, cwd);
  const stored = await store.current(installSpec);
  if (!stored) return undefined;
  // The same bin as the runner's command: a stored install made for another `-p ... BIN` of the same package is reread.
  if (command.bin !== undefined && stored.bin !== command.bin) return undefined;
  const { name, version, bin, binFile, nodeOptions, dir } = stored;
  return { source: PackageSources.Muxd, name, version, bin, binFile, nodeOptions, installSpec, dir };
}

export interface InstallOptions {
  store: PackageStore;
  cwd: string;
  /** The service's environment (npm settings and credentials apply). */
  env: NodeJS.ProcessEnv;
  /** `muxctl update`: the newest version the spec allows, asked of the registry. */
  preferOnline: boolean;
  onLine: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * Installs the runner's package into a new generation directory of the
 * store with `npm install`, reads its bin, and makes it the current
 * install (older generations are left for `prune`). Throws a one-line
 * Error when npm fails or the package has no bin to run.
 */
export async function installRunnerPackage(command: RunnerCommand, options: InstallOptions): Promise<PackageResolution> {
  const { store } = options;
  const installSpec = installSpecOf(command, options.cwd);
  return store.exclusive(installSpec, async () => {
    const dir = await store.newGeneration(installSpec);
    try {
      await npmInstall({
        prefix: dir,
        spec: installSpec,
        npmOptions: command.npmOptions,
        preferOnline: options.preferOnline,
        env: options.env,
        onLine: options.onLine,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const name = await installedName(dir, installSpec, options.cwd);
      const packageJson = resolvePackageJson(name, dir);
      if (!packageJson) throw new Error(`npm installed ${installSpec}, but ${name} cannot be found in ${dir}`);
      const found = await describePackage(packageJson, command.bin, PackageSources.Muxd);
      await store.commit({ spec: installSpec, dir, name: found.name, version: found.version, bin: found.bin, binFile: found.binFile, nodeOptions: found.nodeOptions, installedAt: Date.now() });
      return { ...found, installSpec, dir };
    } catch (error) {
      await store.prune(installSpec, (await store.current(installSpec))?.dir);
      throw error;
    }
  });
}

/** The name the package was installed under: the spec's, or (a tarball, a directory, git) the one dependency npm saved. */
async function installedName(dir: string, installSpec: string, cwd: string): Promise<string> {
  const parsed = parseSpec(installSpec, cwd);
  if (parsed.name) return parsed.name;
  const saved = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, unknown> };
  const names = Object.keys(saved.dependencies ?? {});
  if (names.length !== 1) throw new Error(`npm installed ${installSpec}, but saved ${names.length} dependencies in ${dir}`);
  return names[0] as string;
}
