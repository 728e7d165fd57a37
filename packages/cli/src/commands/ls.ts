import type { CommandModule } from 'yargs';
import { ControlMethods } from '@muxd/protocol';
import type { ServiceRow } from '@muxd/protocol';
import { notice, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { formatDuration, formatExit, formatMemory, printJson, table } from '../format.js';

function statusText(row: ServiceRow): string {
  if (row.status === 'backoff' && row.lastExit) return `backoff (${formatExit(row.lastExit)})`;
  return row.status;
}

export const lsCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: ['ls', 'list'],
  describe: 'List services: status, pids, uptime, restarts, clients, requests, memory, CPU',
  handler: async (argv) => {
    const result = await withDaemon((client) => client.request(ControlMethods.List));
    if (argv.json) {
      printJson(result);
      return;
    }
    if (result.services.length === 0) {
      console.log('no services configured');
    } else {
      console.log(
        table(
          ['NAME', 'STATUS', 'PID', 'UPTIME', 'RESTARTS', 'CLIENTS', 'INFLIGHT', 'QUEUED', 'MEM', 'CPU'],
          result.services.map((row) => [
            row.name,
            statusText(row),
            row.pids.length === 0 ? '-' : row.pids.length === 1 ? String(row.pids[0]) : `${row.pids.length} procs`,
            formatDuration(row.uptimeMs),
            String(row.restarts),
            row.idleClients > 0 ? `${row.clients} (+${row.idleClients} idle)` : String(row.clients),
            String(row.inflight),
            String(row.queued),
            formatMemory(row.memoryBytes),
            row.cpuPercent === null ? '-' : `${row.cpuPercent}%`,
          ]),
        ),
      );
    }
    for (const row of result.services) if (row.error) notice(`${row.name}: ${row.error}`);
    if (result.daemon.databaseError) notice(`history is not being saved: ${result.daemon.databaseError}`);
    if (result.daemon.logError) notice(`logs are not being written: ${result.daemon.logError}`);
    for (const note of result.daemon.notes) notice(note);
  },
};
