import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

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

/** Memory and CPU of a process tree. */
export interface TreeUsage {
  rssBytes: number;
  cpuMs: number;
  processes: number;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** Every process on the machine, from /proc on Linux and `ps` elsewhere. */
export function readProcessTable(): Map<number, ProcessInfo> {
  return process.platform === 'linux' ? readProc() : readPs();
}

function readProc(): Map<number, ProcessInfo> {
  const table = new Map<number, ProcessInfo>();
  const pageSize = readPageSize();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // Exited while we looked.
    }
    // The command name (field 2) may hold spaces and parens: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const ppid = Number(fields[1]);
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rssPages = Number(fields[21]);
    table.set(pid, { pid, ppid, command: readCommand(entry), rss: rssPages * pageSize, cpuMs: ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND });
  }
  return table;
}

function readCommand(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

let cachedPageSize: number | undefined;
function readPageSize(): number {
  if (cachedPageSize !== undefined) return cachedPageSize;
  try {
    cachedPageSize = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;
  } catch {
    cachedPageSize = 4096;
  }
  return cachedPageSize;
}

function readPs(): Map<number, ProcessInfo> {
  const table = new Map<number, ProcessInfo>();
  let output: string;
  try {
    output = execFileSync('ps', ['-axo', 'pid=,ppid=,rss=,time=,args='], { encoding: 'utf8' });
  } catch {
    return table;
  }
  for (const line of output.split('\n')) {
    const [pid, ppid, rss, time, ...args] = line.trim().split(/\s+/);
    if (!pid || !ppid || !rss || !time) continue;
    table.set(Number(pid), { pid: Number(pid), ppid: Number(ppid), command: args.join(' '), rss: Number(rss) * 1024, cpuMs: parseCpuTime(time) });
  }
  return table;
}

/** `[[dd-]hh:]mm:ss[.cc]` to ms. */
function parseCpuTime(text: string): number {
  const [days, rest] = text.includes('-') ? text.split('-') : ['0', text];
  const parts = (rest ?? '').split(':').map(Number);
  let seconds = 0;
  for (const part of parts) seconds = seconds * 60 + part;
  return (Number(days) * 86400 + seconds) * 1000;
}

/** Sums memory and CPU over `root` and all its descendants. */
export function treeUsage(table: Map<number, ProcessInfo>, root: number): TreeUsage | undefined {
  if (!table.has(root)) return undefined;
  const children = new Map<number, number[]>();
  for (const info of table.values()) {
    const list = children.get(info.ppid);
    if (list) list.push(info.pid);
    else children.set(info.ppid, [info.pid]);
  }
  const usage: TreeUsage = { rssBytes: 0, cpuMs: 0, processes: 0 };
  const stack = [root];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const info = table.get(pid);
    if (!info) continue;
    usage.rssBytes += info.rss;
    usage.cpuMs += info.cpuMs;
    usage.processes++;
    for (const child of children.get(pid) ?? []) stack.push(child);
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
