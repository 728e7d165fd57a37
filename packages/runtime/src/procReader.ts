import { readFile, readdir, stat } from 'node:fs/promises';
import { mapLimit } from './mapLimit.js';
import type { ProcessInfo } from './processStats.js';
import { parseSmapsRollup } from './smapsRollup.js';

/** `pss`: shared pages divided among the processes sharing them (Linux). `rss`: counted whole in each process. */
export type MemoryKind = 'pss' | 'rss';

/** One process as a sampling pass reads it. */
export interface ProcessSample {
  pid: number;
  ppid: number;
  /** User + system CPU time, ms. */
  cpuMs: number;
  /** PSS where the kernel gives it, else RSS, bytes (0 for a zombie). */
  memoryBytes: number;
  /** Which of the two `memoryBytes` is; null when the process had no memory to read (a zombie). */
  memoryKind: MemoryKind | null;
}

/** What /proc/<pid>/stat says: the parent, CPU time and state. */
export interface ProcStat {
  ppid: number;
  cpuMs: number;
  /** One letter: R running, S sleeping, Z zombie... */
  state: string;
}

/** Linux's USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
/** Files read at once by one pass. */
const PARALLEL_READS = 16;
/** /proc mounts whose kernel has no task/<tid>/children files (built without CONFIG_PROC_CHILDREN). */
const withoutChildrenFiles = new Set<string>();

/** Parses /proc/<pid>/stat; undefined for text that is not one. */
export function parseProcStat(text: string): ProcStat | undefined {
  // The command name (field 2) may hold spaces and parentheses: the fields start after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isSafeInteger(ppid) || !Number.isFinite(ticks)) return undefined;
  return { ppid, cpuMs: (ticks * 1000) / CLOCK_TICKS_PER_SECOND, state: fields[0] ?? '' };
}

/** The pids in a `children` file: space-separated decimal numbers. */
function parsePidList(text: string): number[] {
  return text
    .split(' ')
    .filter((word) => /^\d+$/.test(word))
    .map(Number);
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH';
}

/**
 * Reads Linux's /proc with fs/promises, one process at a time: a process
 * that ends mid-read reads as gone and is skipped. One reader serves one
 * sampling pass: the full scan it falls back on (kernels without
 * task/<tid>/children) is made at most once per reader.
 */
export class ProcReader {
  readonly #root: string;
  #parents: Promise<Map<number, number[]>> | undefined;

  /** `root` is where procfs is mounted (tests point it elsewhere). */
  constructor(root = '/proc') {
    this.#root = root;
  }

  /** The parent, CPU time and state of `pid`; undefined once it is gone. */
  async stat(pid: number): Promise<ProcStat | undefined> {
    try {
      return parseProcStat(await readFile(`${this.#root}/${pid}/stat`, 'utf8'));
    } catch {
      return undefined;
    }
  }

  /** CPU and memory of one process (PSS from smaps_rollup, else RSS from status); undefined once it is gone. */
  async sample(pid: number): Promise<ProcessSample | undefined> {
    const stat = await this.stat(pid);
    if (!stat) return undefined;
    const memory = await this.#memory(pid);
    return memory && { pid, ppid: stat.ppid, cpuMs: stat.cpuMs, ...memory };
  }

  async #memory(pid: number): Promise<Pick<ProcessSample, 'memoryBytes' | 'memoryKind'> | undefined> {
    try {
      const rollup = parseSmapsRollup(await readFile(`${this.#root}/${pid}/smaps_rollup`, 'utf8'));
      if (rollup) return { memoryBytes: rollup.pssBytes, memoryKind: 'pss' };
    } catch (error) {
      if (isGone(error) && !(await this.#exists(pid))) return undefined;
      // A kernel before 4.14 has no smaps_rollup; another user's process is not ours to read: RSS below.
    }
    try {
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`${this.#root}/${pid}/status`, 'utf8'))?.[1];
      return kb === undefined ? { memoryBytes: 0, memoryKind: null } : { memoryBytes: Number(kb) * 1024, memoryKind: 'rss' };
    } catch {
      return undefined;
    }
  }

  async #exists(pid: number): Promise<boolean> {
    try {
      await stat(`${this.#root}/${pid}`);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The direct children of `pid`, from the `children` file of each of its
   * threads; where the kernel has none, from one scan of every process's
   * parent. Undefined once `pid` is gone.
   */
  async children(pid: number): Promise<number[] | undefined> {
    if (!withoutChildrenFiles.has(this.#root)) {
      const fromThreads = await this.#childrenFromThreads(pid);
      if (fromThreads !== 'unsupported') return fromThreads;
      withoutChildrenFiles.add(this.#root);
    }
    if (!(await this.#exists(pid))) return undefined;
    return (await this.#scanParents()).get(pid) ?? [];
  }

  async #childrenFromThreads(pid: number): Promise<number[] | undefined | 'unsupported'> {
    let threads: string[];
    try {
      threads = await readdir(`${this.#root}/${pid}/task`);
    } catch {
      return undefined;
    }
    const lists = await mapLimit(threads, PARALLEL_READS, async (tid) => {
      try {
        return parsePidList(await readFile(`${this.#root}/${pid}/task/${tid}/children`, 'utf8'));
      } catch (error) {
        // A thread that ended since the listing has no children to give.
        return isGone(error) ? null : [];
      }
    });
    if (lists.length > 0 && lists.every((list) => list === null)) {
      // No thread has the file while the process is still there: the kernel does not provide it.
      return (await this.#exists(pid)) ? 'unsupported' : undefined;
    }
    return lists.flatMap((list) => list ?? []);
  }

  /** Every process's children, by parent pid, from one read of each /proc/<pid>/stat. */
  #scanParents(): Promise<Map<number, number[]>> {
    this.#parents ??= (async () => {
      const pids = (await readdir(this.#root)).filter((entry) => /^\d+$/.test(entry)).map(Number);
      const stats = await mapLimit(pids, PARALLEL_READS, (pid) => this.stat(pid));
      const byParent = new Map<number, number[]>();
      pids.forEach((pid, index) => {
        const ppid = stats[index]?.ppid;
        if (ppid === undefined) return;
        const siblings = byParent.get(ppid);
        if (siblings) siblings.push(pid);
        else byParent.set(ppid, [pid]);
      });
      return byParent;
    })();
    return this.#parents;
  }

  /**
   * `root` and its descendants, breadth first, at most `maxProcesses` of
   * them (`capped` says the walk stopped there). A pid met twice (a reused
   * pid, a process reparented mid-walk) is taken once.
   */
  async tree(root: number, maxProcesses: number): Promise<{ pids: number[]; capped: boolean }> {
    const seen = new Set<number>([root]);
    let level = [root];
    let capped = false;
    while (level.length > 0 && !capped) {
      const lists = await mapLimit(level, PARALLEL_READS, (pid) => this.children(pid));
      const next: number[] = [];
      for (const child of lists.flatMap((list) => list ?? [])) {
        if (seen.has(child)) continue;
        if (seen.size >= maxProcesses) {
          capped = true;
          break;
        }
        seen.add(child);
        next.push(child);
      }
      level = next;
    }
    return { pids: [...seen], capped };
  }

  /** Every process on the machine: parent, command line, resident memory (RSS) and CPU. */
  async table(): Promise<Map<number, ProcessInfo>> {
    const pids = (await readdir(this.#root)).filter((entry) => /^\d+$/.test(entry)).map(Number);
    const infos = await mapLimit(pids, PARALLEL_READS, (pid) => this.#info(pid));
    const table = new Map<number, ProcessInfo>();
    for (const info of infos) if (info) table.set(info.pid, info);
    return table;
  }

  async #info(pid: number): Promise<ProcessInfo | undefined> {
    const stat = await this.stat(pid);
    if (!stat) return undefined;
    let command = '';
    let rss = 0;
    try {
      command = (await readFile(`${this.#root}/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ');
      rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`${this.#root}/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      // Ended while we looked, or not ours to read: listed with what was read.
    }
    return { pid, ppid: stat.ppid, command, rss, cpuMs: stat.cpuMs };
  }
}
