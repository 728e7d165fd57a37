import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { cosmiconfig, defaultLoaders } from 'cosmiconfig';
import type { Loader } from 'cosmiconfig';
import { parse as parseToml } from 'smol-toml';
import { MuxError, MuxErrorCodes } from '@muxd/protocol';
import { resolveConfig } from './config.js';
import type { MuxConfig } from './config.js';

const tomlLoader: Loader = (_path, content) => parseToml(content);

const explorer = cosmiconfig('muxd', {
  loaders: { ...defaultLoaders, '.toml': tomlLoader },
  searchPlaces: [
    'muxd.config.json',
    'muxd.config.yaml',
    'muxd.config.yml',
    'muxd.config.toml',
    'muxd.config.js',
    'muxd.config.mjs',
    '.muxdrc',
    '.muxdrc.json',
    '.muxdrc.yaml',
    '.muxdrc.yml',
    '.muxdrc.toml',
  ],
  searchStrategy: 'none',
  cache: false,
});

/** Reads, validates and resolves one config file. */
export async function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<MuxConfig> {
  const file = resolve(path);
  try {
    await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MuxError(
      code === 'ENOENT' ? MuxErrorCodes.ConfigNotFound : MuxErrorCodes.ConfigInvalid,
      code === 'ENOENT' ? `config file not found: ${file}` : `cannot read config file ${file}: ${(error as Error).message}`,
    );
  }
  let loaded;
  try {
    loaded = await explorer.load(file);
  } catch (error) {
    throw new MuxError(MuxErrorCodes.ConfigInvalid, `${file}: cannot parse: ${firstLine((error as Error).message)}`);
  }
  return resolveConfig(loaded?.config, file, env);
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '') ?? text;
}

/** Where muxd looks for its config when none is given. */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['XDG_CONFIG_HOME'] || join(homedir(), '.config'), 'muxd');
}

/**
 * Finds the config file: `muxd.config.*` or `.muxdrc*` in `cwd`, else the
 * same names or `config.{yaml,yml,json,toml}` in the user config directory.
 */
export async function findConfigFile(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const local = await explorer.search(cwd).catch(() => null);
  if (local) return local.filepath;
  const dir = userConfigDir(env);
  for (const name of ['config.yaml', 'config.yml', 'config.json', 'config.toml']) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  const global = await explorer.search(dir).catch(() => null);
  return global?.filepath;
}

