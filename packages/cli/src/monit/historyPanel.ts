import type { ReactElement } from 'react';
import type { RunRecord } from '@muxd/protocol';
import { table } from '../format.js';
import { RUN_COLUMNS, runRow } from '../historyRows.js';
import { ui } from './ui.js';

/** The restart history panel's content: loading, the runs, or why there are none. */
export type HistoryState =
  | { name: string; kind: 'loading' }
  | { name: string; kind: 'loaded'; runs: RunRecord[]; databaseError: string | null }
  | { name: string; kind: 'failed'; error: string };

export interface HistoryPanelProps {
  history: HistoryState;
  width: number;
  /** Lines available, title included. */
  height: number;
}

function bodyLines(history: HistoryState): string[] {
  if (history.kind === 'loading') return ['reading history...'];
  if (history.kind === 'failed') return [`cannot read history: ${history.error}`];
  const lines: string[] = [];
  if (history.databaseError) lines.push(`history unavailable: ${history.databaseError}`);
  if (history.runs.length === 0) {
    if (!history.databaseError) lines.push('no runs recorded');
    return lines;
  }
  return [...lines, ...table(RUN_COLUMNS, history.runs.map(runRow)).split('\n')];
}

/** A service's runs, newest first, as `muxctl history <name>` lists them; cut to the lines available. */
export function HistoryPanel({ history, width, height }: HistoryPanelProps): ReactElement {
  const { react: { createElement: h }, ink: { Box, Text } } = ui();
  const lines = bodyLines(history).slice(0, Math.max(0, height - 1));
  return h(
    Box,
    { flexDirection: 'column', width, height },
    h(Text, { bold: true, wrap: 'truncate-end' }, `restart history: ${history.name}  (Esc closes)`),
    ...lines.map((line, index) => h(Text, { key: index, wrap: 'truncate-end' }, line)),
  );
}
