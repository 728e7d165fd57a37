import type { Server, Socket } from 'node:net';
import { CONTROL_PROTOCOL_VERSION, ControlMethods, ErrorCodes, LOG_LINE_NOTIFICATION, RpcConnection, RpcError, UPDATE_PROGRESS_NOTIFICATION } from '@muxd/protocol';
import type {
  ActionResult,
  AdhocParams,
  AdhocResult,
  ControlMethod,
  ControlParams,
  ControlResult,
  DaemonStatus,
  DashboardLoginResult,
  DescribeResult,
  HelloResult,
  HistoryResult,
  JsonObject,
  ListResult,
  LogsResult,
  MetricsResult,
  ReloadParams,
  ReloadResult,
  UpdateResult,
} from '@muxd/protocol';
import type { Logger } from './logs.js';
import { closeUnixServer, listenUnix } from './unixSocket.js';

const MAX_LOG_LINES = 10_000;
const MAX_HISTORY = 10_000;

/**
 * What the control socket asks of muxd, one method per control request
 * (the daemon implements it). Errors thrown as `MuxError` reach muxctl as
 * `-32050` with their stable code.
 */
export interface ControlHandlers {
  hello(): HelloResult;
  status(): DaemonStatus;
  list(): Promise<ListResult>;
  describe(name: string): Promise<DescribeResult>;
  /** `name` is a service or "all"; each resolves once the action is done. */
  startService(name: string): Promise<ActionResult>;
  stopService(name: string): Promise<ActionResult>;
  restartService(name: string): Promise<ActionResult>;
  /** `name` undefined is the daemon's own log. */
  logs(name: string | undefined, lines: number): LogsResult;
  /** Calls `onLines` with each batch of new lines until the returned function is called. */
  followLogs(name: string | undefined, onLines: (lines: string[]) => void): () => void;
  history(name: string | undefined, limit: number): HistoryResult;
  reload(options: ReloadParams): Promise<ReloadResult>;
  ensureAdhoc(spec: AdhocParams): Promise<AdhocResult>;
  /** `name` undefined: every service that runs a package runner. `onProgress` gets npm's output lines. */
  update(name: string | undefined, onProgress: (service: string, line: string) => void): Promise<UpdateResult>;
  /** `name` undefined: every service. */
  metrics(name: string | undefined): Promise<MetricsResult>;
  /** A one-time login URL for the web dashboard; throws `MuxError` when the HTTP front is off. */
  dashboardLogin(): DashboardLoginResult;
  /** Starts the shutdown once the answer is on its way. */
  requestShutdown(): void;
}

/** One control connection, as a method that streams sees it. */
interface ControlSession {
  /** Sends a `logs/line` notification on this connection. */
  notifyLines(lines: string[]): void;
  /** Sends an `update/progress` notification on this connection. */
  notifyProgress(service: string, line: string): void;
  /** Runs `stop` when the connection closes. */
  onClose(stop: () => void): void;
}

/** Each method's params, checked: a wrong one is refused with `-32602` before muxd acts. */
const PARAMS: { [M in ControlMethod]: (params: JsonObject) => ControlParams[M] } = {
  // hello's params are informational: never refused.
  [ControlMethods.Hello]: (params) => ({
    client: typeof params['client'] === 'string' ? params['client'] : '',
    version: typeof params['version'] === 'string' ? params['version'] : '',
    protocol: typeof params['protocol'] === 'number' ? params['protocol'] : 0,
  }),
  [ControlMethods.Status]: () => ({}),
  [ControlMethods.List]: () => ({}),
  [ControlMethods.Describe]: (params) => ({ name: stringParam(params, 'name') }),
  [ControlMethods.Start]: (params) => ({ name: stringParam(params, 'name') }),
  [ControlMethods.Stop]: (params) => ({ name: stringParam(params, 'name') }),
  [ControlMethods.Restart]: (params) => ({ name: stringParam(params, 'name') }),
  [ControlMethods.Logs]: (params) => ({ ...optionalName(params), lines: countParam(params, 'lines', 100, MAX_LOG_LINES) }),
  [ControlMethods.LogsFollow]: (params) => optionalName(params),
  [ControlMethods.History]: (params) => ({ ...optionalName(params), limit: countParam(params, 'limit', 50, MAX_HISTORY) }),
  [ControlMethods.Reload]: (params) => ({ allowEmpty: booleanParam(params, 'allowEmpty') }),
  [ControlMethods.Adhoc]: adhocParams,
  [ControlMethods.Update]: (params) => optionalName(params),
  [ControlMethods.Metrics]: (params) => optionalName(params),
  [ControlMethods.DashboardLogin]: () => ({}),
  [ControlMethods.Shutdown]: () => ({}),
};

type Dispatch = { [M in ControlMethod]: (params: ControlParams[M], session: ControlSession) => ControlResult[M] | Promise<ControlResult[M]> };

/** Where each control method is handled: its checked params mapped onto the handlers. */
function dispatchTable(handlers: ControlHandlers): Dispatch {
  return {
    [ControlMethods.Hello]: () => handlers.hello(),
    [ControlMethods.Status]: () => handlers.status(),
    [ControlMethods.List]: () => handlers.list(),
    [ControlMethods.Describe]: ({ name }) => handlers.describe(name),
    [ControlMethods.Start]: ({ name }) => handlers.startService(name),
    [ControlMethods.Stop]: ({ name }) => handlers.stopService(name),
    [ControlMethods.Restart]: ({ name }) => handlers.restartService(name),
    [ControlMethods.Logs]: ({ name, lines }) => handlers.logs(name, lines),
    [ControlMethods.LogsFollow]: ({ name }, session) => {
      session.onClose(handlers.followLogs(name, (lines) => session.notifyLines(lines)));
      return {};
    },
    [ControlMethods.History]: ({ name, limit }) => handlers.history(name, limit),
    [ControlMethods.Reload]: (params) => handlers.reload(params),
    [ControlMethods.Adhoc]: (params) => handlers.ensureAdhoc(params),
    [ControlMethods.Update]: ({ name }, session) => handlers.update(name, (service, line) => session.notifyProgress(service, line)),
    [ControlMethods.Metrics]: ({ name }) => handlers.metrics(name),
    [ControlMethods.DashboardLogin]: () => handlers.dashboardLogin(),
    [ControlMethods.Shutdown]: () => {
      handlers.requestShutdown();
      return { pid: process.pid };
    },
  };
}

function isControlMethod(method: string): method is ControlMethod {
  return Object.hasOwn(PARAMS, method);
}

/** Checks `raw` as `method`'s params and runs its handler. */
function dispatch<M extends ControlMethod>(table: Dispatch, method: M, raw: JsonObject, session: ControlSession): ControlResult[M] | Promise<ControlResult[M]> {
  const handler: Dispatch[M] = table[method];
  const parse: (typeof PARAMS)[M] = PARAMS[method];
  return handler(parse(raw), session);
}

/**
 * The control socket: muxctl's JSON-RPC requests mapped onto the daemon's
 * `ControlHandlers`. Requests on a connection that has not said `hello`
 * are refused, so a version mismatch is always noticed.
 */
export class ControlServer {
  readonly #server: Server;
  readonly #path: string;
  readonly #connections: Set<Socket>;

  private constructor(server: Server, path: string, connections: Set<Socket>) {
    this.#server = server;
    this.#path = path;
    this.#connections = connections;
  }

  static async listen(path: string, handlers: ControlHandlers, log: Logger): Promise<ControlServer> {
    const table = dispatchTable(handlers);
    const connections = new Set<Socket>();
    const server = await listenUnix(path, (socket) => {
      connections.add(socket);
      socket.once('close', () => connections.delete(socket));
      // muxctl ends its side when done: end ours (the socket allows half-open).
      socket.once('end', () => socket.end());
      let greeted = false;
      const stopFollowing: Array<() => void> = [];
      socket.once('close', () => stopFollowing.forEach((stop) => stop()));
      new RpcConnection(socket, {
        maxLineBytes: 1024 * 1024,
        onRequest: async (method, params, connection) => {
          const session: ControlSession = {
            notifyLines: (lines) => connection.notify(LOG_LINE_NOTIFICATION, { lines }),
            notifyProgress: (service, line) => connection.notify(UPDATE_PROGRESS_NOTIFICATION, { service, line }),
            onClose: (stop) => stopFollowing.push(stop),
          };
          if (method === ControlMethods.Hello) {
            greeted = true;
            return dispatch(table, ControlMethods.Hello, params, session);
          }
          if (!greeted) throw new RpcError(ErrorCodes.InvalidRequest, `send 'hello' first (control protocol ${CONTROL_PROTOCOL_VERSION})`);
          log.debug({ method }, 'control request');
          if (!isControlMethod(method)) throw new RpcError(ErrorCodes.MethodNotFound, `unknown control method '${method}'`);
          return dispatch(table, method, params, session);
        },
      });
    });
    return new ControlServer(server, path, connections);
  }

  async close(): Promise<void> {
    const closing = closeUnixServer(this.#server, this.#path, 500);
    for (const socket of this.#connections) socket.end();
    await closing;
    for (const socket of this.#connections) socket.destroy();
  }
}

function stringParam(params: JsonObject, key: string): string {
  const value = params[key];
  if (typeof value !== 'string' || value === '') throw new RpcError(ErrorCodes.InvalidParams, `'${key}' must be a non-empty string`);
  return value;
}

/** `{ name }` when the params name a service, `{}` when they leave it out (or null). */
function optionalName(params: JsonObject): { name?: string } {
  return params['name'] === undefined || params['name'] === null ? {} : { name: stringParam(params, 'name') };
}

function booleanParam(params: JsonObject, key: string): boolean {
  const value = params[key] ?? false;
  if (typeof value !== 'boolean') throw new RpcError(ErrorCodes.InvalidParams, `'${key}' must be true or false`);
  return value;
}

function countParam(params: JsonObject, key: string, fallback: number, max: number): number {
  const value = params[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new RpcError(ErrorCodes.InvalidParams, `'${key}' must be a positive integer`);
  return Math.min(value, max);
}

function adhocParams(params: JsonObject): AdhocParams {
  const command = stringParam(params, 'command');
  const args = params['args'];
  const env = params['env'];
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) throw new RpcError(ErrorCodes.InvalidParams, "'args' must be an array of strings");
  if (typeof env !== 'object' || env === null || Array.isArray(env) || !Object.values(env).every((value) => typeof value === 'string')) {
    throw new RpcError(ErrorCodes.InvalidParams, "'env' must map names to strings");
  }
  const cwd = stringParam(params, 'cwd');
  if (!cwd.startsWith('/')) throw new RpcError(ErrorCodes.InvalidParams, "'cwd' must be an absolute path");
  return { command, args: args as string[], cwd, env: env as Record<string, string> };
}
