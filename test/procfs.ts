/**
 * The process table as the tests read it, from Linux's /proc: each process's
 * state, parent and process group, command line and environment, open file
 * descriptors and memory. A process may end between two reads: readers of
 * one process return undefined (or false) once it is gone, and scans skip it.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** What /proc/<pid>/stat says of a process. */
export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  /** One letter: R running, S sleeping, Z zombie, X dead... */
  state: string;
}

/** Every pid in /proc now, zombies included, in no particular order. */
export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

/** The state, parent and process group of `pid`; undefined once it is gone. */
export function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may itself hold spaces and parentheses: the fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(fields[1]), pgrp: Number(fields[2]), state: fields[0] as string };
  } catch {
    return undefined;
  }
}

function isLive(stat: ProcStat): boolean {
  return stat.state !== 'Z' && stat.state !== 'X';
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && isLive(stat);
}

/** Every live (non-zombie) process. */
export function liveProcesses(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const pid of allPids()) {
    const stat = readStat(pid);
    if (stat && isLive(stat)) stats.push(stat);
  }
  return stats;
}

/** The `NUL`-separated entries of a /proc file of `pid`; undefined when it is gone or not ours to read. */
function readEntries(pid: number, file: 'cmdline' | 'environ'): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}

/** The arguments `pid` runs with, its executable first (empty for a zombie). */
export function readCmdline(pid: number): string[] | undefined {
  return readEntries(pid, 'cmdline');
}

/** The environment `pid` started with, as `NAME=value` entries. */
export function readEnviron(pid: number): string[] | undefined {
  return readEntries(pid, 'environ');
}

/** Live processes whose environment holds any of `entries` (each `NAME=value`), by pid. */
export function processesWithEnv(...entries: string[]): number[] {
  return allPids()
    .filter((pid) => (readEnviron(pid)?.some((entry) => entries.includes(entry)) ?? false) && isAlive(pid))
    .sort((a, b) => a - b);
}

/** Live members of process group `pgid`, by pid. */
export function processGroup(pgid: number): number[] {
  return liveProcesses()
    .filter((stat) => stat.pgrp === pgid)
    .map((stat) => stat.pid)
    .sort((a, b) => a - b);
}

/** Open file descriptors of `pid`. Throws once it is gone. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident memory of `pid`, bytes. Throws once it is gone. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  return Number(kb) * 1024;
}
