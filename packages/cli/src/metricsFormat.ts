/** Text for the request figures of `muxctl ls --wide` and `muxctl describe`. */
import type { CallCounts, RowMetrics, ServiceMetrics } from '@muxd/protocol';
import { formatTime } from './format.js';

/** Columns `ls --wide` adds. */
export const METRICS_HEADERS = ['REQ/S', 'P50', 'P99', 'ERRORS'];

/** A latency: "0.42ms", "12ms", "1.3s"; "-" for none. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Errors, with timeouts apart when there are any: "3", "3 +1 timeout". */
function errorsText(counts: { errors: number; timeouts: number }): string {
  if (counts.timeouts === 0) return String(counts.errors);
  return `${counts.errors} +${counts.timeouts} timeout${counts.timeouts === 1 ? '' : 's'}`;
}

/** The `ls --wide` cells of a row; dashes from a daemon that sends no metrics. */
export function metricsCells(metrics: RowMetrics | undefined): string[] {
  if (!metrics) return ['-', '-', '-', '-'];
  return [String(metrics.ratePerS), formatMs(metrics.p50Ms), formatMs(metrics.p99Ms), errorsText(metrics)];
}

function callText(name: string, counts: CallCounts): string {
  return `${name}: ${counts.requests} (${errorsText(counts)} failed), p50 ${formatMs(counts.p50Ms)}, p99 ${formatMs(counts.p99Ms)}`;
}

/** The busiest `limit` entries of a by-method or by-tool record. */
function busiest(record: Record<string, CallCounts>, limit: number): string[] {
  return Object.entries(record)
    .sort(([, a], [, b]) => b.requests - a.requests)
    .slice(0, limit)
    .map(([name, counts]) => callText(name, counts));
}

/** The metrics block of `muxctl describe`, as key/value lines. */
export function metricsLines(metrics: ServiceMetrics): Array<[string, string]> {
  const { lastMinute, sinceStart } = metrics.latency;
  const lines: Array<[string, string]> = [
    ['requests', `${metrics.requests} since muxd started (${errorsText(metrics)} failed, ${metrics.cancelled ?? 0} cancelled), ${metrics.inflight} in flight`],
    ['rate', `${metrics.ratePerS}/s over the last minute`],
    ['latency', `last minute p50 ${formatMs(lastMinute.p50Ms)} p99 ${formatMs(lastMinute.p99Ms)} (${lastMinute.count}); since start p50 ${formatMs(sinceStart.p50Ms)} p99 ${formatMs(sinceStart.p99Ms)}`],
  ];
  for (const text of busiest(metrics.byMethod, 5)) lines.push(['by method', text]);
  for (const text of busiest(metrics.byTool, 5)) lines.push(['by tool', text]);
  lines.push(['sessions', `${metrics.sessions.now} now, ${metrics.sessions.total} since muxd started`]);
  for (const session of metrics.sessions.clients) {
    const who = session.clientName === null ? '(no initialize yet)' : `${session.clientName} ${session.clientVersion ?? ''}`.trim();
    lines.push(['client', `${who} over ${session.transport === 'socket' ? 'mux-proxy' : 'HTTP'} since ${formatTime(session.since)}`]);
  }
  const latest = metrics.restarts[0];
  if (latest) lines.push(['last child exit', `${latest.reason} at ${formatTime(latest.at)} (${metrics.restarts.length} listed)`]);
  return lines;
}
