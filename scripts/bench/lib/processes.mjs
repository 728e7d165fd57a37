/**
 * Process bookkeeping for the bench: which processes a target runs (found by
 * an environment mark every spawned process inherits, plus the descendants
 * of marked processes, since some peers give their children a fresh
 * environment), their memory from /proc/PID/smaps_rollup, and a synchronous
 * sweep that kills everything the run started, for normal ends and Ctrl-C
 * alike. Linux only: it reads /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createServer } from 'node:net';

/** Every process the run starts carries `MUXD_BENCH_RUN=<run id>`. */
export const RUN_MARK = 'MUXD_BENCH_RUN';
/** Every process of one deployment carries `MUXD_BENCH_DEPLOYMENT=<id>`. */
export const DEPLOYMENT_MARK = 'MUXD_BENCH_DEPLOYMENT';
/** Every MCP server process carries `MUXD_BENCH_SERVER=<server name>`. */
export const SERVER_MARK = 'MUXD_BENCH_SERVER';

/**
 * Live processes: pid -> { ppid, argv }. Zombies are left out: they hold no
 * memory and cannot be signalled into anything.
 * @returns {Map<number, {ppid: number, argv: string[]}>}
 */
export function processTable() {
  const table = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      table.set(Number(entry), { ppid: Number(fields[1]), argv });
    } catch {
      // Gone while we looked.
    }
  }
  return table;
}

/**
 * Pids whose environment holds `name=value`.
 * @param {string} name
 * @param {string} value
 * @param {Map<number, unknown>} table
 * @returns {number[]}
 */
export function markedPids(name, value, table = processTable()) {
  const needle = Buffer.from(`\0${name}=${value}\0`);
  const pids = [];
  for (const pid of table.keys()) {
    try {
      // Each entry ends with a NUL; one in front makes the first entry match too.
      const environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`)]);
      if (environ.includes(needle)) pids.push(pid);
    } catch {
      // Gone, or not ours.
    }
  }
  return pids;
}

/**
 * The given pids and all their live descendants.
 * @param {Iterable<number>} roots
 * @param {Map<number, {ppid: number}>} table
 * @returns {number[]}
 */
export function withDescendants(roots, table = processTable()) {
  const children = new Map();
  for (const [pid, { ppid }] of table) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const seen = new Set();
  const queue = [...roots].filter((pid) => table.has(pid));
  while (queue.length > 0) {
    const pid = /** @type {number} */ (queue.pop());
    if (seen.has(pid)) continue;
    seen.add(pid);
    for (const child of children.get(pid) ?? []) queue.push(child);
  }
  return [...seen].sort((a, b) => a - b);
}

/**
 * Proportional set size of one process, in KiB (0 if it is gone).
 * @param {number} pid
 */
export function pssKiB(pid) {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Total PSS of a set of processes, in KiB, and how many there are.
 * @param {number[]} pids
 */
export function memoryOf(pids) {
  let pss = 0;
  let count = 0;
  for (const pid of pids) {
    const kib = pssKiB(pid);
    if (kib > 0) {
      pss += kib;
      count++;
    }
  }
  return { pssKiB: pss, processes: count };
}

/**
 * Kills every process the run started: marked ones, their descendants, and
 * our own descendants. Synchronous, so it also runs from `process.on('exit')`.
 * @param {string} runId
 * @returns {number} how many processes were signalled
 */
export function sweep(runId) {
  const table = processTable();
  const roots = [...markedPids(RUN_MARK, runId, table), ...withDescendants([process.pid], table)];
  let killed = 0;
  for (const pid of withDescendants(roots, table)) {
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // Already gone.
    }
  }
  return killed;
}

/**
 * SIGKILLs the given pids (and returns when they are no longer alive, or after `timeoutMs`).
 * @param {number[]} pids
 */
export async function killAndWait(pids, timeoutMs = 5000) {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const table = processTable();
    if (pids.every((pid) => !table.has(pid))) return;
    await delay(10);
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Resolves true once something accepts a connection on the TCP port or Unix socket.
 * @param {number | string} where a port on 127.0.0.1, or a socket path
 */
export function canConnect(where) {
  return new Promise((resolve) => {
    const socket = typeof where === 'number' ? connect(where, '127.0.0.1') : connect(where);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Polls `probe` until it returns a truthy value; throws after `timeoutMs` naming `what`.
 * @template T
 * @param {string} what
 * @param {() => T | Promise<T>} probe
 * @returns {Promise<T>}
 */
export async function waitFor(what, probe, timeoutMs = 30_000, intervalMs = 10) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}

/** @param {number} ms */
export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
