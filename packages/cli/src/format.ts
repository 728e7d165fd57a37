/** Text output helpers: tables, durations, sizes. */

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${minutes % 60 ? `${minutes % 60}m` : ''}`;
  return `${Math.floor(hours / 24)}d`;
}

export function formatMemory(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '-';
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)}K`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)}M`;
  return `${(bytes / 1024 ** 3).toFixed(2)}G`;
}

/** Bytes as whole MiB ("142 MiB"), with one decimal under 10 MiB ("3.4 MiB"). */
export function formatMiB(bytes: number): string {
  const mib = bytes / 1024 ** 2;
  return `${mib === 0 ? 0 : mib < 10 ? mib.toFixed(1) : Math.round(mib)} MiB`;
}

export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** How a child ended: "signal SIGKILL", "exit 1", or the spawn error. */
export function formatExit(exit: { code: number | null; signal: string | null; error?: string | null | undefined } | null | undefined): string {
  if (!exit) return '-';
  if (exit.signal) return exit.signal;
  if (exit.code !== null) return `exit ${exit.code}`;
  return exit.error ? 'spawn failed' : '-';
}

/** Left-aligned columns separated by two spaces. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
