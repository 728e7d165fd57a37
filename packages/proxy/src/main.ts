#!/usr/bin/env node
// mux-proxy: the command an MCP host runs instead of the server. It copies
// bytes between stdio and the service's muxd socket and parses nothing, so
// it stays small and fast: it runs once per host session per server.
import { connect } from 'node:net';
import { resolvePaths, serviceSocketPath, SERVICE_NAME_PATTERN } from '@muxd/protocol/paths';

const USAGE = `usage: mux-proxy <service>

Connects an MCP host's stdio to the muxd service <service>.
Put it in a host's MCP config in place of the server's own command.`;

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
const socket = connect(socketPath);
let inputEnded = false;

socket.once('connect', () => {
  process.stdin.pipe(socket);
  socket.pipe(process.stdout);
});

process.stdin.once('end', () => {
  inputEnded = true;
});

socket.once('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'ENOENT') {
    fail(`muxd has no service '${service}' (no socket at ${socketPath}); check that muxd is running and '${service}' is in its config`);
  }
  if (error.code === 'ECONNREFUSED') fail(`muxd is not running (stale socket at ${socketPath}); start it with: muxd --config FILE`);
  if (error.code === 'EACCES') fail(`permission denied on ${socketPath}; it belongs to another user`);
  fail(`connection to muxd failed: ${error.message}`);
});

socket.once('close', (hadError) => {
  if (hadError) return;
  // Deliver what is buffered for the host, then leave.
  const code = inputEnded ? 0 : 1;
  if (!inputEnded) process.stderr.write(`mux-proxy: muxd closed the connection to '${service}'\n`);
  if (process.stdout.writableLength === 0) process.exit(code);
  process.stdout.once('drain', () => process.exit(code));
});
