import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvePaths } from '@muxd/protocol/paths';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * `npm i -g` links `<prefix>/bin/<name>` to a bin of the package in
 * `<prefix>/lib/node_modules/<package>/`: that link when it leads to
 * `target`, else `target` itself. The link is what a user sees (`which`),
 * and it still works once the package is updated in place.
 */
function globalBinFor(target: string, name: string): string {
  const link = join(dirname(target), '..', '..', '..', '..', 'bin', name);
  try {
    if (realpathSync(link) === realpathSync(target)) return resolve(link);
  } catch {
    // No such link: not a global install.
  }
  return target;
}

/**
 * The absolute path of the `mux-proxy` that goes with this muxctl: in the
 * bundled `muxd` package, the one beside muxctl (through its global bin link
 * when installed with `npm i -g`); in the workspace, the
 * `node_modules/.bin/mux-proxy` (or `@muxd/proxy`'s bin) nearest above
 * muxctl's own files; else the one on PATH. GUI hosts have no shell PATH, so
 * hosts are always given an absolute path. Undefined when there is none.
 */
export function findProxyCommand(from: string = fileURLToPath(import.meta.url), env: NodeJS.ProcessEnv = process.env): string | undefined {
  const bundled = join(dirname(from), 'mux-proxy.cjs');
  if (isExecutable(bundled)) return globalBinFor(bundled, 'mux-proxy');
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    for (const candidate of [join(dir, 'node_modules', '.bin', 'mux-proxy'), join(dir, 'node_modules', '@muxd', 'proxy', 'bin', 'mux-proxy.js')]) {
      if (isExecutable(candidate)) return candidate;
    }
    if (dirname(dir) === dir) break;
  }
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, 'mux-proxy');
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** The variables mux-proxy reads to find muxd (its home and config); never passed on to an ad-hoc server. */
export const PROXY_ENV_NAMES = ['MUXD_HOME', 'MUXD_CONFIG', 'XDG_STATE_HOME', 'XDG_RUNTIME_DIR'] as const;

/**
 * What a mux-proxy started by a host needs in its environment to reach the
 * muxd this muxctl reaches, and to start that muxd with the same config,
 * when the host gives it next to no environment (Claude Desktop, Codex's
 * allowlist, `env -i`): `MUXD_HOME` when set; without it, `XDG_STATE_HOME`
 * and `XDG_RUNTIME_DIR` when set and they move muxd's state or sockets from
 * where an environment without them puts them; and `MUXD_CONFIG` when set
 * (absolute). mux-proxy has no flags for these: they go into the entry's env.
 */
export function proxyEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const result: Record<string, string> = {};
  const set = (name: string) => env[name] || undefined;
  const home = set('MUXD_HOME');
  if (home !== undefined) {
    result['MUXD_HOME'] = resolve(home);
  } else {
    const here = resolvePaths(env);
    const bare = resolvePaths({});
    const state = set('XDG_STATE_HOME');
    const runtime = set('XDG_RUNTIME_DIR');
    if (state !== undefined && here.stateDir !== bare.stateDir) result['XDG_STATE_HOME'] = state;
    if (runtime !== undefined && here.runDir !== bare.runDir) result['XDG_RUNTIME_DIR'] = runtime;
  }
  const config = set('MUXD_CONFIG');
  if (config !== undefined) result['MUXD_CONFIG'] = resolve(config);
  return result;
}
