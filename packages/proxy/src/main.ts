#!/usr/bin/env node
// mux-proxy: the command an MCP host runs instead of the server. It connects
// the host's stdio to a muxd service (ProxySession) and exits when the
// session is over: 0 when the host ended it, 1 when muxd went or could not
// be reached, 2 for bad arguments.
import { isValidServiceName } from '@muxd/protocol/paths';
import { createMuxdConnector } from './muxdConnector.js';
import type { Target } from './muxdConnector.js';
import { ProxySession } from './proxySession.js';
import type { ProxyOutcome } from './proxySession.js';

const USAGE = `usage: mux-proxy <service>
       mux-proxy [--env NAME[,NAME...]] -- <command> [args...]

Connects an MCP host's stdio to the muxd service <service>, starting muxd
if it is not running. Put it in a host's MCP config in place of the
server's own command.

With -- it shares a server that is not in muxd's config: sessions running
the same command, args, directory and environment share one child. --env
names the variables the server needs (default: those whose names look like
credentials: *TOKEN*, *KEY*, *SECRET*, *PASSWORD*, *AUTH*, *CREDENTIAL*).`;

/** Bad arguments: the message is printed and the exit code is 2. */
class UsageError extends Error {}

function parseArgs(argv: string[]): Target {
  const usage = (message: string): never => {
    throw new UsageError(message);
  };
  const dashes = argv.indexOf('--');
  if (dashes === -1) {
    if (argv.length !== 1 || argv[0] === '--help' || argv[0] === '-h') usage(argv.length === 0 ? `missing service name\n${USAGE}` : USAGE);
    const service = argv[0] as string;
    if (!isValidServiceName(service)) usage(`invalid service name '${service}'`);
    return { service };
  }
  const [command, ...args] = argv.slice(dashes + 1);
  if (!command) return usage(`missing command after --\n${USAGE}`);
  let envNames: string[] | undefined;
  const options = argv.slice(0, dashes);
  for (let index = 0; index < options.length; index++) {
    const option = options[index] as string;
    const value = option.startsWith('--env=') ? option.slice(6) : option === '--env' ? options[++index] : usage(`unknown option '${option}'\n${USAGE}`);
    if (value === undefined) usage('--env needs a list of variable names');
    envNames = [...(envNames ?? []), ...(value as string).split(',').filter(Boolean)];
  }
  return { command, args, envNames };
}

const EXIT_CODES: Record<ProxyOutcome['reason'], number> = { 'host-ended': 0, 'muxd-shutdown': 1, failed: 1, destroyed: 1 };

/** The whole program; resolves its exit code once everything for the host is written. */
async function main(argv: string[]): Promise<number> {
  let target: Target;
  try {
    target = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`mux-proxy: ${error.message}\n`);
    return 2;
  }
  const session = new ProxySession({ input: process.stdin, output: process.stdout, error: process.stderr }, createMuxdConnector(target));
  return EXIT_CODES[(await session.run()).reason];
}

// No top-level await: the proxy ships as one CommonJS file (see scripts/bundle-proxy.mjs).
void main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`mux-proxy: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
