/**
 * Memory and CPU of processes, read without blocking the event loop. On
 * Linux only the trees asked about are read, from /proc (`ProcReader`), and
 * memory is PSS where the kernel gives it (smaps_rollup); elsewhere `ps`
 * runs through an async execFile and memory is RSS.
 */
import { mapLimit } from './mapLimit.js';
import { ProcReader } from './procReader.js';
import type { MemoryKind, ProcessSample } from './procReader.js';
import { readPsTable } from './psTable.js';

export { parseProcStat, ProcReader } from './procReader.js';
export type { MemoryKind, ProcessSample, ProcStat } from './procReader.js';
export { parseSmapsRollup } from './smapsRollup.js';
export type { SmapsRollup } from './smapsRollup.js';

/** One process as read from the OS. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Command line, arguments joined by spaces ('' when it cannot be read). */
  command: string;
  /** Resident set size, bytes. */
  rss: number;
  /** User + system CPU time, ms. */
  cpuMs: number;
}

/** Memory and CPU of a process tree (or of one process). */
export interface TreeUsage {
  /** PSS (Linux with smaps_rollup) or RSS, summed over the processes, bytes. */
  memoryBytes: number;
  /** `rss` as soon as one process of the tree could only be read as RSS. */
  memoryKind: MemoryKind;
  /** User + system CPU time, ms. */
  cpuMs: number;
  processes: number;
  /** The processes counted, root first. */
  pids: number[];
  /** The tree had more than `maxProcesses`: the rest is not counted. */
  capped: boolean;
}

export interface SampleOptions {
  /** Processes counted per tree at most. Default 1024. */
  maxProcesses?: number;
  /** Where procfs is mounted (Linux). Default `/proc`. */
  procRoot?: string;
}

const DEFAULT_MAX_PROCESSES = 1024;
/** Trees walked at once. */
const PARALLEL_TREES = 4;
const PARALLEL_READS = 16;

const usePs = (): boolean => process.platform !== 'linux';

/**
 * Every process on the machine (for `muxctl doctor`, which looks for MCP
 * servers anywhere), from /proc on Linux and `ps` elsewhere. Memory is RSS.
 */
export function readProcessTable(options: Pick<SampleOptions, 'procRoot'> = {}): Promise<Map<number, ProcessInfo>> {
  return usePs() ? readPsTable() : new ProcReader(options.procRoot).table();
}

/**
 * The usage of each of `roots` with all its descendants, keyed by root. A
 * root that is gone has no entry; a descendant that ends mid-read is
 * skipped. On Linux only these trees are read; elsewhere one `ps`.
 */
export async function sampleTrees(roots: readonly number[], options: SampleOptions = {}): Promise<Map<number, TreeUsage>> {
  const maxProcesses = options.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  const result = new Map<number, TreeUsage>();
  const unique = [...new Set(roots)];
  if (unique.length === 0) return result;
  if (usePs()) {
    const table = await readPsTable();
    for (const root of unique) {
      const usage = treeUsage(table, root, maxProcesses);
      if (usage) result.set(root, usage);
    }
    return result;
  }
  const reader = new ProcReader(options.procRoot);
  const usages = await mapLimit(unique, PARALLEL_TREES, async (root) => {
    const { pids, capped } = await reader.tree(root, maxProcesses);
    const samples = await mapLimit(pids, PARALLEL_READS, (pid) => reader.sample(pid));
    return samples[0] ? { ...sum(samples), capped } : undefined;
  });
  unique.forEach((root, index) => {
    const usage = usages[index];
    if (usage) result.set(root, usage);
  });
  return result;
}

/** The usage of each of `pids` alone (not its children), keyed by pid; a pid that is gone has no entry. */
export async function sampleProcesses(pids: readonly number[], options: Pick<SampleOptions, 'procRoot'> = {}): Promise<Map<number, TreeUsage>> {
  const result = new Map<number, TreeUsage>();
  const unique = [...new Set(pids)];
  if (unique.length === 0) return result;
  if (usePs()) {
    const table = await readPsTable();
    for (const pid of unique) {
      const info = table.get(pid);
      if (info) result.set(pid, { memoryBytes: info.rss, memoryKind: 'rss', cpuMs: info.cpuMs, processes: 1, pids: [pid], capped: false });
    }
    return result;
  }
  const reader = new ProcReader(options.procRoot);
  const samples = await mapLimit(unique, PARALLEL_READS, (pid) => reader.sample(pid));
  for (const sample of samples) if (sample) result.set(sample.pid, { ...sum([sample]), capped: false });
  return result;
}

function sum(samples: ReadonlyArray<ProcessSample | undefined>): Omit<TreeUsage, 'capped'> {
  const usage: Omit<TreeUsage, 'capped'> = { memoryBytes: 0, memoryKind: 'pss', cpuMs: 0, processes: 0, pids: [] };
  for (const sample of samples) {
    if (!sample) continue;
    usage.memoryBytes += sample.memoryBytes;
    usage.cpuMs += sample.cpuMs;
    usage.processes++;
    usage.pids.push(sample.pid);
    if (sample.memoryKind === 'rss') usage.memoryKind = 'rss';
  }
  return usage;
}

/** Sums RSS and CPU over `root` and its descendants in a whole-table read (`ps`), at most `maxProcesses`. */
export function treeUsage(table: Map<number, ProcessInfo>, root: number, maxProcesses = DEFAULT_MAX_PROCESSES): TreeUsage | undefined {
  if (!table.has(root)) return undefined;
  const children = new Map<number, number[]>();
  for (const info of table.values()) {
    const list = children.get(info.ppid);
    if (list) list.push(info.pid);
    else children.set(info.ppid, [info.pid]);
  }
  const usage: TreeUsage = { memoryBytes: 0, memoryKind: 'rss', cpuMs: 0, processes: 0, pids: [], capped: false };
  const queue = [root];
  const seen = new Set<number>();
  for (let index = 0; index < queue.length; index++) {
    const pid = queue[index] as number;
    if (seen.has(pid)) continue;
    const info = table.get(pid);
    if (!info) continue;
    if (usage.processes >= maxProcesses) {
      usage.capped = true;
      break;
    }
    seen.add(pid);
    usage.memoryBytes += info.rss;
    usage.cpuMs += info.cpuMs;
    usage.processes++;
    usage.pids.push(pid);
    for (const child of children.get(pid) ?? []) queue.push(child);
  }
  return usage;
}

/**
 * CPU percentages between successive samples of the same trees. The first
 * sample of a tree averages over its life.
 */
export class CpuSampler {
  readonly #last = new Map<string, { at: number; cpuMs: number }>();

  percent(key: string, cpuMs: number, startedAt: number, now = Date.now()): number {
    const previous = this.#last.get(key);
    this.#last.set(key, { at: now, cpuMs });
    const since = previous && previous.cpuMs <= cpuMs ? previous : { at: startedAt, cpuMs: 0 };
    const elapsed = now - since.at;
    return elapsed > 0 ? Math.max(0, ((cpuMs - since.cpuMs) / elapsed) * 100) : 0;
  }

  forget(key: string): void {
    this.#last.delete(key);
  }

  /** Drops every tree not in `keys` (children that have exited), so the table stays bounded. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.#last.keys()) if (!keys.has(key)) this.#last.delete(key);
  }
}
