import type { ReactElement } from 'react';
import { formatDuration } from '../format.js';
import { printable } from './printable.js';
import { layoutTable } from './servicesTable.js';
import { ui } from './ui.js';
import type { ServiceView } from './servicesTable.js';

const STATUS_COLORS: Record<string, string> = {
  online: 'green',
  idle: 'cyan',
  starting: 'yellow',
  restarting: 'yellow',
  stopping: 'yellow',
  backoff: 'yellow',
  errored: 'red',
  stopped: 'gray',
};

export interface ServicesPanelProps {
  services: ServiceView[];
  selected: string | undefined;
  width: number;
}

/** The services table, the selected row marked, and a line of the selected service's totals. */
export function ServicesPanel({ services, selected, width }: ServicesPanelProps): ReactElement {
  const { react: { createElement: h }, ink: { Box, Text } } = ui();
  const layout = layoutTable(services, width - 2);
  const rows = layout.rows.map((cells, index) => {
    const name = services[index]?.row.name;
    const isSelected = name === selected;
    return h(
      Text,
      { key: name ?? index, wrap: 'truncate-end', inverse: isSelected },
      isSelected ? '› ' : '  ',
      ...cells.flatMap((cell, column) => [
        column > 0 ? '  ' : '',
        cell.id === 'status' ? h(Text, { key: cell.id, color: STATUS_COLORS[cell.text.trim()] ?? 'white' }, cell.text) : cell.text,
      ]),
    );
  });
  const view = services.find((service) => service.row.name === selected);
  return h(
    Box,
    { flexDirection: 'column', width },
    h(Text, { bold: true, wrap: 'truncate-end' }, `  ${layout.header}`),
    ...rows,
    h(Text, { dimColor: true, wrap: 'truncate-end' }, view ? detailLine(view) : ' '),
  );
}

/** "memory: requests 12 · errors 0 · timeouts 0 · sessions 1 now, 3 in all · pid 4242 · up 5m · restarts 1 (manual)". */
export function detailLine({ row, metrics }: ServiceView): string {
  const parts = [row.name];
  if (metrics) {
    parts.push(`requests ${metrics.requests}`, `errors ${metrics.errors}`, `timeouts ${metrics.timeouts}`);
    parts.push(`sessions ${metrics.sessions.now} now, ${metrics.sessions.total} in all`);
  } else {
    parts.push(`clients ${row.clients}`);
  }
  parts.push(row.pids.length === 0 ? 'no pid' : `pid ${row.pids.join(',')}`);
  if (row.uptimeMs !== null) parts.push(`up ${formatDuration(row.uptimeMs)}`);
  const last = metrics?.restarts[0];
  parts.push(`restarts ${row.restarts}${last ? ` (last: ${last.reason})` : ''}`);
  if (row.error) parts.push(printable(row.error));
  return parts.join(' · ');
}
