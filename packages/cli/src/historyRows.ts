/** A run as a row of `muxctl history` and of monit's restart history panel. */
import type { RunRecord } from '@muxd/protocol';
import { formatDuration, formatExit, formatTime } from './format.js';

/** The columns `runRow` fills, in its order. */
export const RUN_COLUMNS = ['PID', 'STARTED', 'ENDED', 'RAN', 'EXIT', 'REASON'];

/** One run: its pid, when it started and ended ("running" until it does), how long it ran, how it exited and why. */
export function runRow(run: RunRecord): string[] {
  return [
    run.pid === null ? '-' : String(run.pid),
    formatTime(run.startedAt),
    run.endedAt === null ? 'running' : formatTime(run.endedAt),
    run.endedAt === null ? '-' : formatDuration(run.endedAt - run.startedAt),
    run.endedAt === null ? '-' : formatExit(run),
    run.reason ?? '-',
  ];
}
