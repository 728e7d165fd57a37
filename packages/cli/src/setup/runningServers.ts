/**
 * MCP servers running right now outside muxd that a host entry starts: the
 * processes setup would fold into one shared child, with their memory.
 */
import { basename } from 'node:path';
import { Runners, parsePackageRunner } from '@muxd/config';
import { readProcessTable, treeUsage } from '@muxd/runtime/processes';
import type { ProcessInfo } from '@muxd/runtime/processes';
import type { ServerSpec } from '@muxd/hosts';
import { isMuxdCommand } from '../commands/doctor.js';

/** One process running a server outside muxd. */
export interface RunningProcess {
  pid: number;
  /** Resident memory, bytes. */
  rssBytes: number;
  /** The program of the process that started it (the host), `?` when unknown. */
  parent: string;
}

/**
 * True when a process command line (arguments joined by spaces) runs
 * `spec`: the same arguments, and the same program, by any path (a host
 * entry says `node`, the process table shows `/usr/bin/node`).
 */
export function runsSpec(command: string, spec: ServerSpec): boolean {
  const expected = [spec.command, ...spec.args].join(' ');
  if (command === expected) return true;
  const title = npmExecTitle(spec);
  if (title !== undefined && command === title) return true;
  const program = command.split(' ', 1)[0] ?? '';
  const rest = command.slice(program.length);
  const expectedRest = expected.slice(spec.command.length);
  return rest === expectedRest && basename(program) === basename(spec.command) && program !== '';
}

/**
 * What an `npx ...` or `npm exec ...` entry's process calls itself: npm
 * sets its title to `npm exec` and the bin (or package) with its
 * arguments, its options left out. Undefined for any other command.
 */
function npmExecTitle(spec: ServerSpec): string | undefined {
  const parsed = parsePackageRunner(spec.command, spec.args);
  if (parsed.kind !== 'runner' || (parsed.command.runner !== Runners.Npx && parsed.command.runner !== Runners.NpmExec)) return undefined;
  const { bin, spec: pkg, args } = parsed.command;
  return ['npm exec', bin ?? pkg, ...args].join(' ');
}

/**
 * For each of `specs` (by name), the processes running it that no muxd
 * started (none among their ancestors) and that are not this process.
 * Reads the process table once; a process that cannot be read is left out.
 */
export async function runningOutsideMuxd(specs: ReadonlyMap<string, ServerSpec>): Promise<Map<string, RunningProcess[]>> {
  // Awaited: the table may be read asynchronously.
  const table: Map<number, ProcessInfo> = await readProcessTable();
  const underMuxd = (info: ProcessInfo): boolean => {
    for (let current = table.get(info.ppid), hops = 0; current && hops < 64; current = table.get(current.ppid), hops++) {
      if (isMuxdCommand(current.command)) return true;
    }
    return false;
  };
  const found = new Map<string, RunningProcess[]>();
  for (const [name, spec] of specs) {
    const processes: RunningProcess[] = [];
    for (const info of table.values()) {
      if (info.pid === process.pid || !runsSpec(info.command, spec) || underMuxd(info)) continue;
      // The whole tree: for npx, the runner and the server it started.
      const rssBytes = treeUsage(table, info.pid)?.memoryBytes ?? info.rss;
      processes.push({ pid: info.pid, rssBytes, parent: table.get(info.ppid)?.command.split(' ')[0] ?? '?' });
    }
    found.set(name, processes);
  }
  return found;
}
