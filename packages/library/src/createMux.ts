import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { MuxError, MuxErrorCodes, isMuxError } from '@muxd/protocol';
import { resolveConfig } from '@muxd/config';
import type { ServiceConfig } from '@muxd/config';
import { ExitReason, Reaper, ServiceRegistry, checkSocketPathLength, createFileLogger, ensurePrivateDirectory, serviceLogDir } from '@muxd/daemon';
import type { Logger } from '@muxd/daemon';
import type { MuxHost } from './muxHost.js';
import type { MuxService } from './muxService.js';
import { createServiceHandle } from './serviceHandle.js';

/** A duration: ms, a string such as `'500ms'`, `'30s'`, `'10m'`, or false for never. */
export type Duration = number | string | false;
/** A size: bytes, or a string such as `'8MiB'`. */
export type Size = number | string;

/** What tunes a service, as in muxd's config file (README, Configuration); each has muxd's default. */
export interface ServiceTunables {
  /** `per-client` runs one child per client. Default `shared`. */
  isolation?: 'shared' | 'per-client';
  /** Start the child on the first client. Default true. */
  lazy?: boolean;
  idleTimeout?: Duration;
  requestTimeout?: Duration;
  stopTimeout?: Duration;
  maxRequestBytes?: Size;
  maxResponseBytes?: Size;
  maxClientBuffer?: Size;
  maxChildBuffer?: Size;
  maxClients?: number;
  maxInflight?: number;
  maxMemory?: Size;
  restart?: { initialDelay?: Duration; maxDelay?: Duration; maxRestarts?: number; window?: Duration; resetAfter?: Duration };
  healthCheck?: { interval?: Duration; timeout?: Duration };
}

/**
 * One service, as under `services:` in muxd's config file. `env` is added
 * to this process's environment; `${VAR}` in a string reads the environment.
 */
export interface ServiceOptions extends ServiceTunables {
  command: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface CreateMuxOptions {
  /** The services, by name (letters, digits, `.`, `_`, `-`; at most 64). */
  services: Record<string, ServiceOptions>;
  /** Tunables for every service, as the config file's `defaults:`. */
  defaults?: ServiceTunables;
  /** Aborting it closes the host: every child is stopped (see `MuxHost.close`). */
  signal?: AbortSignal;
  /**
   * A directory (created 0700 if missing) where each service also listens
   * on a Unix socket, `<socketDir>/<name>.sock`, for `mux-proxy` and other
   * processes. Without it services are reachable in process only.
   */
  socketDir?: string;
  /** A directory for each service's log (child stderr and lifecycle), as muxd writes them. Default: no logs. */
  logDir?: string;
  /** What relative `cwd` values are resolved against. Default: `process.cwd()`. */
  cwd?: string;
}

/** Where the options' mistakes are said to be. */
const WHERE = 'createMux';

/**
 * Runs muxed services inside this process: each service's child is
 * supervised (restarted with backoff after a crash, stopped when idle, as
 * muxd does) and shared by every client, in process (`service(name).connect()`)
 * or through its socket. No daemon, control socket or database.
 *
 * Throws `MuxError` (code `MUX_CONFIG_INVALID`, naming the key) for invalid
 * options, `MUX_SOCKET_PATH_TOO_LONG` or `MUX_SOCKET_IN_USE` when a socket
 * cannot be opened, and the signal's reason when it is already aborted.
 */
export async function createMux(options: CreateMuxOptions): Promise<MuxHost> {
  const { signal } = options;
  signal?.throwIfAborted();
  const configs = resolveServices(options);
  const socketDir = options.socketDir === undefined ? undefined : resolve(options.socketDir);
  const socketPath = (name: string) => (socketDir === undefined ? undefined : join(socketDir, `${name}.sock`));
  if (socketDir !== undefined) {
    ensurePrivateDirectory(socketDir);
    for (const config of configs) checkSocketPathLength(socketPath(config.name) as string);
  }
  const logDir = options.logDir === undefined ? undefined : resolve(options.logDir);
  const silent = pino({ level: 'silent' });
  // It also kills the children's groups if this process exits without closing the host.
  const reaper = new Reaper();
  const registry = new ServiceRegistry({
    socketPath,
    reaper: () => reaper,
    createLog: async (name): Promise<Logger> => (logDir === undefined ? silent : createFileLogger(serviceLogDir(logDir, name), name)),
    onEvent: () => undefined,
  });

  let closing: Promise<void> | undefined;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const onAbort = (): void => void close();
  function close(): Promise<void> {
    closing ??= (async () => {
      signal?.removeEventListener('abort', onAbort);
      try {
        await registry.closeAll(ExitReason.Shutdown);
      } finally {
        reaper.close();
        markClosed();
      }
    })();
    return closing;
  }

  try {
    for (const config of configs) {
      const service = await registry.add(config);
      // A socket that cannot be opened errors the service in muxd; here the caller hears it at once.
      const { error } = service.snapshot();
      if (error !== undefined) throw new MuxError(MuxErrorCodes.SocketInUse, `service '${config.name}' ${error.replace(/ \(muxctl start .*\)$/, '')}`);
    }
  } catch (error) {
    await close();
    throw error;
  }
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) await close();

  const handles = new Map<string, MuxService>();
  return {
    names: configs.map((config) => config.name),
    service(name: string): MuxService {
      let handle = handles.get(name);
      if (!handle) {
        handle = createServiceHandle(registry.get(name));
        handles.set(name, handle);
      }
      return handle;
    },
    close,
    closed,
  };
}

/** The options' services as muxd's config resolves them; errors name the key, as `muxctl config check` does. */
function resolveServices(options: CreateMuxOptions): ServiceConfig[] {
  if (typeof options !== 'object' || options === null) throw new MuxError(MuxErrorCodes.ConfigInvalid, `${WHERE}: expected an options object with services`);
  const base = join(resolve(options.cwd ?? process.cwd()), WHERE);
  const raw: Record<string, unknown> = { services: options.services };
  if (options.defaults !== undefined) raw['defaults'] = options.defaults;
  let config;
  try {
    config = resolveConfig(raw, base);
  } catch (error) {
    if (isMuxError(error)) throw new MuxError(error.code, error.message.split(`${base}: `).join(`${WHERE}: `), { cause: error });
    throw error;
  }
  if (config.services.size === 0) throw new MuxError(MuxErrorCodes.ConfigInvalid, `${WHERE}: services: give at least one service, such as { memory: { command: 'node', args: ['server.js'] } }`);
  return [...config.services.values()];
}
