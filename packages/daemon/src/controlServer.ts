import type { Server, Socket } from 'node:net';
import {
  CONTROL_PROTOCOL_VERSION,
  ControlMethods,
  ErrorCodes,
  LOG_LINE_NOTIFICATION,
  RpcConnection,
  RpcError,
} from '@muxd/protocol';
import type { JsonObject } from '@muxd/protocol';
import type { Daemon } from './daemon.js';
import type { Logger } from './logs.js';
import { closeUnixServer, listenUnix } from './unixSocket.js';

const MAX_LOG_LINES = 10_000;
const MAX_HISTORY = 10_000;

/**
 * The control socket: muxctl's JSON-RPC requests mapped onto the daemon.
 * Requests on a connection that has not said `hello` are refused, so a
 * version mismatch is always noticed.
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

  static async listen(path: string, daemon: Daemon, log: Logger): Promise<ControlServer> {
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
          if (method === ControlMethods.Hello) {
            greeted = true;
            return daemon.hello();
          }
          if (!greeted) throw new RpcError(ErrorCodes.InvalidRequest, `send 'hello' first (control protocol ${CONTROL_PROTOCOL_VERSION})`);
          log.debug({ method }, 'control request');
          switch (method) {
            case ControlMethods.Status:
              return daemon.status();
            case ControlMethods.List:
              return daemon.list();
            case ControlMethods.Describe:
              return daemon.describe(stringParam(params, 'name'));
            case ControlMethods.Start:
              return daemon.startService(stringParam(params, 'name'));
            case ControlMethods.Stop:
              return daemon.stopService(stringParam(params, 'name'));
            case ControlMethods.Restart:
              return daemon.restartService(stringParam(params, 'name'));
            case ControlMethods.Logs:
              return daemon.logs(optionalString(params, 'name'), countParam(params, 'lines', 100, MAX_LOG_LINES));
            case ControlMethods.LogsFollow: {
              const stop = daemon.followLogs(optionalString(params, 'name'), (lines) => connection.notify(LOG_LINE_NOTIFICATION, { lines }));
              stopFollowing.push(stop);
              return {};
            }
            case ControlMethods.History:
              return daemon.history(optionalString(params, 'name'), countParam(params, 'limit', 50, MAX_HISTORY));
            case ControlMethods.Reload:
              return daemon.reload({ allowEmpty: booleanParam(params, 'allowEmpty') });
            case ControlMethods.Adhoc:
              return daemon.ensureAdhoc(adhocParams(params));
            case ControlMethods.Shutdown:
              daemon.requestShutdown();
              return { pid: process.pid };
            default:
              throw new RpcError(ErrorCodes.MethodNotFound, `unknown control method '${method}'`);
          }
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

function optionalString(params: JsonObject, key: string): string | undefined {
  return params[key] === undefined || params[key] === null ? undefined : stringParam(params, key);
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

function adhocParams(params: JsonObject): { command: string; args: string[]; cwd: string; env: Record<string, string> } {
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
