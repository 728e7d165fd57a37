/**
 * The things under test, each started the way its documentation says, for a
 * list of MCP servers, and driven by the real SDK `Client`:
 *
 * - `direct`: every session spawns its own server (what hosts do today);
 * - `muxd`: a muxd daemon, and every session runs `mux-proxy <service>`;
 * - `muxd-http`: the same daemon, every session a Streamable HTTP client of its HTTP front;
 * - `mcp-proxy`: one `mcp-proxy` per server, Streamable HTTP, one shared child;
 * - `mcp-hub`: one hub for every server (its /mcp endpoint is HTTP+SSE), one shared child each;
 * - `supergateway`: one `supergateway --stateful` per server, Streamable HTTP, one child per session;
 * - `relays` (latency only): direct behind two byte relays, the floor of two processes on the path.
 * - `muxd-npx`, `muxd-http-npx` (seed scenario only): muxd with `unwrap: false`, keeping each `npx` runner;
 * - `http-relay` (latency only): direct behind the simplest HTTP bridge, the floor of serving a stdio server over HTTP.
 *
 * A peer that is not installed or does not start is reported by the caller
 * as n/a with the reason; nothing here talks to anything but 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, SSEClientTransport, StdioClientTransport, StreamableHTTPClientTransport } from './sdk.mjs';
import {
  DEPLOYMENT_MARK,
  RUN_MARK,
  SERVER_MARK,
  canConnect,
  delay,
  freePort,
  markedPids,
  processTable,
  waitFor,
  withDescendants,
} from './processes.mjs';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const BENCH_DIR = join(ROOT, 'scripts/bench');
const BENCH_MODULES = join(BENCH_DIR, 'node_modules');
const MUXD_BIN = join(ROOT, 'packages/daemon/bin/muxd.js');
const RELAY = join(BENCH_DIR, 'lib/relay.cjs');
const HTTP_RELAY = join(BENCH_DIR, 'lib/httpRelay.cjs');
/** What a host's config names: the installed bin, run through its `#!/usr/bin/env node` line. */
const MUX_PROXY_BIN = join(ROOT, 'node_modules/.bin/mux-proxy');
const EVERYTHING_MAIN = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const MEMORY_MAIN = join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');

export const PEER_BINS = {
  'mcp-proxy': join(BENCH_MODULES, 'mcp-proxy/dist/bin/mcp-proxy.mjs'),
  'mcp-hub': join(BENCH_MODULES, 'mcp-hub/dist/cli.js'),
  supergateway: join(BENCH_MODULES, 'supergateway/dist/index.js'),
};

/**
 * One MCP server as a host would launch it, and the call the bench makes on it.
 * @typedef {object} ServerSpec
 * @property {string} name service name (muxd service, mcp-hub server key)
 * @property {string} command
 * @property {string[]} args
 * @property {string} cwd
 * @property {Record<string, string>} env
 * @property {string} tool the tool the bench calls
 * @property {(message: string) => Record<string, unknown>} toolArgs
 * @property {((message: string) => string) | undefined} expect the text the tool answers, when it is a pure function of the message
 */

/**
 * `server-everything` over stdio; `echo {message}` answers `Echo: <message>`.
 * @param {string} name
 * @param {{ npx?: boolean, env?: Record<string, string> }} [options] npx: launch as hosts do, `npx <package>` from the repository root
 * @returns {ServerSpec}
 */
export function everythingServer(name = 'everything', options = {}) {
  const launch = options.npx
    ? { command: 'npx', args: ['@modelcontextprotocol/server-everything', 'stdio'] }
    : { command: process.execPath, args: [EVERYTHING_MAIN, 'stdio'] };
  return {
    name,
    ...launch,
    cwd: ROOT,
    env: { ...options.env },
    tool: 'echo',
    toolArgs: (message) => ({ message }),
    expect: (message) => `Echo: ${message}`,
  };
}

/**
 * `server-memory` keeping its graph in `file`; the bench calls `read_graph`.
 * @param {string} name
 * @param {string} file
 * @param {{ npx?: boolean }} [options]
 * @returns {ServerSpec}
 */
export function memoryServer(name, file, options = {}) {
  const launch = options.npx
    ? { command: 'npx', args: ['@modelcontextprotocol/server-memory'] }
    : { command: process.execPath, args: [MEMORY_MAIN] };
  return {
    name,
    ...launch,
    cwd: ROOT,
    env: { MEMORY_FILE_PATH: file },
    tool: 'read_graph',
    toolArgs: () => ({}),
    expect: undefined,
  };
}

/**
 * One connected SDK client, calling one server's tool.
 * @typedef {object} Session
 * @property {(message?: string, options?: import('@modelcontextprotocol/sdk/shared/protocol.js').RequestOptions) => Promise<string>} call
 *   calls the server's tool and resolves the first text it answers; rejects on a tool error
 * @property {(message?: string, options?: import('@modelcontextprotocol/sdk/shared/protocol.js').RequestOptions) => Promise<Record<string, unknown>>} callResult
 *   the same, resolving the whole result
 * @property {(server: ServerSpec) => Session} forServer the same connection, calling another server's tool (mcp-hub only)
 * @property {() => boolean} closed true once the transport has closed
 * @property {() => Promise<void>} close
 */

/**
 * A target started for a list of servers.
 * @typedef {object} Deployment
 * @property {(server: string) => Promise<Session>} connect opens a session, resolving when `initialize` is answered
 * @property {() => number[]} processes every process the target runs now
 * @property {(server: string) => number[]} serverPids the MCP server processes of one server
 * @property {() => Promise<void>} stop ends every session and process of the deployment
 */

/**
 * @typedef {object} Target
 * @property {string} name
 * @property {boolean} processPerSession whether each session gets its own server process
 * @property {boolean} aggregates whether one session reaches every server (mcp-hub), as a host would configure it
 * @property {boolean} [reference] runs in the latency workloads only, as a yardstick rather than a contender
 * @property {boolean} [seedOnly] runs in the seed scenario only (a variant of another target)
 * @property {boolean} [spawnsPerSession] whether each new session starts a Node process (its server, or mux-proxy)
 * @property {boolean} peer
 * @property {() => string | undefined} unavailable why it cannot run here, if it cannot
 * @property {(run: RunContext, id: string, servers: ServerSpec[], options: { cold?: boolean }) => Promise<Deployment>} start
 *   starts what must run before any session (nothing for direct; muxd unless cold, since mux-proxy starts it)
 */

/**
 * Starts `target` for `servers`; a start that fails midway is torn down before the error is rethrown.
 * @param {Target} target
 * @param {RunContext} run
 * @param {ServerSpec[]} servers
 * @param {{ cold?: boolean }} [options]
 * @returns {Promise<Deployment>}
 */
export async function deploy(target, run, servers, options = {}) {
  const id = run.nextId(target.name.replace(/[^a-z]/g, ''));
  try {
    return await target.start(run, id, servers, options);
  } catch (error) {
    await teardown(id, []);
    throw error;
  }
}

/**
 * @typedef {object} RunContext
 * @property {string} id run id, the value of RUN_MARK
 * @property {string} tmp scratch directory of the run
 * @property {(prefix: string) => string} nextId
 * @property {(message: string) => void} log
 */

const CLIENT_INFO = { name: 'muxd-bench', version: '0.1.0' };

/**
 * Connects a Client over `transport` and wraps it as a Session.
 * @param {import('@modelcontextprotocol/sdk/shared/transport.js').Transport} transport
 * @param {ServerSpec} server
 * @param {(server: ServerSpec) => string} toolName a server's tool as this target exposes it
 * @param {() => string} [diagnostics] extra text for a failed connect
 * @returns {Promise<Session>}
 */
async function openSession(transport, server, toolName = (s) => s.tool, diagnostics) {
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  let closed = false;
  client.onclose = () => {
    closed = true;
  };
  // Errors surface through the calls that hit them; keep the SDK from logging each one.
  client.onerror = () => {};
  try {
    await client.connect(transport);
  } catch (error) {
    await client.close().catch(() => {});
    const extra = diagnostics?.().trim();
    throw new Error(`${/** @type {Error} */ (error).message}${extra ? ` (${extra.split('\n').slice(-3).join(' | ')})` : ''}`);
  }
  const close = async () => {
    // An HTTP session ends with a DELETE; without it the peer keeps it (and supergateway its child).
    if (transport instanceof StreamableHTTPClientTransport) await /** @type {{ terminateSession(): Promise<void> }} */ (/** @type {unknown} */ (transport)).terminateSession().catch(() => {});
    await client.close().catch(() => {});
  };
  /** @param {ServerSpec} spec @returns {Session} */
  const bind = (spec) => {
    const name = toolName(spec);
    /** @type {Session['callResult']} */
    const callResult = async (message = 'hello', options) => {
      const result = await client.callTool({ name, arguments: spec.toolArgs(message) }, undefined, options);
      if (result.isError) throw new Error(`tool error: ${JSON.stringify(result.content).slice(0, 200)}`);
      return result;
    };
    return {
      callResult,
      async call(message, options) {
        const result = await callResult(message, options);
        const first = /** @type {{ type: string, text?: string }[]} */ (result['content'])[0];
        return first?.type === 'text' ? (first.text ?? '') : JSON.stringify(result['content']);
      },
      forServer: bind,
      closed: () => closed,
      close,
    };
  };
  return bind(server);
}

/**
 * A stdio transport to `command`, with the run's marks, keeping the tail of its stderr.
 * @param {RunContext} run
 * @param {string} deployment
 * @param {{ command: string, args: string[], cwd: string, env: Record<string, string> }} spec
 */
function stdioTransport(run, deployment, spec) {
  const transport = new StdioClientTransport({
    command: spec.command,
    args: spec.args,
    cwd: spec.cwd,
    env: { ...stringEnv(process.env), ...spec.env, [RUN_MARK]: run.id, [DEPLOYMENT_MARK]: deployment },
    stderr: 'pipe',
  });
  let tail = '';
  transport.stderr?.on('data', (/** @type {Buffer} */ chunk) => {
    tail = (tail + chunk.toString()).slice(-2000);
  });
  return { transport, stderrTail: () => tail };
}

/** @param {NodeJS.ProcessEnv} env @returns {Record<string, string>} */
function stringEnv(env) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * Every process of a deployment: marked ones and their descendants.
 * @param {string} deployment
 */
function deploymentProcesses(deployment) {
  const table = processTable();
  return withDescendants(markedPids(DEPLOYMENT_MARK, deployment, table), table);
}

/**
 * The MCP server processes (node running a server's entry point) of one server in a deployment.
 * @param {string} deployment
 * @param {string} server
 */
function serverProcesses(deployment, server) {
  const table = processTable();
  const ours = new Set(withDescendants(markedPids(DEPLOYMENT_MARK, deployment, table), table));
  return markedPids(SERVER_MARK, server, table).filter((pid) => {
    const argv = table.get(pid)?.argv ?? [];
    return ours.has(pid) && /(^|\/)node$/.test(argv[0] ?? '') && /server-(everything|memory)/.test(argv[1] ?? '');
  });
}

/**
 * Ends a deployment: close sessions (bounded), then SIGTERM and, after a
 * grace period, SIGKILL whatever of it still runs.
 * @param {string} deployment
 * @param {Session[]} sessions
 * @param {number[]} [first] processes to SIGTERM before the rest (daemons that stop their own children)
 */
async function teardown(deployment, sessions, first = []) {
  await Promise.race([Promise.allSettled(sessions.map((session) => session.close())), delay(3000)]);
  signal(first, 'SIGTERM');
  if (first.length > 0) await waitGone(first, 5000);
  const rest = deploymentProcesses(deployment);
  signal(rest, 'SIGTERM');
  await waitGone(rest, 2000);
  signal(deploymentProcesses(deployment), 'SIGKILL');
  await waitGone(deploymentProcesses(deployment), 2000);
}

/** @param {number[]} pids @param {NodeJS.Signals} name */
function signal(pids, name) {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // Already gone.
    }
  }
}

/** @param {number[]} pids @param {number} timeoutMs */
async function waitGone(pids, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const table = processTable();
    if (pids.every((pid) => !table.has(pid))) return;
    await delay(20);
  }
}

/**
 * Spawns a long-running program of a deployment in its own process group,
 * output to a log file.
 * @param {RunContext} run
 * @param {string} deployment
 * @param {string[]} argv
 * @param {{ cwd?: string, env?: Record<string, string>, log: string }} options
 */
function spawnDaemon(run, deployment, argv, options) {
  const fd = openSync(options.log, 'a');
  const child = spawn(argv[0] ?? process.execPath, argv.slice(1), {
    cwd: options.cwd ?? ROOT,
    env: { ...stringEnv(process.env), ...options.env, [RUN_MARK]: run.id, [DEPLOYMENT_MARK]: deployment },
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  /** @type {{ code: number | null, signal: string | null } | undefined} */
  let exited;
  child.once('exit', (code, sig) => {
    exited = { code, signal: sig };
  });
  child.once('error', () => {
    exited = { code: -1, signal: null };
  });
  child.unref();
  return {
    pid: /** @type {number} */ (child.pid),
    exited: () => exited,
    /** Throws with the log's tail if the program has exited. */
    check() {
      if (exited) {
        const tail = readTail(options.log);
        throw new Error(`${argv.map((a) => a.split('/').pop()).slice(0, 2).join(' ')} exited (code ${exited.code}, signal ${exited.signal})${tail ? `: ${tail}` : ''}`);
      }
    },
  };
}

/** @param {string} path */
function readTail(path) {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-3).join(' | ').slice(-400);
  } catch {
    return '';
  }
}

/** @param {string} text */
function shellQuote(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/**
 * @param {ServerSpec[]} servers
 * @param {string} name
 */
function findServer(servers, name) {
  const server = servers.find((s) => s.name === name);
  if (!server) throw new Error(`no server '${name}' in this deployment`);
  return server;
}

/** @param {ServerSpec} server */
function serverEnv(server) {
  return { ...server.env, [SERVER_MARK]: server.name };
}

// ------------------------------------------------------------------ direct

/**
 * A target whose every session spawns its own server, run by `spec(server)`.
 * @param {(server: ServerSpec) => { command: string, args: string[], cwd: string }} spec
 * @returns {Target['start']}
 */
function spawnPerSession(spec) {
  return async (run, id, servers) => {
    /** @type {Session[]} */
    const sessions = [];
    return {
      async connect(name) {
        const server = findServer(servers, name);
        const { command, args, cwd } = spec(server);
        const { transport, stderrTail } = stdioTransport(run, id, { command, args, cwd, env: serverEnv(server) });
        const session = await openSession(transport, server, undefined, stderrTail);
        sessions.push(session);
        return session;
      },
      processes: () => deploymentProcesses(id),
      serverPids: (name) => serverProcesses(id, name),
      stop: () => teardown(id, sessions),
    };
  };
}

/** @type {Target} */
export const direct = {
  name: 'direct',
  aggregates: false,
  processPerSession: true,
  spawnsPerSession: true,
  peer: false,
  unavailable: () => undefined,
  start: spawnPerSession((server) => server),
};

/**
 * A reference for the latency workloads only: direct, behind two byte
 * relays (scripts/bench/lib/relay.cjs) that parse nothing. No design with
 * two processes on the path, as mux-proxy plus muxd, can be faster.
 * @type {Target}
 */
export const relays = {
  name: 'relays',
  aggregates: false,
  processPerSession: true,
  peer: false,
  reference: true,
  unavailable: () => undefined,
  start: spawnPerSession((server) => ({ command: process.execPath, args: [RELAY, process.execPath, RELAY, server.command, ...server.args], cwd: server.cwd })),
};

/**
 * A reference for the latency workloads only: direct, behind the simplest
 * Streamable HTTP bridge (scripts/bench/lib/httpRelay.cjs: plain JSON
 * answers, no sessions), one per server, reached with the same SDK client as
 * `muxd-http`. No design serving a stdio server over HTTP can be faster.
 * @type {Target}
 */
export const httpRelay = {
  name: 'http-relay',
  aggregates: false,
  processPerSession: false,
  peer: false,
  reference: true,
  unavailable: () => undefined,
  start: gatewayPerServer('http-relay', (server, port) => [process.execPath, HTTP_RELAY, String(port), server.command, ...server.args]),
};

// -------------------------------------------------------------------- muxd

/**
 * muxd, reached the way a host would: over stdio through `mux-proxy`, or
 * (as `muxctl rewire --transport http` sets hosts up) over its Streamable
 * HTTP front with the bearer token, which costs no process per session.
 * With `unwrap: false`, services started with a package runner (`npx`) keep
 * the runner, as before muxd learnt to run the package's bin itself.
 * @param {'stdio' | 'http'} transport
 * @param {{ unwrap?: boolean }} [options]
 * @returns {Target['start']}
 */
function startMuxd(transport, { unwrap = true } = {}) {
  return async (run, id, servers, options) => {
    // The run's directory is short: data sockets live under it, and socket paths are limited to 108 bytes.
    const home = join(run.tmp, id);
    mkdirSync(home, { recursive: true });
    const configFile = join(home, 'muxd.config.json');
    const services = Object.fromEntries(
      servers.map((server) => [server.name, { command: server.command, args: server.args, cwd: server.cwd, env: serverEnv(server), ...(unwrap ? {} : { unwrap: false }) }]),
    );
    const port = transport === 'http' ? await freePort() : undefined;
    writeFileSync(configFile, JSON.stringify({ services, ...(port ? { http: { listen: `127.0.0.1:${port}` } } : {}) }, null, 2));
    const env = { MUXD_HOME: home, MUXD_CONFIG: configFile };
    /** @type {number | undefined} */
    let daemonPid;
    // Cold over stdio, mux-proxy starts muxd itself; over HTTP nothing would, so cold includes muxd's start.
    if (!options.cold || transport === 'http') {
      const daemon = spawnDaemon(run, id, [process.execPath, MUXD_BIN, '--config', configFile], { env, log: join(home, 'muxd.stderr.log') });
      daemonPid = daemon.pid;
      await waitFor('muxd control socket', async () => {
        daemon.check();
        return (await canConnect(join(home, 'run', 'muxd.ctl'))) && (port === undefined || (await canConnect(port)));
      });
    }
    /** @type {Session[]} */
    const sessions = [];
    return {
      async connect(name) {
        const server = findServer(servers, name);
        let session;
        if (port === undefined) {
          const { transport: stdio, stderrTail } = stdioTransport(run, id, { command: MUX_PROXY_BIN, args: [name], cwd: ROOT, env });
          session = await openSession(stdio, server, undefined, stderrTail);
        } else {
          const token = readFileSync(join(home, 'http-token'), 'utf8').trim();
          const http = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp/${name}`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
          session = await openSession(http, server);
        }
        sessions.push(session);
        return session;
      },
      processes: () => deploymentProcesses(id),
      serverPids: (name) => serverProcesses(id, name),
      async stop() {
        // Started in the background by mux-proxy when cold: its pid file says which process it is.
        const pid = daemonPid ?? Number.parseInt(readFileSafe(join(home, 'muxd.pid')), 10);
        await teardown(id, sessions, Number.isInteger(pid) && pid > 0 ? [pid] : []);
      },
    };
  };
}

const muxdBuilt = () =>
  existsSync(join(ROOT, 'packages/daemon/dist/main.js')) && existsSync(join(ROOT, 'packages/proxy/dist/mux-proxy.cjs')) ? undefined : 'not built: run npm run build';

/** @type {Target} */
export const muxd = {
  name: 'muxd',
  aggregates: false,
  processPerSession: false,
  spawnsPerSession: true,
  peer: false,
  unavailable: muxdBuilt,
  start: startMuxd('stdio'),
};

/** @type {Target} */
export const muxdHttp = {
  name: 'muxd-http',
  aggregates: false,
  processPerSession: false,
  peer: false,
  unavailable: muxdBuilt,
  start: startMuxd('http'),
};

/** @type {Target} */
export const muxdNpx = { ...muxd, name: 'muxd-npx', seedOnly: true, start: startMuxd('stdio', { unwrap: false }) };

/** @type {Target} */
export const muxdHttpNpx = { ...muxdHttp, name: 'muxd-http-npx', seedOnly: true, start: startMuxd('http', { unwrap: false }) };

/** @param {string} path */
function readFileSafe(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

// ------------------------------------------------------------------- peers

/** @param {keyof typeof PEER_BINS} name */
function peerMissing(name) {
  return existsSync(PEER_BINS[name]) ? undefined : `not installed (npm ci in scripts/bench failed or was skipped)`;
}

/**
 * A peer that serves each server on its own Streamable HTTP port (one
 * gateway process per server): `argv(server, port)` is its command line.
 * @param {string} bin
 * @param {(server: ServerSpec, port: number) => string[]} argv
 * @returns {Target['start']}
 */
function gatewayPerServer(bin, argv) {
  return async (run, id, servers) => {
    const dir = join(run.tmp, id);
    mkdirSync(dir, { recursive: true });
    /** @type {Map<string, number>} */
    const ports = new Map();
    const daemons = await Promise.all(
      servers.map(async (server) => {
        const port = await freePort();
        ports.set(server.name, port);
        const daemon = spawnDaemon(run, id, argv(server, port), { cwd: server.cwd, env: serverEnv(server), log: join(dir, `${server.name}.log`) });
        // It connects its child before it listens.
        await waitFor(`${bin} for ${server.name} to listen`, async () => {
          daemon.check();
          return canConnect(port);
        });
        return daemon;
      }),
    );
    /** @type {Session[]} */
    const sessions = [];
    return {
      async connect(name) {
        const server = findServer(servers, name);
        const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${ports.get(name)}/mcp`));
        const session = await openSession(transport, server);
        sessions.push(session);
        return session;
      },
      processes: () => deploymentProcesses(id),
      serverPids: (name) => serverProcesses(id, name),
      stop: () => teardown(id, sessions, daemons.map((d) => d.pid)),
    };
  };
}

/** @type {Target} */
export const mcpProxy = {
  name: 'mcp-proxy',
  aggregates: false,
  processPerSession: false,
  peer: true,
  unavailable: () => peerMissing('mcp-proxy'),
  start: gatewayPerServer('mcp-proxy', (server, port) => [
    process.execPath,
    PEER_BINS['mcp-proxy'],
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--server',
    'stream',
    '--',
    server.command,
    ...server.args,
  ]),
};

/** @type {Target} */
export const mcpHub = {
  name: 'mcp-hub',
  aggregates: true,
  processPerSession: false,
  peer: true,
  unavailable: () => peerMissing('mcp-hub'),
  async start(run, id, servers) {
    const dir = join(run.tmp, id);
    const xdg = join(dir, 'xdg');
    // The hub fetches a marketplace catalog from the internet at start unless
    // its cache is fresh and non-empty: give it one, so the bench stays on loopback.
    const cache = join(xdg, 'data', 'mcp-hub', 'cache');
    mkdirSync(cache, { recursive: true });
    writeFileSync(
      join(cache, 'registry.json'),
      JSON.stringify({
        registry: { version: 'bench', generatedAt: Date.now(), totalServers: 1, servers: [{ id: 'placeholder', name: 'placeholder' }] },
        lastFetchedAt: Date.now(),
        serverDocumentation: {},
      }),
    );
    const configFile = join(dir, 'mcp-hub.json');
    const mcpServers = Object.fromEntries(
      servers.map((server) => [server.name, { command: server.command, args: server.args, cwd: server.cwd, env: serverEnv(server) }]),
    );
    writeFileSync(configFile, JSON.stringify({ mcpServers }, null, 2));
    const port = await freePort();
    const daemon = spawnDaemon(run, id, [process.execPath, PEER_BINS['mcp-hub'], '--port', String(port), '--config', configFile], {
      env: { XDG_DATA_HOME: join(xdg, 'data'), XDG_STATE_HOME: join(xdg, 'state'), XDG_CONFIG_HOME: join(xdg, 'config') },
      log: join(dir, 'mcp-hub.log'),
    });
    // It listens at once and connects its servers after; ready means all of them connected.
    await waitFor('mcp-hub servers to connect', async () => {
      daemon.check();
      if (!(await canConnect(port))) return false;
      try {
        const health = /** @type {{ servers?: { name: string, status: string }[] }} */ (await (await fetch(`http://127.0.0.1:${port}/api/health`)).json());
        const statuses = health.servers ?? [];
        return servers.every((server) => statuses.some((s) => s.name === server.name && s.status === 'connected'));
      } catch {
        return false;
      }
    }, 60_000, 25);
    /** @type {Session[]} */
    const sessions = [];
    return {
      async connect(name) {
        const server = findServer(servers, name);
        const transport = new SSEClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
        // The hub namespaces every tool with its server's name.
        const session = await openSession(transport, server, (spec) => `${spec.name}__${spec.tool}`);
        sessions.push(session);
        return session;
      },
      processes: () => deploymentProcesses(id),
      serverPids: (name) => serverProcesses(id, name),
      stop: () => teardown(id, sessions, [daemon.pid]),
    };
  },
};


/** @type {Target} */
export const supergateway = {
  name: 'supergateway',
  aggregates: false,
  processPerSession: true,
  spawnsPerSession: true,
  peer: true,
  unavailable: () => peerMissing('supergateway'),
  start: gatewayPerServer('supergateway', (server, port) => [
    process.execPath,
    PEER_BINS.supergateway,
    '--stdio',
    [server.command, ...server.args].map(shellQuote).join(' '),
    '--outputTransport',
    'streamableHttp',
    '--stateful',
    '--port',
    String(port),
    '--logLevel',
    'none',
  ]),
};

/** Every target, `direct` first: it is what every ratio is taken against. */
export const TARGETS = [direct, muxd, muxdHttp, muxdNpx, muxdHttpNpx, mcpProxy, mcpHub, supergateway, relays, httpRelay];
