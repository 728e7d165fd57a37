/**
 * The real `Connector`: muxd's sockets under the paths of this environment.
 * The launcher and the control client are loaded with import() only when
 * muxd is not running or a command is shared ad hoc, so the common path,
 * connecting to a running muxd, never pays for them (scripts/bundle-proxy.mjs).
 */
import type { Socket } from 'node:net';
import { connectSocket } from '@muxd/runtime/socket';
import { resolvePaths, serviceSocketPath } from '@muxd/protocol/paths';
import { clientPidLine } from '@muxd/protocol/wire';
import type { MuxPaths } from '@muxd/protocol/paths';
import { FatalConnectError } from './proxySession.js';
import type { Connector } from './proxySession.js';

/** What to connect to: a configured service, or a command muxd runs ad hoc. */
export type Target = { service: string } | { command: string; args: string[]; envNames: string[] | undefined };

/** Variables an ad-hoc command gets when `--env` names none. */
const CREDENTIAL_NAME = /TOKEN|KEY|SECRET|PASSWORD|PASSWD|AUTH|CREDENTIAL/i;

/**
 * A connector to `target` for the muxd of this process's environment
 * (`MUXD_HOME`, `MUXD_CONFIG`...), which it starts when it is not running.
 */
export function createMuxdConnector(target: Target): Connector {
  const paths = resolvePaths();
  const label = 'service' in target ? target.service : target.command;
  return {
    label,
    connect: async () => sayPid(await connectService(target, paths, label)),
    reconnect: async (timeoutMs) => {
      const ensureDaemon = await loadLauncher();
      await ensureDaemon(paths, { timeoutMs });
      try {
        return sayPid(await connectSocket(await socketFor(target, paths)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new FatalConnectError(`muxd is running but no longer has service '${label}' (removed from its config?)`);
        throw error;
      }
    },
  };
}

/** Tells muxd which process this proxy is, first thing on the connection, so `muxctl ls` counts its memory. */
function sayPid(socket: Socket): Socket {
  socket.write(clientPidLine(process.pid));
  return socket;
}

type EnsureDaemon = (paths: MuxPaths, options?: { timeoutMs?: number }) => Promise<'running' | 'started'>;

/**
 * The launcher, loaded only now, starting the muxd that goes with this
 * mux-proxy: @muxd/daemon, a dependency of this package, found from here
 * (from the bundle, once built).
 */
async function loadLauncher(): Promise<EnsureDaemon> {
  const { ensureDaemon, resolveDaemonEntry } = await import('@muxd/runtime/launcher');
  const daemonEntry = () => resolveDaemonEntry(import.meta.url);
  return (paths, options = {}) => ensureDaemon(paths, { ...options, daemonEntry });
}

/** Connects to the service, starting muxd first when it is not running. Rejects with the message to print. */
async function connectService(target: Target, paths: MuxPaths, label: string): Promise<Socket> {
  if ('service' in target) {
    try {
      return await connectSocket(serviceSocketPath(paths, target.service));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES') throw new Error(`permission denied on ${serviceSocketPath(paths, target.service)}; it belongs to another user`);
      if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw new Error(`connection to muxd failed: ${(error as Error).message}`);
    }
  }
  // Only now load the launcher: the common path stays as small as it can be.
  const ensureDaemon = await loadLauncher();
  const outcome = await ensureDaemon(paths);
  let socketPath: string;
  try {
    socketPath = await socketFor(target, paths);
  } catch (error) {
    throw new Error(`muxd could not run '${label}': ${(error as Error).message}`);
  }
  try {
    return await connectSocket(socketPath);
  } catch {
    throw new Error(`muxd ${outcome === 'started' ? 'started but ' : ''}has no service '${label}' (${await whichDaemon(paths)}); ${
      process.env['MUXD_HOME'] === undefined && process.env['MUXD_CONFIG'] === undefined
        ? 'if the muxd serving it uses another MUXD_HOME or MUXD_CONFIG, set them in this host entry\'s env (muxctl rewire writes them)'
        : 'add it to that config and run: muxctl reload'
    }`);
  }
}

/**
 * The socket to connect to. For an ad-hoc command, asks muxd (which must be
 * running) to register it; muxd answers with the shared service's socket.
 */
async function socketFor(target: Target, paths: MuxPaths): Promise<string> {
  if ('service' in target) return serviceSocketPath(paths, target.service);
  const names = target.envNames ?? Object.keys(process.env).filter((name) => CREDENTIAL_NAME.test(name));
  // Own variables only (`--env constructor` is not Object's), and keys defined, never assigned: none is lost.
  const env = Object.fromEntries(names.filter((name) => Object.hasOwn(process.env, name)).map((name) => [name, process.env[name] as string]));
  return withControl(paths, 10_000, async (control, ControlMethods) => {
    const result = await control.request<{ socket: string }>(ControlMethods.Adhoc, { command: target.command, args: target.args, cwd: process.cwd(), env }, 30_000);
    return result.socket;
  });
}

/** Which muxd answered, for an error: its home and config, as it reports them. */
async function whichDaemon(paths: MuxPaths): Promise<string> {
  const where = `home ${process.env['MUXD_HOME'] ?? paths.stateDir}`;
  try {
    return await withControl(paths, 5_000, async (control, ControlMethods) => {
      const status = await control.request<{ configFile: string }>(ControlMethods.Status, {}, 5_000);
      return `${where}, config ${status.configFile || 'none'}`;
    });
  } catch {
    return where;
  }
}

type ControlModule = typeof import('@muxd/protocol');

/** Runs `use` on a control connection that said hello within `helloMs`, then closes it. */
async function withControl<T>(
  paths: MuxPaths,
  helloMs: number,
  use: (control: InstanceType<ControlModule['RpcConnection']>, methods: ControlModule['ControlMethods']) => Promise<T>,
): Promise<T> {
  // Loaded only here: the control client is not part of the common path.
  const { ControlMethods, CONTROL_PROTOCOL_VERSION, RpcConnection } = await import('@muxd/protocol');
  const control = new RpcConnection(await connectSocket(paths.controlSocket));
  try {
    await control.request(ControlMethods.Hello, { client: 'mux-proxy', version: '0', protocol: CONTROL_PROTOCOL_VERSION }, helloMs);
    return await use(control, ControlMethods);
  } finally {
    control.destroy();
  }
}
