import type { Socket } from 'node:net';
import { CONTROL_PROTOCOL_VERSION, ControlMethods, RpcConnection } from '@muxd/protocol';
import type { ControlMethod, ControlParams, ControlParamsArg, ControlResult, HelloResult, MuxPaths } from '@muxd/protocol';
import { ensureDaemon } from './daemonLauncher.js';
import { connectSocket } from '@muxd/runtime/socket';
import { CliError, ExitCodes } from './cliError.js';
import { VERSION } from './version.js';

export interface ConnectOptions {
  /** Start muxd in the background when it is not running. */
  autoStart: boolean;
  /** Where progress and warnings go (stderr, so --json output stays clean). */
  notice: (message: string) => void;
  onNotification?: (method: string, params: Record<string, unknown>) => void;
}

/** muxctl's connection to the daemon's control socket, greeted and version-checked. */
export class ControlClient {
  readonly hello: HelloResult;
  readonly #rpc: RpcConnection;

  private constructor(rpc: RpcConnection, hello: HelloResult) {
    this.#rpc = rpc;
    this.hello = hello;
  }

  static async connect(paths: MuxPaths, options: ConnectOptions): Promise<ControlClient> {
    if (options.autoStart) {
      try {
        await ensureDaemon(paths, { onStarting: () => options.notice('starting muxd...') });
      } catch (error) {
        throw new CliError((error as Error).message);
      }
    }
    const socket = await openSocket(paths.controlSocket);
    const rpc = new RpcConnection(socket, options.onNotification ? { onNotification: options.onNotification } : {});
    const greeting: ControlParams['hello'] = { client: 'muxctl', version: VERSION, protocol: CONTROL_PROTOCOL_VERSION };
    const hello = await rpc.request<ControlResult['hello']>(ControlMethods.Hello, greeting, 10_000);
    if (hello.protocol !== CONTROL_PROTOCOL_VERSION) {
      rpc.destroy();
      throw new CliError(
        `muxd ${hello.version} speaks control protocol ${hello.protocol}, this muxctl ${VERSION} speaks ${CONTROL_PROTOCOL_VERSION}; restart muxd: muxctl daemon stop && muxctl daemon start`,
      );
    }
    if (hello.version !== VERSION) {
      options.notice(`muxd is version ${hello.version}, muxctl is ${VERSION}; restart muxd to run the same version: muxctl daemon stop && muxctl daemon start`);
    }
    return new ControlClient(rpc, hello);
  }

  /**
   * Sends one control request and resolves with its result, typed by the
   * protocol's method map; params may be left out when the method needs
   * none. Rejects with `RpcError` (muxd's answer) or a closed connection.
   */
  request<M extends ControlMethod>(method: M, ...[params]: ControlParamsArg<M>): Promise<ControlResult[M]> {
    return this.#rpc.request<ControlResult[M]>(method, params ?? {});
  }

  get closed(): Promise<void> {
    return this.#rpc.closed;
  }

  close(): void {
    this.#rpc.close();
  }
}

function openSocket(path: string): Promise<Socket> {
  return connectSocket(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') {
      throw new CliError(`muxd is not running (no control socket at ${path}); start it with: muxctl daemon start`, ExitCodes.NotRunning);
    }
    throw new CliError(`cannot reach muxd at ${path}: ${error.message}`);
  });
}
