import type { ServiceMetrics, ServiceRow } from '@muxd/protocol';
import { formatMemory } from '../format.js';
import { sparkline } from './sparkline.js';

/** A service as monit shows it: its `list` row and, from a muxd that counts them, its metrics. */
export interface ServiceView {
  row: ServiceRow;
  metrics: ServiceMetrics | undefined;
}

export type ColumnId = 'name' | 'status' | 'sessions' | 'inflight' | 'rate' | 'rateTrend' | 'p50' | 'p99' | 'errors' | 'memory' | 'memoryTrend' | 'cpu';

interface Column {
  id: ColumnId;
  header: string;
  width: number;
  right: boolean;
  /** Columns go, highest first, until the table fits; 0 never goes. */
  dropOrder: number;
  cell: (view: ServiceView) => string;
}

/** One table cell, padded to its column's width. */
export interface Cell {
  id: ColumnId;
  text: string;
}

export interface TableLayout {
  header: string;
  rows: Cell[][];
}

/** Samples are 5 s apart: 12 of them are the last minute. */
const TREND_WIDTH = 12;
const NAME_MAX = 24;
const GAP = '  ';

/** Milliseconds as "0.4ms", "12ms", "1.2s"; "-" with nothing measured. */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 10) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Requests per second: two decimals under 10 (one call a minute is 0.02), one under 100. */
export function formatRate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return '-';
  if (perSecond < 10) return perSecond.toFixed(2);
  if (perSecond < 100) return perSecond.toFixed(1);
  return String(Math.round(perSecond));
}

const metric = (view: ServiceView, read: (metrics: ServiceMetrics) => string): string => (view.metrics ? read(view.metrics) : '-');

function columns(nameWidth: number): Column[] {
  return [
    { id: 'name', header: 'NAME', width: nameWidth, right: false, dropOrder: 0, cell: ({ row }) => row.name },
    { id: 'status', header: 'STATUS', width: 10, right: false, dropOrder: 0, cell: ({ row }) => row.status },
    { id: 'sessions', header: 'SESS', width: 4, right: true, dropOrder: 0, cell: (view) => String(view.metrics?.sessions.now ?? view.row.clients) },
    { id: 'inflight', header: 'INFL', width: 4, right: true, dropOrder: 4, cell: (view) => String(view.metrics?.inflight ?? view.row.inflight) },
    { id: 'rate', header: 'REQ/S', width: 6, right: true, dropOrder: 0, cell: (view) => metric(view, (m) => formatRate(m.ratePerS)) },
    {
      id: 'rateTrend',
      header: 'REQ/S 1m',
      width: TREND_WIDTH,
      right: false,
      dropOrder: 9,
      cell: (view) => metric(view, (m) => sparkline(m.samples.map((sample) => sample.ratePerS), { width: TREND_WIDTH, floor: 0 })),
    },
    { id: 'p50', header: 'P50', width: 7, right: true, dropOrder: 5, cell: (view) => metric(view, (m) => formatLatency(m.latency.lastMinute.p50Ms)) },
    { id: 'p99', header: 'P99', width: 7, right: true, dropOrder: 3, cell: (view) => metric(view, (m) => formatLatency(m.latency.lastMinute.p99Ms)) },
    { id: 'errors', header: 'ERR', width: 5, right: true, dropOrder: 2, cell: (view) => metric(view, (m) => String(m.errors)) },
    { id: 'memory', header: 'MEM', width: 7, right: true, dropOrder: 0, cell: ({ row }) => formatMemory(row.memoryBytes) },
    {
      id: 'memoryTrend',
      header: 'MEM 1m',
      width: TREND_WIDTH,
      right: false,
      dropOrder: 8,
      cell: (view) => metric(view, (m) => sparkline(m.samples.map((sample) => sample.memoryBytes), { width: TREND_WIDTH })),
    },
    { id: 'cpu', header: 'CPU', width: 5, right: true, dropOrder: 1, cell: ({ row }) => (row.cpuPercent === null ? '-' : `${Math.round(row.cpuPercent)}%`) },
  ];
}

/** `text` cut or padded to exactly `width` characters. */
function fit(text: string, width: number, right: boolean): string {
  const chars = [...text];
  if (chars.length > width) return width <= 1 ? chars.slice(0, width).join('') : `${chars.slice(0, width - 1).join('')}…`;
  return right ? text.padStart(width) : text.padEnd(width);
}

const totalWidth = (shown: Column[]): number => shown.reduce((sum, column) => sum + column.width, 0) + GAP.length * Math.max(0, shown.length - 1);

/**
 * The services table for a terminal `width` columns wide: the columns that
 * fit (the sparklines go first, then CPU, errors, p99, in flight and p50),
 * each cell padded to its column so rows line up. Names longer than 24
 * characters are cut with "…".
 */
export function layoutTable(views: readonly ServiceView[], width: number): TableLayout {
  const longest = Math.max(4, ...views.map((view) => [...view.row.name].length));
  let shown = columns(Math.min(NAME_MAX, longest));
  const droppable = shown.filter((column) => column.dropOrder > 0).sort((a, b) => b.dropOrder - a.dropOrder);
  for (const column of droppable) {
    if (totalWidth(shown) <= width) break;
    shown = shown.filter((kept) => kept !== column);
  }
  const header = shown
    .map((column) => fit(column.header, column.width, column.right))
    .join(GAP)
    .trimEnd();
  const rows = views.map((view) => shown.map((column) => ({ id: column.id, text: fit(column.cell(view), column.width, column.right) })));
  return { header, rows };
}
