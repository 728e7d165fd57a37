import { execFile } from 'node:child_process';
import type { ProcessInfo } from './processStats.js';

/** ps's output for a machine with tens of thousands of processes fits well within this. */
const MAX_PS_OUTPUT = 64 * 1024 * 1024;
const PS_TIMEOUT_MS = 10_000;

/**
 * Every process as `ps` lists it (macOS and other systems without /proc),
 * through an async `execFile`: the event loop goes on while ps runs. Memory
 * is RSS in bytes: ps has no proportional figure, so a page shared by
 * several processes counts in each. An empty table when ps cannot run.
 */
export function readPsTable(): Promise<Map<number, ProcessInfo>> {
  return new Promise((resolve) => {
    execFile('ps', ['-axo', 'pid=,ppid=,rss=,time=,args='], { encoding: 'utf8', maxBuffer: MAX_PS_OUTPUT, timeout: PS_TIMEOUT_MS }, (error, stdout) => {
      resolve(error ? new Map() : parsePsOutput(stdout));
    });
  });
}

/** Parses `ps -axo pid=,ppid=,rss=,time=,args=` (rss in KiB). */
export function parsePsOutput(output: string): Map<number, ProcessInfo> {
  const table = new Map<number, ProcessInfo>();
  for (const line of output.split('\n')) {
    const [pid, ppid, rss, time, ...args] = line.trim().split(/\s+/);
    if (!pid || !ppid || !rss || !time || !/^\d+$/.test(pid)) continue;
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
