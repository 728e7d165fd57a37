/**
 * Where muxd keeps its sockets, logs and database. Shared by the daemon, the
 * CLI and the proxy, so it imports nothing but Node built-ins.
 */
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** Longest Unix socket path the OS accepts, in bytes, including the terminating NUL. */
export const SOCKET_PATH_LIMIT = process.platform === 'linux' ? 108 : 104;

export interface MuxPaths {
  /** Holds the data and control sockets; mode 0700. */
  runDir: string;
  /** Holds the database and the daemon's lock file. */
  stateDir: string;
  /** Daemon log and one log per service. */
  logDir: string;
  controlSocket: string;
  lockFile: string;
  database: string;
  /** Holds the path of the config file the last daemon of this home used, so a restarted one uses it too. */
  lastConfigFile: string;
  /** The bearer token of the HTTP front (mode 0600), written by the first muxd that serves HTTP. */
  httpTokenFile: string;
  /** How muxd last died of an uncaught error (`crash.ts`), replaced by each crash. */
  lastCrashFile: string;
}

/**
 * Resolves muxd's directories: everything under `MUXD_HOME` when set,
 * otherwise the XDG state directory and the XDG runtime directory (or a
 * per-user directory under the system temp dir when there is none).
 */
export function resolvePaths(env: NodeJS.ProcessEnv = process.env): MuxPaths {
  const home = env['MUXD_HOME'];
  let runDir: string;
  let stateDir: string;
  if (home) {
    stateDir = home;
    runDir = join(home, 'run');
  } else {
    stateDir = join(env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state'), 'muxd');
    const runtime = env['XDG_RUNTIME_DIR'];
    runDir = runtime ? join(runtime, 'muxd') : join(tmpdir(), `muxd-${userInfo().uid}`);
  }
  return {
    runDir,
    stateDir,
    logDir: join(stateDir, 'logs'),
    controlSocket: join(runDir, 'muxd.ctl'),
    lockFile: join(stateDir, 'muxd.pid'),
    database: join(stateDir, 'muxd.db'),
    lastConfigFile: join(stateDir, 'config-path'),
    httpTokenFile: join(stateDir, 'http-token'),
    lastCrashFile: join(stateDir, 'last-crash.json'),
  };
}

/** The data socket of one service. */
export function serviceSocketPath(paths: MuxPaths, service: string): string {
  return join(paths.runDir, `${service}.sock`);
}

/** Service names become file names: keep them to a safe alphabet. */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * True for a key a plain JavaScript object cannot be trusted with:
 * `__proto__` (assigning it sets the prototype instead of a key),
 * `prototype`, and every other member of `Object.prototype`
 * (`constructor`, `toString`...), which a lookup finds without the key
 * being there.
 */
export function isPrototypeKey(key: string): boolean {
  return key === 'prototype' || Object.hasOwn(Object.prototype, key);
}

/** True for a name muxd takes for a service: it matches `SERVICE_NAME_PATTERN` and is no prototype key. */
export function isValidServiceName(name: string): boolean {
  return SERVICE_NAME_PATTERN.test(name) && !isPrototypeKey(name);
}
