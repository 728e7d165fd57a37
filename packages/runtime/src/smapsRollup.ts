/** What `/proc/<pid>/smaps_rollup` says of a process's memory. */
export interface SmapsRollup {
  /** Proportional set size: each shared page divided by the processes mapping it, bytes. */
  pssBytes: number;
  /** Resident set size: every page the process maps and has in memory, shared ones whole, bytes. */
  rssBytes: number;
}

/**
 * Parses the text of `/proc/<pid>/smaps_rollup` (Linux 4.14+): the `Pss:`
 * and `Rss:` lines, in kB. Undefined when there is no `Pss:` line (a zombie
 * or a kernel thread reads as empty).
 */
export function parseSmapsRollup(text: string): SmapsRollup | undefined {
  const pss = /^Pss:\s+(\d+) kB$/m.exec(text)?.[1];
  if (pss === undefined) return undefined;
  const rss = /^Rss:\s+(\d+) kB$/m.exec(text)?.[1];
  return { pssBytes: Number(pss) * 1024, rssBytes: Number(rss ?? pss) * 1024 };
}
