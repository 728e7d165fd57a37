#!/usr/bin/env node
/**
 * muxd soak: `npm run soak` from the repository root (it builds first), or
 * `node scripts/soak.mjs` after a build.
 *
 * Starts a muxd in a fresh home serving server-everything and a crashy
 * fixture (it exits every SOAK_CRASH_EVERY calls), and drives it with
 * SOAK_CLIENTS clients at once for SOAK_SECONDS: each connects to a random
 * service, initializes, makes random calls (echo, ping, slow calls with
 * progress, some of them cancelled), then leaves, gracefully or by dropping
 * the connection, and another takes its place. SOAK_PROXIES of the clients
 * go through a real mux-proxy process; the others talk to the data socket.
 *
 * It checks that every request is answered exactly once (a cancelled one at
 * most once; one whose client dropped the connection may go unanswered),
 * that each answer is the right one, that progress only reaches the client
 * that asked for it, that the daemon's open file descriptors are the same
 * before and after (both measured with no client connected) and its
 * resident memory does not grow past a bound after warm-up, and that no
 * process is left once muxd has shut down. It prints requests sent,
 * answered, errors by kind, leaked fds, RSS growth and leftover processes,
 * and exits 1 when a check fails.
 *
 * Environment (or --name=value flags, e.g. --seconds=20):
 *   SOAK_SECONDS=120          how long the load runs
 *   SOAK_CLIENTS=50           clients at once
 *   SOAK_PROXIES=5            how many of them go through mux-proxy
 *   SOAK_CRASH_EVERY=50       the crashy child exits on every N-th tools/call
 *   SOAK_SEED=N               random seed (printed; the same seed replays the same choices)
 *   SOAK_MAX_RSS_GROWTH_MB=64 the memory check's bound
 *   SOAK_MAX_LEAKED_FDS=0     the file descriptor check's bound
 *   SOAK_JSON=1 (--json)      print the report as one JSON object
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTROL_PROTOCOL_VERSION, ControlMethods, INPUT_ENDED_LINE, RpcConnection } from '@muxd/protocol';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MUXD_MAIN = join(ROOT, 'packages/daemon/dist/main.js');
/** What hosts run: the bin, which loads the bundled proxy. */
const PROXY_BIN = join(ROOT, 'packages/proxy/bin/mux-proxy.js');
const PROXY_BUNDLE = join(ROOT, 'packages/proxy/dist/mux-proxy.cjs');
const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const CRASHY = join(ROOT, 'test/fixtures/crashy.mjs');
/** Marks every process the services start (and their descendants), to find leftovers. */
const MARK = 'MUXD_SOAK_HOME';
const REQUEST_TIMEOUT_MS = 30_000;
const MiB = 1024 * 1024;

const ERROR_KINDS = {
  '-32000': 'connection-closed',
  '-32001': 'timeout',
  '-32030': 'upstream-exited',
  '-32031': 'unavailable',
  '-32033': 'too-many-requests',
  '-32034': 'too-many-clients',
  '-32037': 'initialize-failed',
};

// ------------------------------------------------------------------ options

function option(name, fallback) {
  const flag = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  const value = flag ? flag.slice(name.length + 3) : process.env[`SOAK_${name.toUpperCase().replaceAll('-', '_')}`];
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) {
    console.error(`soak: --${name} must be a non-negative number, not '${value}'`);
    process.exit(2);
  }
  return number;
}

const options = {
  seconds: option('seconds', 120),
  clients: Math.max(1, Math.round(option('clients', 50))),
  proxies: Math.round(option('proxies', 5)),
  crashEvery: Math.max(1, Math.round(option('crash-every', 50))),
  seed: Math.round(option('seed', Math.floor(Math.random() * 2 ** 31))),
  maxRssGrowthMb: option('max-rss-growth-mb', 64),
  maxLeakedFds: option('max-leaked-fds', 0),
  json: process.argv.includes('--json') || process.env['SOAK_JSON'] === '1',
};
options.proxies = Math.min(options.proxies, options.clients);

/** mulberry32: small, seedable, good enough to pick actions. */
function createRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = createRandom(options.seed);
const between = (low, high) => low + Math.floor(random() * (high - low + 1));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// -------------------------------------------------------------------- stats

const stats = {
  sent: 0,
  answered: 0,
  ok: 0,
  errors: {},
  cancelled: 0,
  answeredAfterCancel: 0,
  abandoned: 0,
  /** In flight when their connection closed without an answer (a violation too). */
  lost: 0,
  progress: 0,
  connections: { opened: 0, graceful: 0, dropped: 0, refused: 0 },
  // Each of these must stay 0.
  violations: { duplicate: 0, unknownId: 0, wrongAnswer: 0, unanswered: 0, foreignProgress: 0, serverRequest: 0, unexpectedClose: 0, daemonExited: 0 },
  examples: [],
};

function violation(kind, detail) {
  stats.violations[kind]++;
  if (stats.examples.length < 10) stats.examples.push(`${kind}: ${detail}`);
}

function countError(code) {
  const kind = ERROR_KINDS[String(code)] ?? `code ${code}`;
  stats.errors[kind] = (stats.errors[kind] ?? 0) + 1;
}

// -------------------------------------------------------------- connections

let connectionSerial = 0;

/**
 * One client session, over a data socket or a mux-proxy's stdio. Keeps
 * every request it sent (not only pending ones) to tell a duplicate answer
 * from an answer to an id it never used.
 */
class Connection {
  constructor(service, write, end, destroy) {
    this.serial = ++connectionSerial;
    this.service = service;
    this.write = write;
    this.endInput = end;
    this.destroyNow = destroy;
    this.requests = new Map();
    this.tokens = new Set();
    this.nextId = 1;
    this.buffer = '';
    /** 'open', then 'ending' (we said we are done) or 'dropped' (we cut it). */
    this.state = 'open';
    this.closed = new Promise((resolve) => (this.onClosed = resolve));
  }

  receive(text) {
    this.buffer += text;
    let newline;
    while ((newline = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      if (line.trim() === '') continue;
      let message;
      try {
        message = JSON.parse(line);
      } catch {
        violation('wrongAnswer', `connection ${this.serial}: not JSON: ${line.slice(0, 100)}`);
        continue;
      }
      this.#message(message);
    }
  }

  #message(message) {
    if (typeof message.method === 'string') {
      if (message.id !== undefined) {
        violation('serverRequest', `connection ${this.serial} got ${message.method}`);
        this.write({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'soak client answers nothing' } });
      } else if (message.method === 'notifications/progress') {
        const token = message.params?.progressToken;
        if (this.tokens.has(tokenKey(token))) stats.progress++;
        else violation('foreignProgress', `connection ${this.serial} got progress for ${JSON.stringify(token)}`);
      }
      return;
    }
    const request = this.requests.get(idKey(message.id));
    if (!request) {
      violation('unknownId', `connection ${this.serial} got an answer to ${JSON.stringify(message.id)}`);
      return;
    }
    request.answers++;
    if (request.answers > 1) {
      violation('duplicate', `connection ${this.serial}, ${request.method} ${JSON.stringify(message.id)}`);
      return;
    }
    if (request.state === 'cancelled') {
      stats.answeredAfterCancel++;
      return;
    }
    request.state = 'answered';
    stats.answered++;
    if (message.error) {
      countError(message.error.code);
    } else {
      stats.ok++;
      const problem = request.check?.(message.result);
      if (problem) violation('wrongAnswer', `connection ${this.serial}, ${request.method}: ${problem}`);
    }
    request.settle(message);
  }

  /** Sends a request; resolves with its answer, or with null once cancelled or abandoned. */
  request(method, params, check, id = this.nextId++) {
    const request = { id, method, answers: 0, state: 'pending', check, settle: undefined };
    const settled = new Promise((resolve) => (request.settle = resolve));
    this.requests.set(idKey(id), request);
    stats.sent++;
    this.write({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
    return { request, settled };
  }

  cancel(request) {
    if (request.state !== 'pending') return;
    request.state = 'cancelled';
    stats.cancelled++;
    this.write({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: request.id, reason: 'soak cancel' } });
    request.settle(null);
  }

  /** Graceful: "nothing more is coming"; muxd answers what is in flight, then closes. */
  end() {
    if (this.state !== 'open') return;
    this.state = 'ending';
    this.endInput();
  }

  /** Abrupt: the client vanishes with its requests in flight. */
  drop() {
    if (this.state !== 'open') return;
    this.state = 'dropped';
    this.destroyNow();
  }

  /** Called once the transport is closed. */
  gone() {
    for (const request of this.requests.values()) {
      if (request.state !== 'pending') continue;
      request.state = 'lost';
      if (this.state === 'dropped') {
        stats.abandoned++;
      } else {
        stats.lost++;
        violation('unanswered', `connection ${this.serial} closed with ${request.method} ${JSON.stringify(request.id)} unanswered`);
      }
      request.settle(null);
    }
    if (this.state === 'open') violation('unexpectedClose', `connection ${this.serial} to '${this.service}' closed by muxd`);
    this.onClosed();
  }
}

const idKey = (id) => `${typeof id}:${id}`;
const tokenKey = idKey;

function openSocket(home, service) {
  return new Promise((resolve, reject) => {
    const socket = connect(join(home, 'run', `${service}.sock`));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      const connection = new Connection(
        service,
        (message) => socket.writable && socket.write(JSON.stringify(message) + '\n'),
        () => socket.end(INPUT_ENDED_LINE),
        () => socket.destroy(),
      );
      socket.setEncoding('utf8');
      socket.on('data', (text) => connection.receive(text));
      socket.on('error', () => undefined);
      socket.once('close', () => connection.gone());
      resolve(connection);
    });
  });
}

function openProxy(home, service) {
  const child = spawn(process.execPath, [PROXY_BIN, service], { env: { ...process.env, MUXD_HOME: home }, stdio: ['pipe', 'pipe', 'ignore'] });
  const connection = new Connection(
    service,
    (message) => child.stdin.writable && child.stdin.write(JSON.stringify(message) + '\n'),
    () => child.stdin.end(),
    () => child.kill('SIGKILL'),
  );
  child.stdin.on('error', () => undefined);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text) => connection.receive(text));
  let exited = false;
  let drained = false;
  const done = () => exited && drained && connection.gone();
  child.once('exit', () => {
    exited = true;
    done();
  });
  child.stdout.once('close', () => {
    drained = true;
    done();
  });
  return connection;
}

// ----------------------------------------------------------------- sessions

const INITIALIZE = {
  protocolVersion: '2025-06-18',
  capabilities: {},
  clientInfo: { name: 'soak', version: '1.0.0' },
};

/** What to call on each service, and how to recognize its answer. */
const CALLS = {
  everything: {
    echo: (message) => ({ params: { name: 'echo', arguments: { message } }, text: `Echo: ${message}` }),
    slow: (tag, token) => ({
      params: { name: 'trigger-long-running-operation', arguments: { duration: between(2, 8) / 10, steps: 3 }, _meta: { progressToken: token } },
      text: /^Long running operation completed/,
    }),
  },
  crashy: {
    echo: (message) => ({ params: { name: 'echo', arguments: { message } }, text: `crashy: ${message}` }),
    slow: (tag) => ({ params: { name: 'sleep', arguments: { tag, ms: between(50, 600) } }, text: `slept ${tag}` }),
  },
};

function checkText(expected) {
  return (result) => {
    const text = result?.content?.[0]?.text;
    const fine = typeof expected === 'string' ? text === expected : expected.test(String(text));
    return fine ? undefined : `expected ${expected}, got ${JSON.stringify(text)?.slice(0, 100)}`;
  };
}

/** One client session: connect, initialize, random requests, then leave. */
async function session(home, service, viaProxy, deadline) {
  let connection;
  try {
    connection = viaProxy ? openProxy(home, service) : await openSocket(home, service);
  } catch (error) {
    stats.connections.refused++;
    if (stats.examples.length < 10) stats.examples.push(`connect to '${service}' failed: ${error.message}`);
    await sleep(100);
    return;
  }
  stats.connections.opened++;
  const { settled: initialized } = connection.request('initialize', INITIALIZE, undefined, 'init');
  const answer = await initialized;
  if (answer && !answer.error) {
    connection.write({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await work(connection, deadline);
  }
  if (connection.state === 'open') {
    if (random() < 0.15) connection.drop();
    else connection.end();
  }
  if (connection.state === 'dropped') stats.connections.dropped++;
  else stats.connections.graceful++;
  let timer;
  const closed = await Promise.race([
    connection.closed.then(() => true),
    new Promise((resolve) => (timer = setTimeout(resolve, REQUEST_TIMEOUT_MS + 10_000, false))),
  ]);
  clearTimeout(timer);
  if (!closed) {
    violation('unanswered', `connection ${connection.serial} did not close after ending`);
    connection.state = 'dropped';
    connection.destroyNow();
  }
}

async function work(connection, deadline) {
  const calls = CALLS[connection.service];
  const operations = between(3, 30);
  const window = between(1, 4);
  const inflight = new Set();
  for (let op = 0; op < operations && Date.now() < deadline && connection.state === 'open'; op++) {
    const roll = random();
    if (roll < 0.04) {
      connection.drop();
      break;
    }
    let pending;
    if (roll < 0.2) {
      const id = connection.nextId;
      // String or number, as hosts do: the token must come back with its own type.
      const token = random() < 0.5 ? id * 1000 : `tok-${connection.serial}-${id}`;
      connection.tokens.add(tokenKey(token));
      const call = calls.slow(`s${connection.serial}-${id}`, token);
      pending = connection.request('tools/call', call.params, checkText(call.text));
      if (random() < 0.4) {
        const request = pending.request;
        setTimeout(() => connection.cancel(request), between(10, 300));
      }
    } else if (roll < 0.28) {
      pending = connection.request('ping', undefined, (result) => (result && typeof result === 'object' ? undefined : 'ping result is not an object'));
    } else {
      const message = `c${connection.serial} r${connection.nextId} ${'x'.repeat(between(0, 64))}`;
      const call = calls.echo(message);
      pending = connection.request('tools/call', call.params, checkText(call.text));
    }
    const settled = pending.settled.finally(() => inflight.delete(settled));
    inflight.add(settled);
    if (inflight.size >= window) await Promise.race(inflight);
    if (random() < 0.5) await sleep(between(0, 30));
  }
  // Half the time leave with requests in flight: muxd must answer them before it closes.
  if (connection.state === 'open' && random() < 0.5) await Promise.all(inflight);
}

async function client(index, home, deadline, daemon) {
  const viaProxy = index < options.proxies;
  while (Date.now() < deadline && daemon.running) {
    await session(home, random() < 0.5 ? 'everything' : 'crashy', viaProxy, deadline);
    await sleep(between(0, 50));
  }
}

// ------------------------------------------------------------------- daemon

function startDaemon(home, configFile) {
  const child = spawn(process.execPath, [MUXD_MAIN, '--config', configFile], {
    env: { ...process.env, MUXD_HOME: home, MUXD_BACKGROUND: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text) => (stderr += text));
  const daemon = { child, pid: child.pid, running: true, stderr: () => stderr };
  daemon.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    daemon.running = false;
    resolve({ code, signal });
  }));
  return daemon;
}

async function openControl(home, daemon) {
  const path = join(home, 'run', 'muxd.ctl');
  for (let attempt = 0; ; attempt++) {
    try {
      const socket = await new Promise((resolve, reject) => {
        const socket = connect(path);
        socket.once('connect', () => resolve(socket));
        socket.once('error', reject);
      });
      const rpc = new RpcConnection(socket);
      await rpc.request(ControlMethods.Hello, { client: 'soak', version: '0', protocol: CONTROL_PROTOCOL_VERSION }, 10_000);
      return rpc;
    } catch (error) {
      if (!daemon.running || attempt > 300) throw new Error(`muxd did not start: ${error.message}\n${daemon.stderr()}`);
      await sleep(50);
    }
  }
}

/** Waits until both services are online with no client, nothing in flight, and the fd count is steady. */
async function quiesce(control, pid) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { services } = await control.request(ControlMethods.List, {}, 10_000);
    const idle = services.every((row) => row.status === 'online' && row.clients === 0 && row.inflight === 0 && row.queued === 0);
    if (idle) {
      const first = fdCount(pid);
      await sleep(300);
      if (fdCount(pid) === first) return { fds: first, rss: rssBytes(pid), services };
    } else if (Date.now() > deadline) {
      throw new Error(`muxd did not settle: ${JSON.stringify(services.map(({ name, status, clients, inflight, queued }) => ({ name, status, clients, inflight, queued })))}`);
    }
    await sleep(100);
  }
}

function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rssBytes(pid) {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/** Live processes of this soak's home: muxd, its reaper, proxies, and every service process (marked). */
function processesOfHome(home) {
  const needles = [Buffer.from(`\0MUXD_HOME=${home}\0`), Buffer.from(`\0${MARK}=${home}\0`)];
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      const environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${entry}/environ`)]);
      if (needles.some((needle) => environ.includes(needle))) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** How many processes each service runs right now (its marked children, descendants included). */
function childrenOf(home, services) {
  const needles = services.map((service) => [service, Buffer.from(`\0MUXD_SOAK_SERVICE=${service}\0`)]);
  const counts = Object.fromEntries(services.map((service) => [service, 0]));
  for (const pid of processesOfHome(home)) {
    let environ;
    try {
      environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`)]);
    } catch {
      continue;
    }
    for (const [service, needle] of needles) if (environ.includes(needle)) counts[service]++;
  }
  return counts;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

// --------------------------------------------------------------------- main

async function main() {
  for (const file of [MUXD_MAIN, PROXY_BUNDLE, EVERYTHING]) {
    if (!existsSync(file)) {
      console.error(`soak: ${file} is missing; run npm ci && npm run build first`);
      return 2;
    }
  }
  const home = mkdtempSync('/tmp/mx-soak-');
  const configFile = join(home, 'muxd.config.json');
  const service = (name, spec) => ({
    lazy: false,
    idleTimeout: 0,
    requestTimeout: REQUEST_TIMEOUT_MS,
    stopTimeout: '3s',
    ...spec,
    env: { ...spec.env, [MARK]: home, MUXD_SOAK_SERVICE: name },
  });
  writeFileSync(
    configFile,
    JSON.stringify({
      services: {
        everything: service('everything', { command: process.execPath, args: [EVERYTHING, 'stdio'] }),
        // Never gives up: it crashes on purpose, all the time.
        crashy: service('crashy', {
          command: process.execPath,
          args: [CRASHY],
          env: { CRASHY_AFTER: String(options.crashEvery) },
          restart: { initialDelay: '50ms', maxDelay: '400ms', maxRestarts: 0, resetAfter: '2s' },
        }),
      },
    }),
  );

  const started = Date.now();
  const daemon = startDaemon(home, configFile);
  const report = { options, seed: options.seed };
  let control;
  try {
    control = await openControl(home, daemon);
    // One session each first, so lazily opened files (logs, database) are open before the baseline.
    await Promise.all(['everything', 'crashy'].map((name) => session(home, name, false, 0)));
    const baseline = await quiesce(control, daemon.pid);
    const restartsBefore = Object.fromEntries(baseline.services.map((row) => [row.name, row.restarts]));

    const samples = [];
    const maxChildren = { everything: 0, crashy: 0 };
    const loadStarted = Date.now();
    const deadline = loadStarted + options.seconds * 1000;
    const sampler = setInterval(() => {
      if (!daemon.running) return;
      samples.push({ at: Date.now() - loadStarted, rss: rssBytes(daemon.pid), fds: fdCount(daemon.pid) });
      const children = childrenOf(home, Object.keys(maxChildren));
      for (const name of Object.keys(maxChildren)) maxChildren[name] = Math.max(maxChildren[name], children[name]);
    }, 1000);
    daemon.exited.then(({ code, signal }) => {
      if (!daemon.stopping) violation('daemonExited', `muxd exited during the soak (code ${code}, signal ${signal})`);
    });
    await Promise.all(Array.from({ length: options.clients }, (_, index) => client(index, home, deadline, daemon)));
    clearInterval(sampler);
    if (!daemon.running) throw new Error(`muxd exited during the soak:\n${daemon.stderr()}`);

    const end = await quiesce(control, daemon.pid);
    const warmupMs = Math.max(5000, options.seconds * 250);
    const warm = samples.filter((sample) => sample.at >= warmupMs).slice(0, 3);
    const warmRss = warm.length > 0 ? median(warm.map((sample) => sample.rss)) : baseline.rss;
    report.durationSeconds = Math.round((Date.now() - loadStarted) / 100) / 10;
    report.restarts = Object.fromEntries(end.services.map((row) => [row.name, row.restarts - (restartsBefore[row.name] ?? 0)]));
    report.maxChildren = maxChildren;
    report.fds = { baseline: baseline.fds, end: end.fds, leaked: end.fds - baseline.fds, max: Math.max(...samples.map((sample) => sample.fds), end.fds) };
    report.rss = { warm: warmRss, end: end.rss, growth: end.rss - warmRss, max: Math.max(...samples.map((sample) => sample.rss), end.rss), warmupSeconds: warmupMs / 1000 };
  } finally {
    control?.destroy();
    if (daemon.running) {
      daemon.stopping = true;
      daemon.child.kill('SIGTERM');
      const timer = setTimeout(() => daemon.child.kill('SIGKILL'), 15_000);
      await daemon.exited;
      clearTimeout(timer);
    }
    // Whatever is still alive a moment after muxd is gone was left behind.
    const graceEnds = Date.now() + 3000;
    let leftovers = processesOfHome(home);
    while (leftovers.length > 0 && Date.now() < graceEnds) {
      await sleep(100);
      leftovers = processesOfHome(home);
    }
    report.leftoverProcesses = leftovers.map((pid) => ({ pid, command: readCommand(pid) }));
    for (const pid of leftovers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    rmSync(home, { recursive: true, force: true });
  }
  report.totalSeconds = Math.round((Date.now() - started) / 100) / 10;
  report.requests = {
    sent: stats.sent,
    answered: stats.answered,
    ok: stats.ok,
    errors: stats.errors,
    cancelled: stats.cancelled,
    answeredAfterCancel: stats.answeredAfterCancel,
    abandoned: stats.abandoned,
    lost: stats.lost,
    progress: stats.progress,
  };
  report.connections = stats.connections;
  report.violations = stats.violations;
  report.examples = stats.examples;
  const failures = [];
  for (const [kind, count] of Object.entries(stats.violations)) if (count > 0) failures.push(`${kind}: ${count}`);
  if (stats.sent !== stats.answered + stats.cancelled + stats.abandoned + stats.lost) {
    failures.push(`accounting: sent ${stats.sent} != answered ${stats.answered} + cancelled ${stats.cancelled} + abandoned ${stats.abandoned} + lost ${stats.lost}`);
  }
  if (report.fds.leaked > options.maxLeakedFds) failures.push(`leaked fds: ${report.fds.leaked} (bound ${options.maxLeakedFds})`);
  if (report.rss.growth > options.maxRssGrowthMb * MiB) failures.push(`RSS growth: ${mb(report.rss.growth)} (bound ${options.maxRssGrowthMb} MiB)`);
  if (report.leftoverProcesses.length > 0) failures.push(`leftover processes: ${report.leftoverProcesses.length}`);
  for (const [name, count] of Object.entries(report.maxChildren)) if (count > 1) failures.push(`'${name}' ran ${count} processes at once`);
  report.failures = failures;
  report.pass = failures.length === 0;
  if (options.json) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
  return report.pass ? 0 : 1;
}

function readCommand(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

const mb = (bytes) => `${bytes < 0 ? '-' : '+'}${(Math.abs(bytes) / MiB).toFixed(1)} MiB`;
const mib = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`;

function printReport(report) {
  const { requests, connections, violations } = report;
  const errors = Object.entries(requests.errors).map(([kind, count]) => `${kind} ${count}`).join(', ') || 'none';
  const lines = [
    `muxd soak: ${report.durationSeconds} s of load, ${options.clients} clients (${options.proxies} through mux-proxy), seed ${report.seed}`,
    `  services: everything (server-everything), crashy (exits on every ${options.crashEvery}th call)`,
    `requests sent          ${requests.sent}`,
    `answered               ${requests.answered} (ok ${requests.ok}, errors ${requests.answered - requests.ok})`,
    `errors by kind         ${errors}`,
    `cancelled              ${requests.cancelled} (answered anyway ${requests.answeredAfterCancel})`,
    `abandoned              ${requests.abandoned} (their client dropped the connection first)`,
    `progress notifications ${requests.progress}`,
    `connections            ${connections.opened} (left gracefully ${connections.graceful}, dropped ${connections.dropped}, refused ${connections.refused})`,
    `child restarts         ${Object.entries(report.restarts).map(([name, count]) => `${name} ${count}`).join(', ')}`,
    `violations             ${Object.entries(violations).map(([kind, count]) => `${kind} ${count}`).join(', ')}`,
    `leaked fds             ${report.fds.leaked} (${report.fds.baseline} before, ${report.fds.end} after, ${report.fds.max} at most)`,
    `RSS growth             ${mb(report.rss.growth)} (${mib(report.rss.warm)} after ${report.rss.warmupSeconds} s warm-up, ${mib(report.rss.end)} at the end, ${mib(report.rss.max)} at most)`,
    `leftover processes     ${report.leftoverProcesses.length}${report.leftoverProcesses.map(({ pid, command }) => `\n  ${pid} ${command}`).join('')}`,
  ];
  for (const example of report.examples) lines.push(`  e.g. ${example}`);
  lines.push(report.pass ? 'PASS' : `FAIL: ${report.failures.join('; ')}`);
  console.log(lines.join('\n'));
}

process.exitCode = await main().catch((error) => {
  console.error(`soak: ${error.stack ?? error}`);
  return 1;
});
