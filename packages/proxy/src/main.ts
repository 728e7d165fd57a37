#!/usr/bin/env node
// mux-proxy: the command an MCP host runs instead of the server. While muxd
// is up it copies bytes between stdio and the service's socket unchanged,
// only glancing at each line to know which requests await an answer. If
// muxd dies it answers those requests with an error (never sending them
// twice), starts muxd again, replays the session's initialize,
// subscriptions and log level, and carries on: the host does not notice.
import type { Socket } from 'node:net';
import { LineReader } from '@muxd/protocol/lineReader';
import { connectSocket } from '@muxd/protocol/socket';
import { isValidServiceName, resolvePaths, serviceSocketPath } from '@muxd/protocol/paths';
import { INPUT_ENDED_LINE } from '@muxd/protocol/wire';
import { encodeMessage } from '@muxd/protocol/messageCodec';
import { ErrorCodes } from '@muxd/protocol/errorCodes';
import { ResponseScanner, SessionState, isShutdown, responseId } from './sessionState.js';

const USAGE = `usage: mux-proxy <service>
       mux-proxy [--env NAME[,NAME...]] -- <command> [args...]

Connects an MCP host's stdio to the muxd service <service>, starting muxd
if it is not running. Put it in a host's MCP config in place of the
server's own command.

With -- it shares a server that is not in muxd's config: sessions running
the same command, args, directory and environment share one child. --env
names the variables the server needs (default: those whose names look like
credentials: *TOKEN*, *KEY*, *SECRET*, *PASSWORD*, *AUTH*, *CREDENTIAL*).`;

/** Host lines may be large (file contents); muxd enforces the service's own limit. */
const MAX_HOST_LINE = 256 * 1024 * 1024;
/** How long to keep trying to reach a restarted muxd. */
const RECONNECT_MS = 60_000;
const NEWLINE = Buffer.from('\n');

function fail(message: string, code = 1): never {
  process.stderr.write(`mux-proxy: ${message}\n`);
  process.exit(code);
}

/** What to connect to: a configured service, or a command muxd runs ad hoc. */
type Target = { service: string } | { command: string; args: string[]; envNames: string[] | undefined };

function parseArgs(argv: string[]): Target {
  const dashes = argv.indexOf('--');
  if (dashes === -1) {
    if (argv.length !== 1 || argv[0] === '--help' || argv[0] === '-h') fail(argv.length === 0 ? `missing service name\n${USAGE}` : USAGE, 2);
    const service = argv[0] as string;
    if (!isValidServiceName(service)) fail(`invalid service name '${service}'`, 2);
    return { service };
  }
  const [command, ...args] = argv.slice(dashes + 1);
  if (!command) fail(`missing command after --\n${USAGE}`, 2);
  let envNames: string[] | undefined;
  const options = argv.slice(0, dashes);
  for (let index = 0; index < options.length; index++) {
    const option = options[index] as string;
    const value = option.startsWith('--env=') ? option.slice(6) : option === '--env' ? options[++index] : fail(`unknown option '${option}'\n${USAGE}`, 2);
    if (value === undefined) fail('--env needs a list of variable names', 2);
    envNames = [...(envNames ?? []), ...value.split(',').filter(Boolean)];
  }
  return { command, args, envNames };
}

const CREDENTIAL_NAME = /TOKEN|KEY|SECRET|PASSWORD|PASSWD|AUTH|CREDENTIAL/i;

const target = parseArgs(process.argv.slice(2));
const label = 'service' in target ? target.service : target.command;
const paths = resolvePaths();

/**
 * The socket to connect to. For an ad-hoc command, asks muxd (which must be
 * running) to register it; muxd answers with the shared service's socket.
 */
async function socketFor(): Promise<string> {
  if ('service' in target) return serviceSocketPath(paths, target.service);
  const names = target.envNames ?? Object.keys(process.env).filter((name) => CREDENTIAL_NAME.test(name));
  // Own variables only (`--env constructor` is not Object's), and keys defined, never assigned: none is lost.
  const env = Object.fromEntries(names.filter((name) => Object.hasOwn(process.env, name)).map((name) => [name, process.env[name] as string]));
  const { ControlMethods, CONTROL_PROTOCOL_VERSION, RpcConnection } = await import('@muxd/protocol');
  const control = new RpcConnection(await connectSocket(paths.controlSocket));
  try {
    await control.request(ControlMethods.Hello, { client: 'mux-proxy', version: '0', protocol: CONTROL_PROTOCOL_VERSION }, 10_000);
    const result = await control.request<{ socket: string }>(ControlMethods.Adhoc, { command: target.command, args: target.args, cwd: process.cwd(), env }, 30_000);
    return result.socket;
  } finally {
    control.destroy();
  }
}

/** Connects to the service, starting muxd first when it is not running. */
async function connectService(): Promise<Socket> {
  if ('service' in target) {
    try {
      return await connectSocket(serviceSocketPath(paths, target.service));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES') fail(`permission denied on ${serviceSocketPath(paths, target.service)}; it belongs to another user`);
      if (code !== 'ENOENT' && code !== 'ECONNREFUSED') fail(`connection to muxd failed: ${(error as Error).message}`);
    }
  }
  // Only now load the launcher: the common path stays as small as it can be.
  const { ensureDaemon } = await import('@muxd/protocol/launcher');
  let outcome: 'running' | 'started';
  try {
    outcome = await ensureDaemon(paths);
  } catch (error) {
    fail((error as Error).message);
  }
  let socketPath: string;
  try {
    socketPath = await socketFor();
  } catch (error) {
    fail(`muxd could not run '${label}': ${(error as Error).message}`);
  }
  try {
    return await connectSocket(socketPath);
  } catch {
    fail(`muxd ${outcome === 'started' ? 'started but ' : ''}has no service '${label}' (${await whichDaemon()}); ${
      process.env['MUXD_HOME'] === undefined && process.env['MUXD_CONFIG'] === undefined
        ? 'if the muxd serving it uses another MUXD_HOME or MUXD_CONFIG, set them in this host entry\'s env (muxctl rewire writes them)'
        : 'add it to that config and run: muxctl reload'
    }`);
  }
}

/** Which muxd answered, for an error: its home and config, as it reports them. */
async function whichDaemon(): Promise<string> {
  const where = `home ${process.env['MUXD_HOME'] ?? paths.stateDir}`;
  try {
    const { ControlMethods, CONTROL_PROTOCOL_VERSION, RpcConnection } = await import('@muxd/protocol');
    const control = new RpcConnection(await connectSocket(paths.controlSocket));
    try {
      await control.request(ControlMethods.Hello, { client: 'mux-proxy', version: '0', protocol: CONTROL_PROTOCOL_VERSION }, 5_000);
      const status = await control.request<{ configFile: string }>(ControlMethods.Status, {}, 5_000);
      return `${where}, config ${status.configFile || 'none'}`;
    } finally {
      control.destroy();
    }
  } catch {
    return where;
  }
}

const state = new SessionState();
let socket: Socket | undefined;
let hostEnded = false;
/** muxd said it is shutting down on purpose: leave with it instead of restarting it. */
let daemonLeaving = false;

// ---- host -> muxd: raw bytes while connected; whole lines while not.
/** Complete host lines waiting for a connection. */
let waiting: Buffer[] = [];
/** Forwarding host bytes as they come (false: as whole lines, until connected at a line boundary). */
let rawInput = false;
const hostLines = new LineReader({
  maxLineBytes: MAX_HOST_LINE,
  onLine: (line) => {
    state.fromHost(line);
    if (rawInput) return;
    if (socket) {
      socket.write(line);
      socket.write(NEWLINE);
    } else {
      waiting.push(Buffer.from(line), NEWLINE);
    }
  },
  onOverflow: ({ bytes }) => process.stderr.write(`mux-proxy: dropped a ${bytes}-byte message from the host\n`),
});
process.stdin.on('data', (chunk: Buffer) => {
  if (rawInput && socket) socket.write(chunk);
  hostLines.push(chunk);
  if (!rawInput && socket && hostLines.bufferedBytes === 0) rawInput = true;
});
process.stdin.once('end', () => {
  // Tell muxd the host is done, so it answers what is in flight before closing.
  hostEnded = true;
  socket?.end(INPUT_ENDED_LINE);
});

// ---- muxd -> host: raw bytes, scanned for response ids; whole lines while replaying.
/** Answers to the replay's own requests, to drop. */
let replayIds = new Set<string>();
const scanner = new ResponseScanner({
  onResponse: (id) => state.answered(id),
  onShutdown: () => {
    daemonLeaving = true;
  },
});
const replayLines = new LineReader({
  maxLineBytes: MAX_HOST_LINE,
  onLine: (line) => {
    const head = line.subarray(0, 200).toString('utf8');
    if (isShutdown(head)) daemonLeaving = true;
    const id = responseId(head);
    if (typeof id === 'string' && replayIds.delete(id)) return;
    if (id !== undefined) state.answered(id);
    process.stdout.write(line);
    process.stdout.write(NEWLINE);
  },
  onOverflow: () => undefined,
});

/** Starts using a connection: replays the session on a reconnect, then sends what waited. */
function attach(connection: Socket, reconnecting: boolean): void {
  socket = connection;
  if (reconnecting) {
    const replay = state.replay();
    replayIds = replay.ids;
    if (replay.lines) connection.write(replay.lines);
  }
  for (const buffer of waiting) connection.write(buffer);
  waiting = [];
  if (hostLines.bufferedBytes === 0) rawInput = true;
  if (hostEnded) connection.end(INPUT_ENDED_LINE);
  connection.on('data', (chunk: Buffer) => {
    if (replayIds.size > 0 || replayLines.bufferedBytes > 0) {
      replayLines.push(chunk);
    } else {
      process.stdout.write(chunk);
      scanner.push(chunk);
    }
  });
  connection.on('error', () => undefined);
  connection.once('close', () => {
    socket = undefined;
    if (hostEnded || daemonLeaving) {
      if (!hostEnded) process.stderr.write(`mux-proxy: muxd shut down\n`);
      leave(hostEnded ? 0 : 1);
      return;
    }
    void reconnect();
  });
}

/** muxd went away unexpectedly: fail what was in flight, then rebuild the session on a new muxd. */
async function reconnect(): Promise<void> {
  rawInput = false;
  if (!scanner.atLineStart) process.stdout.write(NEWLINE);
  for (const id of state.takeInflight()) {
    const message = `muxd stopped while handling this request; it was not retried. muxd is restarting '${label}'`;
    process.stdout.write(encodeMessage({ jsonrpc: '2.0', id, error: { code: ErrorCodes.ConnectionClosed, message } }) ?? '');
  }
  process.stderr.write(`mux-proxy: lost muxd; reconnecting to '${label}'\n`);
  const deadline = Date.now() + RECONNECT_MS;
  let delay = 100;
  while (Date.now() < deadline) {
    try {
      const { ensureDaemon } = await import('@muxd/protocol/launcher');
      await ensureDaemon(paths, { timeoutMs: Math.max(1000, deadline - Date.now()) });
      let connection: Socket;
      try {
        connection = await connectSocket(await socketFor());
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') fail(`muxd is running but no longer has service '${label}' (removed from its config?)`);
        throw error;
      }
      attach(connection, true);
      process.stderr.write(`mux-proxy: reconnected to '${label}'\n`);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }
  fail(`could not reach muxd again within ${RECONNECT_MS / 1000} s; see muxctl daemon status`);
}

/** Delivers what is buffered for the host, then exits. */
function leave(code: number): void {
  if (process.stdout.writableLength === 0) process.exit(code);
  process.stdout.once('drain', () => process.exit(code));
}

// No top-level await: the proxy ships as one CommonJS file (see scripts/bundle-proxy.mjs).
void connectService().then((connection) => attach(connection, false));
