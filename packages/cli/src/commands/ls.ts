import type { CommandModule } from 'yargs';
import { ControlMethods } from '@muxd/protocol';
import type { ListSummary, ServiceRow } from '@muxd/protocol';
import { notice, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { formatDuration, formatExit, formatMemory, formatMiB, printJson, table } from '../format.js';
import { METRICS_HEADERS, metricsCells } from '../metricsFormat.js';

const MEMORY_HELP = `Memory is PSS on Linux (proportional set size: a page shared by several
processes is divided among them, so the figures add up), RSS on macOS,
which has no PSS (shared pages count in full in every process). The line
under the table totals muxd's own process, every service's process trees
and the mux-proxy processes connected (an older mux-proxy does not say its
pid: "proxies not counted"). "Running each session's servers directly" is
an estimate: for each service, its children's memory divided by their
number, times its sessions (proxy and HTTP), as if each session ran its own
copy of the server. --json gives the same figures in "summary".`;

function statusText(row: ServiceRow): string {
  if (row.status === 'backoff' && row.lastExit) return `backoff (${formatExit(row.lastExit)})`;
  return row.status;
}

/** `name@version` of the package a runner resolved to; `-` for a service that runs no runner or keeps it (describe says why). */
function packageCell(row: ServiceRow): string {
  return row.package ? `${row.package.name}@${row.package.version}` : '-';
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

/**
 * The totals line under `muxctl ls`, e.g. `3 services, 5 sessions (4 proxy,
 * 1 HTTP) · muxd + children + proxies: 142 MiB PSS · running each session's
 * servers directly: ~410 MiB (estimate)`.
 */
export function summaryLine(summary: ListSummary): string {
  const { sessions } = summary;
  const uncounted = summary.proxiesNotCounted;
  const notCounted = uncounted > 0 ? ` (${uncounted} ${uncounted === 1 ? 'proxy' : 'proxies'} not counted)` : '';
  const notEstimated = summary.notEstimated.length > 0 ? `; leaves out ${summary.notEstimated.join(', ')}: no child measured` : '';
  return [
    `${plural(summary.services, 'service')}, ${plural(sessions.total, 'session')} (${sessions.proxy} proxy, ${sessions.http} HTTP)`,
    `muxd + children + proxies: ${formatMiB(summary.memoryBytes)} ${summary.memoryKind.toUpperCase()}${notCounted}`,
    `running each session's servers directly: ~${formatMiB(summary.directEstimateBytes)} (estimate${notEstimated})`,
  ].join(' · ');
}

interface LsArgs extends GlobalArgs {
  wide: boolean | undefined;
}

export const lsCommand: CommandModule<GlobalArgs, LsArgs> = {
  command: ['ls', 'list'],
  describe: 'List services: status, pids, uptime, restarts, clients, requests, memory, CPU; then sessions and total memory',
  builder: (yargs) =>
    yargs
      .option('wide', { alias: 'w', type: 'boolean', describe: 'Add request columns (REQ/S and P50/P99 latency over the last minute, ERRORS since muxd started) and PACKAGE: what a package runner (npx ...) resolved to' })
      .epilogue(MEMORY_HELP),
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
          ['NAME', 'STATUS', 'PID', 'UPTIME', 'RESTARTS', 'CLIENTS', 'INFLIGHT', 'QUEUED', 'MEM', 'CPU', ...(argv.wide ? [...METRICS_HEADERS, 'PACKAGE'] : [])],
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
            ...(argv.wide ? [...metricsCells(row.metrics), packageCell(row)] : []),
          ]),
        ),
      );
    }
    if (result.summary) console.log(`\n${summaryLine(result.summary)}`);
    for (const row of result.services) if (row.error) notice(`${row.name}: ${row.error}`);
    if (result.daemon.databaseError) notice(`history is not being saved: ${result.daemon.databaseError}`);
    if (result.daemon.logError) notice(`logs are not being written: ${result.daemon.logError}`);
    for (const note of result.daemon.notes) notice(note);
  },
};
