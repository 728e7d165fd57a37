import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { HostDocument } from './hostDocument.js';
import type { HostFile } from './hostRegistry.js';
import type { MuxdMarks } from './serverEntry.js';
import { parseJsonHostDocument } from './jsonHostDocument.js';
import { parseTomlHostDocument } from './tomlHostDocument.js';
import { parseYamlHostDocument } from './yamlHostDocument.js';

/**
 * Parses a host file's text in its format; `marks` say which entries are
 * muxd's already. Throws `Error` naming the file and line of a syntax error.
 */
export function parseHostDocument(file: Pick<HostFile, 'path' | 'serversPath' | 'host' | 'format'>, text: string, marks?: MuxdMarks): HostDocument {
  if (file.format === 'toml') return parseTomlHostDocument(file, text, marks);
  if (file.format === 'yaml') return parseYamlHostDocument(file, text, marks);
  return parseJsonHostDocument(file, text, marks);
}

/** A host file read and parsed, or why it could not be. */
export type ReadHostFile = { file: HostFile; document: HostDocument; error?: undefined } | { file: HostFile; document?: undefined; error: string };

export async function readHostFile(file: HostFile, marks?: MuxdMarks): Promise<ReadHostFile> {
  try {
    const text = await readFile(file.path, 'utf8');
    return { file, document: parseHostDocument(file, text, marks) };
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
