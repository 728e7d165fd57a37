/** MCP logging levels (RFC 5424 severities), least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function logLevelRank(level: unknown): number {
  return LOG_LEVELS.indexOf(level as LogLevel);
}

export function isLogLevel(level: unknown): level is LogLevel {
  return logLevelRank(level) !== -1;
}

/** The most verbose of the given levels, or undefined when there are none. */
export function mostVerbose(levels: Iterable<LogLevel>): LogLevel | undefined {
  let best: LogLevel | undefined;
  for (const level of levels) {
    if (best === undefined || logLevelRank(level) < logLevelRank(best)) best = level;
  }
  return best;
}
