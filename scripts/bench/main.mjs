#!/usr/bin/env node
/**
 * muxd benchmarks: `npm run bench` from the repository root.
 *
 * Starts each target (direct servers, muxd + mux-proxy, and the peers
 * mcp-proxy, mcp-hub and supergateway), drives it with the real SDK Client
 * over loopback only, prints one table (figure and ratio to direct, and the
 * verdict of each target line of the issue) and writes everything to
 * bench-results/latest.json, with a chart of latency and memory beside it
 * (latest.svg). See docs/benchmarks.md.
 *
 * Environment:
 *   BENCH_QUICK=1             a ~2 minute smoke run (fewer calls and clients, shorter phases, a 2 x 2 seed)
 *   BENCH_ONLY=a,b            workloads: latency, pinned, latency-memory, fanin, payload, memory, seed, start, crash,
 *                             and memory-memory (idle memory on server-memory; only when named)
 *   BENCH_TARGETS=a,b         targets (direct always runs: every ratio is taken against it)
 *   BENCH_OUT=FILE            where to write the JSON (default bench-results/latest.json)
 *   BENCH_SKIP_INSTALL=1      do not install the peers (missing ones are n/a)
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { RUN_MARK, sweep } from './lib/processes.mjs';
import { renderChart } from './lib/chart.mjs';
import { checks, table } from './lib/report.mjs';
import { SDK_VERSION } from './lib/sdk.mjs';
import { BENCH_DIR, PEER_BINS, ROOT, TARGETS } from './lib/targets.mjs';
import * as workloads from './lib/workloads.mjs';

const env = process.env;
const QUICK = env['BENCH_QUICK'] === '1';
/** Set in the child that runs the latency workload pinned to one CPU. */
const PINNED_CHILD = env['BENCH_ROLE'] === 'pinned';

/** @type {import('./lib/workloads.mjs').Settings} */
const SETTINGS = QUICK
  ? {
      latencyCalls: 400,
      latencyWarmup: 100,
      latencyBlock: 100,
      faninClients: 8,
      faninSeconds: 1.5,
      payloadCalls: 12,
      payloadBlock: 4,
      payloadKiB: 256,
      memorySessions: 8,
      memoryExtra: 2,
      settleMs: 1000,
      seedSessions: 2,
      seedServers: 2,
      startWarmRuns: 3,
      startColdRuns: 1,
      crashClients: 4,
      crashDeadlineMs: 3000,
    }
  : {
      latencyCalls: 2000,
      latencyWarmup: 300,
      latencyBlock: 250,
      faninClients: 16,
      faninSeconds: 4,
      payloadCalls: 40,
      payloadBlock: 10,
      payloadKiB: 256,
      memorySessions: 8,
      memoryExtra: 4,
      // V8 shrinks idle heaps some seconds after start-up (its memory reducer): measure after it.
      settleMs: 10_000,
      seedSessions: 4,
      seedServers: 8,
      startWarmRuns: 10,
      startColdRuns: 3,
      crashClients: 4,
      crashDeadlineMs: 6000,
    };

/**
 * Workload name (for BENCH_ONLY) -> keys in the results, and how it runs.
 * An optional one runs only when BENCH_ONLY names it.
 */
const WORKLOADS = [
  { name: 'latency', keys: ['latency'], run: [workloads.latency] },
  { name: 'pinned', keys: ['latencyPinned'], run: [pinnedLatency] },
  { name: 'latency-memory', keys: ['latencyMemory'], run: [workloads.latencyMemory] },
  { name: 'fanin', keys: ['fanin'], run: [workloads.fanin] },
  { name: 'payload', keys: ['payloadResult', 'payloadEcho'], run: [workloads.payloadResult, workloads.payloadEcho] },
  { name: 'memory', keys: ['memoryEverything'], run: [workloads.memoryEverything] },
  { name: 'memory-memory', keys: ['memoryMemory'], run: [workloads.memoryMemory], optional: true },
  { name: 'seed', keys: ['seed'], run: [workloads.seed] },
  { name: 'start', keys: ['sessionStart'], run: [workloads.sessionStart] },
  { name: 'crash', keys: ['crash'], run: [workloads.crash] },
];

const startedAt = Date.now();
let counter = 0;
/** @type {import('./lib/targets.mjs').RunContext} */
const run = {
  id: `${process.pid}-${startedAt.toString(36)}`,
  // Short: muxd's sockets live under it.
  tmp: mkdtempSync('/tmp/mxb-'),
  nextId: (prefix) => `${prefix}${++counter}`,
  log: (message) => process.stderr.write(`[bench ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)}s] ${message}\n`),
};

let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  sweep(run.id);
  rmSync(run.tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const name of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(name, () => {
    run.log(`${name}: stopping every process the bench started`);
    cleanup();
    process.exit(130);
  });
}

async function main() {
  const only = listOf(env['BENCH_ONLY']);
  for (const name of only) if (!WORKLOADS.some((w) => w.name === name)) throw new Error(`BENCH_ONLY: unknown workload '${name}' (known: ${WORKLOADS.map((w) => w.name).join(', ')})`);
  const wanted = listOf(env['BENCH_TARGETS']);
  const targets = TARGETS.filter((t) => t.name === 'direct' || wanted.length === 0 || wanted.includes(t.name));
  /** @type {import('./lib/workloads.mjs').Context} */
  const ctx = { run, targets, settings: SETTINGS };

  if (PINNED_CHILD) {
    const result = await workloads.latency(ctx);
    writeFileSync(/** @type {string} */ (env['BENCH_RESULT']), JSON.stringify(result));
    return;
  }

  const install = ensurePeers();
  const selected = WORKLOADS.filter((w) => (only.length === 0 ? !w.optional : only.includes(w.name)));
  run.log(`${QUICK ? 'quick' : 'full'} run: ${selected.map((w) => w.name).join(', ')} on ${targets.map((t) => t.name).join(', ')}`);
  /** @type {Record<string, Record<string, Record<string, unknown>>>} */
  const results = {};
  /** @type {Record<string, number>} */
  const seconds = {};
  for (const workload of selected) {
    const began = performance.now();
    run.log(`workload ${workload.name}`);
    for (const [i, step] of workload.run.entries()) results[/** @type {string} */ (workload.keys[i])] = await step(ctx);
    seconds[workload.name] = Number(((performance.now() - began) / 1000).toFixed(1));
  }

  // Only the target lines whose workloads ran.
  const verdicts = checks(results, targets).filter((c) => results[c.workload] !== undefined);
  const names = targets.map((t) => t.name);
  const rendered = table(results, names, verdicts, SETTINGS);
  const meta = machine(install, seconds);
  const out = env['BENCH_OUT'] ?? join(ROOT, 'bench-results', 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ meta, settings: SETTINGS, workloads: results, checks: verdicts, table: rendered.markdown, notes: rendered.notes }, null, 2)}\n`);
  if (!env['BENCH_OUT']) copyFileSync(out, join(dirname(out), `bench-${new Date(startedAt).toISOString().replaceAll(':', '-').slice(0, 19)}${QUICK ? '-quick' : ''}.json`));
  const chart = await drawChart(out);

  const lines = [
    `muxd benchmarks (${QUICK ? 'quick' : 'full'} run, ${meta.date}; ${meta.nproc} x ${meta.cpu}, Node ${meta.node}; ${meta.totalS} s)`,
    'Each cell: figure (ratio to direct in this run).',
    '',
    rendered.text,
    '',
    ...(rendered.notes.length > 0 ? ['n/a:', ...rendered.notes.map((n) => `  ${n}`), ''] : []),
    'muxd targets:',
    ...verdicts.map((c) => `  ${c.pass === undefined ? 'n/a ' : c.pass ? 'PASS' : 'FAIL'}  ${c.line}: ${c.value}`),
    '',
    `results: ${relative(process.cwd(), out) || out}${chart ? `, chart: ${relative(process.cwd(), chart) || chart}` : ''}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * 1, pinned: the latency workload again in a child bench under `taskset -c 0`,
 * so the client, the target and the server share one CPU (children inherit
 * the affinity). Compare its ratios with each other, not with the unpinned run.
 * @param {import('./lib/workloads.mjs').Context} ctx
 */
async function pinnedLatency(ctx) {
  const taskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' });
  if (taskset.error || taskset.status !== 0) return Object.fromEntries(ctx.targets.map((t) => [t.name, { na: 'taskset not available' }]));
  const file = join(run.tmp, 'pinned.json');
  const child = spawn('taskset', ['-c', '0', process.execPath, join(BENCH_DIR, 'main.mjs')], {
    env: { ...env, BENCH_ROLE: 'pinned', BENCH_RESULT: file, [RUN_MARK]: run.id },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const code = await new Promise((resolve) => child.once('exit', (c) => resolve(c)));
  if (code !== 0 || !existsSync(file)) return Object.fromEntries(ctx.targets.map((t) => [t.name, { na: `pinned run exited with code ${code}` }]));
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * Draws the chart of the results in `file` next to it (same name, .svg).
 * Without Vega (its install failed) the run still counts: the table and the
 * JSON are the results, the chart is their picture.
 * @param {string} file
 * @returns {Promise<string | undefined>} the chart's path, if drawn
 */
async function drawChart(file) {
  const svg = file.replace(/\.json$/, '') + '.svg';
  try {
    writeFileSync(svg, await renderChart(JSON.parse(readFileSync(file, 'utf8'))));
    return svg;
  } catch (error) {
    run.log(`no chart: ${/** @type {Error} */ (error).message}`);
    return undefined;
  }
}

/**
 * Installs the peers into scripts/bench/node_modules on first use (or when
 * its lock file changed). A failure leaves them n/a; it does not stop the bench.
 */
function ensurePeers() {
  const present = Object.values(PEER_BINS).every((bin) => existsSync(bin));
  const marker = join(BENCH_DIR, 'node_modules', '.package-lock.json');
  const fresh = present && existsSync(marker) && statSync(marker).mtimeMs >= statSync(join(BENCH_DIR, 'package-lock.json')).mtimeMs;
  if (fresh) return 'present';
  if (env['BENCH_SKIP_INSTALL'] === '1') return 'skipped';
  run.log('installing the peers (npm ci in scripts/bench)');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: BENCH_DIR,
    // Native modules build against the installed Node headers, as in CI.
    env: { ...env, npm_config_nodedir: env['npm_config_nodedir'] ?? '/usr' },
    stdio: ['ignore', 2, 2],
  });
  if (result.status === 0) return 'installed';
  run.log(`npm ci failed (${result.error?.message ?? `exit ${result.status}`}); the peers will be n/a`);
  return `failed: ${result.error?.message ?? `npm ci exited with ${result.status}`}`;
}

/**
 * Where and with what the figures were measured.
 * @param {string} install
 * @param {Record<string, number>} seconds
 */
function machine(install, seconds) {
  const version = (/** @type {string} */ path) => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')).version;
    } catch {
      return null;
    }
  };
  const git = (/** @type {string[]} */ args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  return {
    date: new Date(startedAt).toISOString(),
    quick: QUICK,
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    kernel: release(),
    node: process.version,
    loadAvgAtEnd: loadavg().map((l) => Number(l.toFixed(2))),
    commit: `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--', 'packages']) ? '+dirty' : ''}`,
    versions: {
      sdk: SDK_VERSION,
      'server-everything': version(join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/package.json')),
      'server-memory': version(join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/package.json')),
      'mcp-proxy': version(join(BENCH_DIR, 'node_modules/mcp-proxy/package.json')),
      'mcp-hub': version(join(BENCH_DIR, 'node_modules/mcp-hub/package.json')),
      supergateway: version(join(BENCH_DIR, 'node_modules/supergateway/package.json')),
    },
    peersInstall: install,
    seconds,
    totalS: Math.round((Date.now() - startedAt) / 1000),
  };
}

/** @param {string | undefined} text */
function listOf(text) {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench: ${/** @type {Error} */ (error).stack ?? String(error)}\n`);
  process.exitCode = 1;
}
// Idle HTTP keep-alive sockets and the like would hold the loop open.
cleanup();
process.exit(process.exitCode ?? 0);
