import type { CommandModule } from 'yargs';
import { ControlMethods, ErrorCodes } from '@muxd/protocol';
import type { RunRecord, ServiceRow } from '@muxd/protocol';
import { withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { formatDuration, formatExit, formatMemory, formatTime, printJson } from '../format.js';
import { metricsLines } from '../metricsFormat.js';

interface Args extends GlobalArgs {
  name: string;
}

function run(record: RunRecord | null): string {
  if (!record) return '-';
  const ended = record.endedAt === null ? 'running' : `ended ${formatTime(record.endedAt)}, ${formatExit(record)}, ${record.reason ?? '?'}`;
  return `pid ${record.pid ?? '-'}, started ${formatTime(record.startedAt)}, ${ended}`;
}

/** What runs instead of a package runner (`npx pkg`), or why the runner is kept. */
function unwrapLines(row: ServiceRow): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  const found = row.package;
  if (found) {
    const source = found.source === 'local' ? 'a dependency of the project (local project)' : 'installed by muxd (muxd install)';
    lines.push(['package', `${found.name} ${found.version}, ${source}`]);
    lines.push(['bin', `${found.bin}: ${found.binFile}, run directly instead of ${found.runner} ${found.spec}`]);
  }
  if (row.unwrapNote) lines.push(['unwrap', row.unwrapNote]);
  return lines;
}

export const describeCommand: CommandModule<GlobalArgs, Args> = {
  command: 'describe <name>',
  describe: 'Show a service: resolved config (secrets hidden), the package run for npx and the like, socket, logs, runs, last exit',
  builder: (yargs) => yargs.positional('name', { type: 'string', demandOption: true, describe: 'Service name' }),
  handler: async (argv) => {
    const { result, metrics } = await withDaemon(async (client) => {
      const described = await client.request(ControlMethods.Describe, { name: argv.name });
      // An older muxd has no `metrics` method: describe goes on without the block.
      const counted = await client.request(ControlMethods.Metrics, { name: argv.name }).catch((error: unknown) => {
        if ((error as { code?: unknown }).code === ErrorCodes.MethodNotFound) return undefined;
        throw error;
      });
      return { result: described, metrics: counted?.services[0] };
    });
    if (argv.json) {
      printJson(metrics ? { ...result, metrics } : result);
      return;
    }
    const { row, config } = result;
    const lines: Array<[string, string]> = [
      ['name', row.name],
      ['status', row.status],
      ['pids', row.pids.join(', ') || '-'],
      ['uptime', formatDuration(row.uptimeMs)],
      ['restarts', String(row.restarts)],
      ['clients', String(row.clients)],
      ['in flight / queued', `${row.inflight} / ${row.queued}`],
      ['memory', formatMemory(row.memoryBytes)],
      ['command', [config['command'], ...((config['args'] as string[] | undefined) ?? [])].join(' ')],
      ['cwd', String(config['cwd'])],
      ['env', Object.keys((config['env'] as Record<string, string>) ?? {}).join(', ') || '-'],
      ['isolation', String(config['isolation'])],
      ['lazy', String(config['lazy'])],
      ...unwrapLines(row),
      ['socket', result.socket],
      ['log', result.logFile],
      ['current run', run(result.currentRun)],
      ['last run', run(result.lastRun)],
      ['last exit', row.lastExit ? `${formatExit(row.lastExit)} (${row.lastExit.reason}) at ${formatTime(row.lastExit.at)}` : '-'],
    ];
    if (row.error) lines.push(['error', row.error]);
    if (metrics) lines.push(...metricsLines(metrics));
    const width = Math.max(...lines.map(([key]) => key.length));
    for (const [key, value] of lines) console.log(`${key.padEnd(width)}  ${value}`);
    console.log(`\nconfig (JSON, env values hidden):\n${JSON.stringify(config, null, 2)}`);
  },
};
