#!/usr/bin/env node
// mux-proxy: the command an MCP host runs instead of the server. It copies
// bytes between stdio and the service's muxd socket and parses nothing, so
// it stays small and fast: it runs once per host session per server.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { resolvePaths, serviceSocketPath, SERVICE_NAME_PATTERN } from '@muxd/protocol/paths';
import { INPUT_ENDED_LINE } from '@muxd/protocol/wire';

const USAGE = `usage: mux-proxy <service>

Connects an MCP host's stdio to the muxd service <service>, starting muxd
if it is not running. Put it in a host's MCP config in place of the
server's own command.`;

function fail(message: string, code = 1): never {
  process.stderr.write(`mux-proxy: ${message}\n`);
  process.exit(code);
}

const args = process.argv.slice(2);
if (args.length !== 1 || args[0] === '--help' || args[0] === '-h') fail(args.length === 0 ? `missing service name\n${USAGE}` : USAGE, 2);
const service = args[0] as string;
if (!SERVICE_NAME_PATTERN.test(service)) fail(`invalid service name '${service}'`, 2);

const paths = resolvePaths();
const socketPath = serviceSocketPath(paths, service);

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Connects to the service, starting muxd first when it is not running. */
async function connectService(): Promise<Socket> {
  try {
    return await open(socketPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES') fail(`permission denied on ${socketPath}; it belongs to another user`);
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') fail(`connection to muxd failed: ${(error as Error).message}`);
  }
  // Only now load the launcher: the common path stays as small as it can be.
  const { ensureDaemon } = await import('@muxd/protocol/launcher');
  let outcome: 'running' | 'started';
  try {
    outcome = await ensureDaemon(paths);
  } catch (error) {
    fail((error as Error).message);
  }
  try {
    return await open(socketPath);
  } catch {
    fail(
      outcome === 'started'
        ? `muxd started but has no service '${service}'; add it to muxd's config (muxctl config path) and run: muxctl reload`
        : `muxd has no service '${service}'; check its config (muxctl ls lists the services)`,
    );
  }
}

const socket = await connectService();
let inputEnded = false;
process.stdin.once('end', () => {
  // Tell muxd the host is done, so it answers what is in flight before closing.
  inputEnded = true;
  socket.end(INPUT_ENDED_LINE);
});
process.stdin.pipe(socket, { end: false });
socket.pipe(process.stdout);
socket.on('error', (error) => {
  process.stderr.write(`mux-proxy: connection to muxd lost: ${error.message}\n`);
});
socket.once('close', () => {
  // Deliver what is buffered for the host, then leave.
  const code = inputEnded ? 0 : 1;
  if (!inputEnded) process.stderr.write(`mux-proxy: muxd closed the connection to '${service}'\n`);
  if (process.stdout.writableLength === 0) process.exit(code);
  process.stdout.once('drain', () => process.exit(code));
});
