import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { expandVariables } from './variables.js';

/**
 * A path from the config: `${VAR}` and `${VAR:-default}` expanded as in
 * every config string, then a leading `~` or `~/` taken as `$HOME` (the
 * user's home directory when HOME is unset), then a relative path resolved
 * against `baseDir` (the config file's directory). `where` is the key path
 * named in errors; throws as `expandVariables` does.
 */
export function expandPath(text: string, env: NodeJS.ProcessEnv, where: string, file: string, baseDir: string): string {
  const expanded = expandVariables(text, env, where, file);
  const home = (Object.hasOwn(env, 'HOME') && env['HOME']) || homedir();
  const tilde = expanded === '~' ? home : expanded.startsWith('~/') ? join(home, expanded.slice(2)) : expanded;
  return isAbsolute(tilde) ? tilde : resolve(baseDir, tilde);
}
