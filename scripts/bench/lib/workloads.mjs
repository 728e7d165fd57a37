/**
 * The workloads. Each takes the run's context and returns, per target name,
 * either its figures or `{ na: reason }`; none of them decides pass or fail
 * (report.mjs does). Times are milliseconds from `performance.now()`,
 * memory is PSS in MiB from /proc/PID/smaps_rollup.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { delay, killAndWait, memoryOf } from './processes.mjs';
import { deploy, everythingServer, memoryServer } from './targets.mjs';

/**
 * @typedef {import('./targets.mjs').Target} Target
 * @typedef {import('./targets.mjs').Deployment} Deployment
 * @typedef {import('./targets.mjs').Session} Session
 * @typedef {import('./targets.mjs').ServerSpec} ServerSpec
 * @typedef {Record<string, Record<string, unknown>>} WorkloadResult target name -> figures, or { na }
 *
 * @typedef {object} Context
 * @property {import('./targets.mjs').RunContext} run
 * @property {Target[]} targets in order, direct first
 * @property {Settings} settings
 *
 * @typedef {object} Settings
 * @property {number} latencyCalls
 * @property {number} latencyWarmup
 * @property {number} latencyBlock calls per target before moving to the next (targets interleave to cancel drift)
 * @property {number} faninClients
 * @property {number} faninSeconds
 * @property {number} payloadCalls
 * @property {number} payloadBlock
 * @property {number} payloadKiB
 * @property {number} memorySessions
 * @property {number} memoryExtra sessions added to measure the marginal PSS (averaged)
 * @property {number} settleMs
 * @property {number} seedSessions
 * @property {number} seedServers
 * @property {number} startWarmRuns
 * @property {number} startColdRuns
 * @property {number} crashClients
 * @property {number} crashDeadlineMs
 */

const MiB = 1024;

// ------------------------------------------------------------------ helpers

/**
 * Percentile by nearest rank.
 * @param {number[]} sorted ascending
 * @param {number} p 0..100
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return /** @type {number} */ (sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]);
}

/** @param {number[]} values */
function median(values) {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** @param {number} value @param {number} digits */
const round = (value, digits = 3) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : value);

/** @param {unknown} error */
function reason(error) {
  const text = error instanceof Error ? error.message : String(error);
  // Peers answer errors as whole HTML pages: keep the line that says what happened.
  const pre = /<pre>([^<]*)/.exec(text)?.[1];
  const code = /** @type {{ code?: unknown }} */ (error)?.code;
  const status = /HTTP (\d{3})/.exec(text)?.[0] ?? (typeof code === 'number' && code >= 400 && code < 600 ? `HTTP ${code}` : '');
  return (pre ? `${status ? `${status}: ` : ''}${pre}` : text).replace(/\s+/g, ' ').trim().slice(0, 160);
}

/**
 * Runs `fn` on a deployment of `target` and always stops it.
 * @template T
 * @param {Context} ctx
 * @param {Target} target
 * @param {ServerSpec[]} servers
 * @param {(dep: Deployment) => Promise<T>} fn
 * @param {{ cold?: boolean }} [options]
 */
async function withDeployment(ctx, target, servers, fn, options) {
  const dep = await deploy(target, ctx.run, servers, options);
  try {
    return await fn(dep);
  } finally {
    await dep.stop();
  }
}

/**
 * Runs `fn` for each target in turn; a target that cannot run, or fails,
 * gets `{ na: reason }` and the others go on.
 * @param {Context} ctx
 * @param {string} label
 * @param {(target: Target) => Promise<Record<string, unknown>>} fn
 * @returns {Promise<WorkloadResult>}
 */
async function eachTarget(ctx, label, fn) {
  /** @type {WorkloadResult} */
  const out = {};
  for (const target of ctx.targets) {
    if (target.reference || (target.seedOnly && label !== 'seed')) continue;
    const missing = target.unavailable();
    if (missing) {
      out[target.name] = { na: missing };
      continue;
    }
    const started = performance.now();
    try {
      out[target.name] = await fn(target);
    } catch (error) {
      out[target.name] = { na: reason(error) };
    }
    ctx.run.log(`  ${label} ${target.name}: ${summary(out[target.name])} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  return out;
}

/** @param {Record<string, unknown> | undefined} figures */
function summary(figures) {
  if (!figures) return '';
  if ('na' in figures) return `n/a: ${figures['na']}`;
  return Object.entries(figures)
    .filter(([, v]) => typeof v !== 'object')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/**
 * Opens `count` sessions on `server`, `parallel` at a time, each making one call.
 * @param {Deployment} dep
 * @param {string} server
 * @param {number} count
 */
async function openSessions(dep, server, count, parallel = 4) {
  /** @type {Session[]} */
  const sessions = [];
  for (let i = 0; i < count; i += parallel) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(parallel, count - i) }, async () => {
        const session = await dep.connect(server);
        await session.call('warm-up');
        return session;
      }),
    );
    sessions.push(...batch);
  }
  return sessions;
}

/**
 * Total PSS and process count of a deployment once idle: a first sample
 * after one second, and the figure itself after `settleMs` (Node processes
 * shrink their heaps some seconds after start-up), the median of three
 * samples 200 ms apart.
 * @param {Deployment} dep
 * @param {number} settleMs
 */
async function settledMemory(dep, settleMs) {
  const began = performance.now();
  await delay(Math.min(1000, settleMs));
  const early = memoryOf(dep.processes());
  await delay(Math.max(0, settleMs - (performance.now() - began)));
  const samples = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await delay(200);
    samples.push(memoryOf(dep.processes()));
  }
  samples.sort((a, b) => a.pssKiB - b.pssKiB);
  const settled = /** @type {{ pssKiB: number, processes: number }} */ (samples[1]);
  return { ...settled, earlyPssKiB: early.pssKiB };
}

/**
 * Sequential calls on one session per target, targets interleaved in blocks
 * so that drift on a shared machine hits them alike.
 * @param {Context} ctx
 * @param {string} label
 * @param {ServerSpec} server
 * @param {{ calls: number, warmup: number, block: number, message: string, bytes?: boolean, reference?: boolean }} plan
 * @returns {Promise<WorkloadResult>}
 */
async function interleaved(ctx, label, server, plan) {
  /** @type {WorkloadResult} */
  const out = {};
  /** @type {{ target: Target, dep: Deployment, session: Session, samples: number[], bytes: number, wrong: number, errors: number, error?: string }[]} */
  const live = [];
  try {
    for (const target of ctx.targets) {
      if ((target.reference && !plan.reference) || target.seedOnly) continue;
      const missing = target.unavailable();
      if (missing) {
        out[target.name] = { na: missing };
        continue;
      }
      /** @type {Deployment | undefined} */
      let dep;
      try {
        dep = await deploy(target, ctx.run, [server]);
        const session = await dep.connect(server.name);
        for (let i = 0; i < plan.warmup; i++) await session.call(plan.message);
        live.push({ target, dep, session, samples: [], bytes: 0, wrong: 0, errors: 0 });
      } catch (error) {
        out[target.name] = { na: reason(error) };
        await dep?.stop();
      }
    }
    const expected = server.expect?.(plan.message);
    const rounds = Math.ceil(plan.calls / plan.block);
    for (let round = 0; round < rounds; round++) {
      // Rotate who goes first, so no target always runs right after the same neighbour.
      for (let k = 0; k < live.length; k++) {
        const entry = /** @type {(typeof live)[number]} */ (live[(round + k) % live.length]);
        if (entry.error) continue;
        for (let i = 0; i < plan.block; i++) {
          const started = performance.now();
          try {
            if (plan.bytes) {
              const result = await entry.session.callResult(plan.message);
              entry.samples.push(performance.now() - started);
              entry.bytes += JSON.stringify(result).length;
            } else {
              const text = await entry.session.call(plan.message);
              entry.samples.push(performance.now() - started);
              if (expected !== undefined && text !== expected) entry.wrong++;
            }
          } catch (error) {
            entry.errors++;
            if (entry.errors >= 3) entry.error = reason(error);
          }
        }
      }
    }
    for (const entry of live) {
      if (entry.error && entry.samples.length === 0) {
        out[entry.target.name] = { na: entry.error };
        continue;
      }
      const sorted = [...entry.samples].sort((a, b) => a - b);
      const totalMs = sorted.reduce((a, b) => a + b, 0);
      /** @type {Record<string, unknown>} */
      const figures = {
        calls: sorted.length,
        p50Ms: round(percentile(sorted, 50)),
        p90Ms: round(percentile(sorted, 90)),
        p99Ms: round(percentile(sorted, 99)),
        meanMs: round(totalMs / sorted.length),
        errors: entry.errors,
        wrong: entry.wrong,
      };
      if (plan.bytes) {
        figures['resultKiB'] = round(entry.bytes / sorted.length / 1024, 1);
        figures['mbPerS'] = round(entry.bytes / 1e6 / (totalMs / 1000), 2);
      }
      out[entry.target.name] = figures;
      ctx.run.log(`  ${label} ${entry.target.name}: ${summary(figures)}`);
    }
  } finally {
    await Promise.all(live.map((entry) => entry.dep.stop()));
  }
  return out;
}

// ---------------------------------------------------------------- workloads

/**
 * 1. One client, sequential `echo` calls after warm-up.
 * @param {Context} ctx
 */
export function latency(ctx) {
  const { latencyCalls: calls, latencyWarmup: warmup, latencyBlock: block } = ctx.settings;
  return interleaved(ctx, 'latency', everythingServer(), { calls, warmup, block, message: 'hello', reference: true });
}

/**
 * 1b. The same on server-memory's `read_graph` (an empty graph: a file read per call).
 * @param {Context} ctx
 */
export function latencyMemory(ctx) {
  const { latencyCalls, latencyWarmup, latencyBlock } = ctx.settings;
  const server = memoryServer('memory', join(ctx.run.tmp, 'latency-memory.jsonl'));
  return interleaved(ctx, 'latency-memory', server, {
    calls: Math.ceil(latencyCalls / 3),
    warmup: latencyWarmup,
    block: Math.ceil(latencyBlock / 3),
    message: '',
    reference: true,
  });
}

/**
 * 2. Fan-in: N clients calling concurrently, each its own unique messages, for
 * a fixed time; an answer whose text is not the echo of what that client sent
 * is counted as delivered to the wrong client.
 * @param {Context} ctx
 */
export function fanin(ctx) {
  const { faninClients: clients, faninSeconds: seconds } = ctx.settings;
  const server = everythingServer();
  return eachTarget(ctx, 'fan-in', (target) =>
    withDeployment(ctx, target, [server], async (dep) => {
      const sessions = await openSessions(dep, server.name, clients);
      /** @param {number} until */
      const drive = async (until, record = false) => {
        /** @type {number[]} */
        const samples = [];
        let wrong = 0;
        let errors = 0;
        /** @type {string | undefined} */
        let firstError;
        await Promise.all(
          sessions.map(async (session, client) => {
            for (let seq = 0; performance.now() < until; seq++) {
              const message = `client-${client}-call-${seq}-${Math.random().toString(36).slice(2, 10)}`;
              const started = performance.now();
              try {
                const text = await session.call(message);
                if (record) samples.push(performance.now() - started);
                if (text !== `Echo: ${message}`) wrong++;
              } catch (error) {
                errors++;
                firstError ??= reason(error);
                if (session.closed()) return;
              }
            }
          }),
        );
        return { samples, wrong, errors, firstError };
      };
      await drive(performance.now() + Math.min(1000, seconds * 300));
      const started = performance.now();
      const { samples, wrong, errors, firstError } = await drive(started + seconds * 1000, true);
      const elapsedS = (performance.now() - started) / 1000;
      const sorted = samples.sort((a, b) => a - b);
      return {
        clients,
        calls: sorted.length,
        callsPerS: round(sorted.length / elapsedS, 1),
        p50Ms: round(percentile(sorted, 50)),
        p99Ms: round(percentile(sorted, 99)),
        wrong,
        errors,
        ...(firstError ? { firstError } : {}),
      };
    }),
  );
}

/**
 * 3a. Large results: `read_graph` on a server-memory graph sized so that each
 * result (text plus structuredContent) is about `payloadKiB`; requests are small.
 * @param {Context} ctx
 */
export function payloadResult(ctx) {
  const { payloadCalls: calls, payloadBlock: block, payloadKiB } = ctx.settings;
  const file = join(ctx.run.tmp, 'payload-memory.jsonl');
  // The text is the graph pretty-printed and structuredContent carries it again: half each.
  const observations = Array.from({ length: Math.round(payloadKiB / 8) }, (_, i) => `${i}:`.padEnd(4000, 'x'));
  writeFileSync(file, `${JSON.stringify({ type: 'entity', name: 'payload', entityType: 'blob', observations })}\n`);
  return interleaved(ctx, 'payload-result', memoryServer('payload', file), { calls, warmup: 3, block, message: '', bytes: true });
}

/**
 * 3b. Large messages both ways: `echo` of a `payloadKiB` message.
 * @param {Context} ctx
 */
export function payloadEcho(ctx) {
  const { payloadCalls: calls, payloadBlock: block, payloadKiB } = ctx.settings;
  return interleaved(ctx, 'payload-echo', everythingServer(), { calls, warmup: 3, block, message: 'x'.repeat(payloadKiB * 1024), bytes: true });
}

/**
 * 4. Memory: N idle sessions on one server; total PSS of every process the
 * target runs once idle, their count, and the marginal PSS of one more
 * session: `memoryExtra` more sessions are opened and the total is taken
 * again one second later, against a sample taken just before, so that V8
 * shrinking older heaps in between does not blur it (new processes are
 * measured before their own heaps shrink: an upper bound).
 * @param {Context} ctx
 * @param {ServerSpec} server
 * @param {string} label
 */
function memoryOn(ctx, server, label) {
  const { memorySessions: sessions, memoryExtra: extra, settleMs } = ctx.settings;
  return eachTarget(ctx, label, (target) =>
    withDeployment(ctx, target, [server], async (dep) => {
      await openSessions(dep, server.name, sessions);
      const base = await settledMemory(dep, settleMs);
      const before = memoryOf(dep.processes());
      await openSessions(dep, server.name, extra);
      await delay(1000);
      const after = memoryOf(dep.processes());
      return {
        sessions,
        pssMiB: round(base.pssKiB / MiB, 1),
        processes: base.processes,
        marginalMiB: round((after.pssKiB - before.pssKiB) / extra / MiB, 2),
        marginalProcesses: round((after.processes - before.processes) / extra, 2),
        earlyPssMiB: round(base.earlyPssKiB / MiB, 1),
        settleS: settleMs / 1000,
      };
    }),
  );
}

/** @param {Context} ctx */
export function memoryEverything(ctx) {
  return memoryOn(ctx, everythingServer(), 'memory-everything');
}

/** @param {Context} ctx */
export function memoryMemory(ctx) {
  return memoryOn(ctx, memoryServer('memory', join(ctx.run.tmp, 'memory-idle.jsonl')), 'memory-memory');
}

/**
 * The seed scenario's servers: half server-everything, half server-memory,
 * each a distinct configuration, launched as hosts do: `npx <package>` from
 * the repository root, where the packages are installed.
 * @param {Context} ctx
 */
export function seedServers(ctx) {
  const count = ctx.settings.seedServers;
  // No '-' in the names: mcp-hub 4.2.1 fails every call to a server whose name has one ("key is not defined").
  return Array.from({ length: count }, (_, i) =>
    i % 2 === 0
      ? everythingServer(`everything${i / 2 + 1}`, { npx: true, env: { BENCH_INSTANCE: String(i) } })
      : memoryServer(`memory${(i + 1) / 2}`, join(ctx.run.tmp, `seed-memory-${i}.jsonl`), { npx: true }),
  );
}

/**
 * 5. The seed scenario: S sessions x M servers (4 x 8 by default), each
 * session connected to every server and having called each once.
 * @param {Context} ctx
 */
export function seed(ctx) {
  const { seedSessions: sessionCount, settleMs } = ctx.settings;
  const servers = seedServers(ctx);
  return eachTarget(ctx, 'seed', (target) =>
    withDeployment(ctx, target, servers, async (dep) => {
      const started = performance.now();
      // Sessions start one after another; each starts all its servers at once, as hosts do.
      for (let s = 0; s < sessionCount; s++) {
        if (target.aggregates) {
          // A host reaches every server through one connection to the hub.
          const first = await dep.connect(/** @type {ServerSpec} */ (servers[0]).name);
          await Promise.all(servers.map((server) => first.forServer(server).call('warm-up')));
          continue;
        }
        await Promise.all(
          servers.map(async (server) => {
            const session = await dep.connect(server.name);
            await session.call('warm-up');
          }),
        );
      }
      const setupS = (performance.now() - started) / 1000;
      const memory = await settledMemory(dep, settleMs);
      return {
        sessions: sessionCount,
        servers: servers.length,
        pssMiB: round(memory.pssKiB / MiB, 1),
        processes: memory.processes,
        earlyPssMiB: round(memory.earlyPssKiB / MiB, 1),
        setupS: round(setupS, 1),
        settleS: settleMs / 1000,
      };
    }),
  );
}

/**
 * 6. Session start: from spawning the host command (or, for HTTP peers,
 * opening the connection) to the `initialize` answer. Warm: a new session
 * while the server already runs for another one; cold: nothing running.
 * @param {Context} ctx
 */
export async function sessionStart(ctx) {
  const { startWarmRuns: warmRuns, startColdRuns: coldRuns } = ctx.settings;
  const server = everythingServer();
  // The floor of any session that starts a Node process (direct's server, mux-proxy), on this machine now.
  const nodeStart = [];
  for (let i = 0; i < warmRuns; i++) nodeStart.push(await timeNodeStart());
  const nodeStartMs = round(median(nodeStart), 1);
  ctx.run.log(`  node -e 0: ${nodeStartMs} ms (median of ${warmRuns})`);
  return eachTarget(ctx, 'session-start', async (target) => {
    const warm = await withDeployment(ctx, target, [server], async (dep) => {
      const first = await dep.connect(server.name);
      await first.call('warm-up');
      const samples = [];
      for (let i = 0; i < warmRuns; i++) {
        const started = performance.now();
        const session = await dep.connect(server.name);
        samples.push(performance.now() - started);
        await session.call('check');
        await session.close();
      }
      return samples;
    });
    const cold = [];
    for (let i = 0; i < coldRuns; i++) {
      const started = performance.now();
      const ms = await withDeployment(
        ctx,
        target,
        [server],
        async (dep) => {
          await dep.connect(server.name);
          return performance.now() - started;
        },
        { cold: true },
      );
      cold.push(ms);
    }
    const sortedWarm = [...warm].sort((a, b) => a - b);
    return {
      warmMs: round(median(warm), 1),
      warmP90Ms: round(percentile(sortedWarm, 90), 1),
      warmMaxMs: round(sortedWarm[sortedWarm.length - 1] ?? Number.NaN, 1),
      coldMs: round(median(cold), 1),
      warmRuns,
      coldRuns,
      ...(target.spawnsPerSession ? { nodeStartMs } : {}),
    };
  });
}

/** Milliseconds from spawning `node -e 0` to its exit. */
async function timeNodeStart() {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  return performance.now() - started;
}

/**
 * How long `server` takes from spawn to its answer to `initialize`: the floor
 * of any recovery that must start a new copy of it.
 * @param {ServerSpec} server
 */
async function timeServerStart(server) {
  const started = performance.now();
  const child = spawn(server.command, server.args, { cwd: server.cwd, stdio: ['pipe', 'pipe', 'ignore'] });
  try {
    const answered = new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`server exited with code ${code} before answering initialize`)));
      child.stdout.once('data', resolve);
    });
    const params = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '0' } };
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params })}\n`);
    await answered;
    return performance.now() - started;
  } finally {
    await killAndWait([/** @type {number} */ (child.pid)]);
  }
}

/**
 * 7. Crash recovery: SIGKILL the server under N connected clients (for
 * direct and per-session peers, every client's server), then each client
 * retries its next call on the same connection until one succeeds. Also the
 * server's own start (median of 3), which no recovery can beat.
 * @param {Context} ctx
 */
export async function crash(ctx) {
  const { crashClients: clients, crashDeadlineMs: deadlineMs } = ctx.settings;
  const server = everythingServer();
  const starts = [];
  for (let i = 0; i < 3; i++) starts.push(await timeServerStart(server));
  const serverStartMs = round(median(starts), 0);
  ctx.run.log(`  server-everything, spawn to initialize answer: ${serverStartMs} ms (median of 3)`);
  return eachTarget(ctx, 'crash', (target) =>
    withDeployment(ctx, target, [server], async (dep) => {
      const sessions = await openSessions(dep, server.name, clients);
      const victims = dep.serverPids(server.name);
      if (victims.length === 0) throw new Error('found no server process to kill');
      const killedAt = performance.now();
      await killAndWait(victims);
      /** @type {(number | string)[]} */
      const outcomes = await Promise.all(
        sessions.map(async (session, i) => {
          /** @type {string} */
          let last = 'no attempt';
          while (performance.now() - killedAt < deadlineMs) {
            if (session.closed()) return `connection closed (${last})`;
            try {
              const text = await session.call(`after-crash-${i}`, { timeout: 3000 });
              if (text === `Echo: after-crash-${i}`) return performance.now() - killedAt;
              last = 'wrong answer';
            } catch (error) {
              last = reason(error);
            }
            await delay(25);
          }
          return `no success within ${deadlineMs} ms (${last})`;
        }),
      );
      const times = /** @type {number[]} */ (outcomes.filter((o) => typeof o === 'number')).sort((a, b) => a - b);
      const failures = /** @type {string[]} */ (outcomes.filter((o) => typeof o === 'string'));
      return {
        clients,
        killed: victims.length,
        recovered: times.length,
        ...(times.length > 0 ? { medianMs: round(median(times), 0), maxMs: round(times[times.length - 1] ?? 0, 0), serverStartMs } : {}),
        ...(failures.length > 0 ? { failure: failures[0] } : {}),
      };
    }),
  );
}
