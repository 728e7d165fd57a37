import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { HostDocument } from './hostDocument.js';
import type { HostFile } from './hostRegistry.js';
import { parseJsonHostDocument } from './jsonHostDocument.js';
import { parseTomlHostDocument } from './tomlHostDocument.js';

/** Parses a host file's text in its format. Throws `Error` naming the file and line of a syntax error. */
export function parseHostDocument(file: Pick<HostFile, 'path' | 'serversPath' | 'host' | 'format'>, text: string, proxyCommand?: string): HostDocument {
  return file.format === 'toml' ? parseTomlHostDocument(file, text, proxyCommand) : parseJsonHostDocument(file, text, proxyCommand);
}

/** A host file read and parsed, or why it could not be. */
export type ReadHostFile = { file: HostFile; document: HostDocument; error?: undefined } | { file: HostFile; document?: undefined; error: string };

export async function readHostFile(file: HostFile, proxyCommand?: string): Promise<ReadHostFile> {
  try {
    const text = await readFile(file.path, 'utf8');
    return { file, document: parseHostDocument(file, text, proxyCommand) };
  } catch (error) {
    return { file, error: (error as Error).message };
  }
}

/** True when git tracks `path` (a project's `.mcp.json`, a dotfiles repo). False when git is missing. */
export function isGitTracked(path: string): boolean {
  const result = spawnSync('git', ['ls-files', '--error-unmatch', '--', basename(path)], {
    cwd: dirname(path),
    stdio: 'ignore',
    timeout: 5000,
    env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' },
  });
  return result.status === 0;
}
