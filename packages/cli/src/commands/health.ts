import { connect } from 'node:net';
import type { CommandModule } from 'yargs';
import { ControlMethods, RpcConnection, serviceSocketPath } from '@muxd/protocol';
import type { HealthResult } from '@muxd/protocol';
import { CliError } from '../cliError.js';
import { paths, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';
import { VERSION } from '../version.js';

interface Args extends GlobalArgs {
  name: string;
  timeout: number;
}

/**
 * A real MCP round trip through the service, as a client sees it: connect
 * to its data socket, initialize, then time a `ping` to the server. Never
 * throws: a failure is in the result. `timeoutMs` bounds each answer.
 */
export async function checkService(name: string, timeoutMs: number): Promise<HealthResult> {
  const socket = connect(serviceSocketPath(paths(), name));
  const rpc = new RpcConnection(socket);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    await rpc.request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'muxctl health', version: VERSION } }, timeoutMs);
    rpc.notify('notifications/initialized');
    const started = performance.now();
    await rpc.request('ping', {}, timeoutMs);
    return { name, ok: true, latencyMs: Math.round((performance.now() - started) * 100) / 100, error: null };
  } catch (error) {
    return { name, ok: false, latencyMs: null, error: (error as Error).message };
  } finally {
    rpc.destroy();
  }
}

export const healthCommand: CommandModule<GlobalArgs, Args> = {
  command: 'health <name>',
  describe: 'Check a service end to end: initialize and ping through its socket, with latency',
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', demandOption: true, describe: 'Service name' })
      .option('timeout', { type: 'number', default: 10_000, describe: 'Milliseconds to wait for each answer' }) as never,
  handler: async (argv) => {
    // Through the daemon first, so an unknown name gets a clear error (and muxd is started).
    await withDaemon(async (client) => {
      const list = await client.request(ControlMethods.List);
      if (!list.services.some((service) => service.name === argv.name)) {
        throw new CliError(`no service '${argv.name}' (configured: ${list.services.map((service) => service.name).join(', ') || 'none'})`);
      }
    });
    const result = await checkService(argv.name, argv.timeout);
    if (argv.json) printJson(result);
    else if (result.ok) console.log(`${result.name}: ok, ping ${result.latencyMs} ms`);
    if (!result.ok) throw new CliError(`${result.name}: unhealthy: ${result.error}`);
  },
};
