/**
 * End-to-end harness: a real muxd (the built `packages/daemon/dist/main.js`)
 * with a config written to an `mkdtemp` home, real MCP servers as children,
 * and real SDK clients talking through a real mux-proxy process; muxctl runs
 * as a user runs it (`runMuxctl`), and `createHome` gives a home with no
 * daemon, for muxctl or mux-proxy to start one in the background. Everything a
 * helper starts is released by an after hook of the scope it was given (a
 * test's `t`, or `{ after }` from `node:test` for a whole file).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type {
  CallToolResult,
  ClientCapabilities,
  CreateMessageRequest,
  CreateMessageResult,
  ElicitRequest,
  ElicitResult,
  JSONRPCRequest,
  Root,
} from '@modelcontextprotocol/sdk/types.js';
import { processesWithEnv, readCmdline } from '../procfs.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MUXD_MAIN = join(ROOT, 'packages/daemon/dist/main.js');

/** Where hooks that release resources are registered: a `TestContext`, or `{ after }` from `node:test`. */
export interface Scope {
  after(fn: () => unknown): void;
}

/** One service as written in the config file (the YAML/JSON keys). */
export interface ServiceSpec {
  command: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  isolation?: 'shared' | 'per-client';
  lazy?: boolean;
  idleTimeout?: string | number | false;
  requestTimeout?: string | number | false;
  maxRequestBytes?: string | number;
  maxResponseBytes?: string | number;
  maxClientBuffer?: string | number;
  maxChildBuffer?: string | number;
  maxClients?: number;
  maxInflight?: number;
  restart?: { initialDelay?: string | number; maxDelay?: string | number; maxRestarts?: number; window?: string | number; resetAfter?: string | number };
  stopTimeout?: string | number | false;
  healthCheck?: { interval?: string | number; timeout?: string | number };
  maxMemory?: string | number;
  /** false keeps the service off the HTTP front. */
  http?: boolean;
}

/** `@modelcontextprotocol/server-everything` over stdio. */
export function everythingServer(extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    command: process.execPath,
    args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
    ...extra,
  };
}

/**
 * `@modelcontextprotocol/server-memory`, keeping its graph in `memoryFile`
 * (by default in muxd's home: muxd expands `${VAR}` from its environment).
 */
export function memoryServer(memoryFile = '${MUXD_HOME}/memory.jsonl', extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    command: process.execPath,
    args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js')],
    ...extra,
    env: { MEMORY_FILE_PATH: memoryFile, ...extra.env },
  };
}

/** One of the servers in `test/fixtures` (`probe`, `garbage`, `hang`, `hog`, `chatty`). */
export function fixtureServer(name: string, extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return { command: process.execPath, args: [join(ROOT, 'test/fixtures', `${name}.mjs`)], ...extra };
}

// ------------------------------------------------------------------ waiting

/**
 * Polls `probe` until it returns something other than undefined/false/null,
 * and returns that. Throws after `timeoutMs` naming `what` was awaited: time
 * only ever bounds the wait for an expected event, it never decides a verdict.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects if `promise` has not settled within `ms`, naming `what`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- processes

export { isAlive } from '../procfs.js';

/** The environment variable the harness adds to each service to find its children. */
const SERVICE_MARK = 'MUXD_E2E_SERVICE';

// --------------------------------------------------------------------- muxd

export interface LogEntry {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface MuxdOptions {
  /** The `defaults` block of the config. */
  defaults?: Partial<ServiceSpec>;
  /** The top-level `logs` block (rotation of every muxd log). */
  logs?: { maxSize?: string | number; keep?: number };
  /** Milliseconds to wait for "muxd ready". Default 15000. */
  readyTimeoutMs?: number;
  /** Pads the home's path to this many bytes (to bring socket paths near the OS limit). */
  homeLength?: number;
  /** The top-level `http` block (the Streamable HTTP front). */
  http?: { listen: string | number; allowNonLoopback?: boolean; maxBodyBytes?: string | number; sessionIdleTimeout?: string | number; sessionIdleAfter?: string | number };
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running muxd in its own home directory. */
export class Muxd {
  readonly home: string;
  readonly configFile: string;
  #process: ChildProcess;
  #exited: Promise<ExitStatus>;
  #stderr = '';
  #exitStatus: ExitStatus | undefined;

  constructor(home: string, configFile: string, child: ChildProcess) {
    this.home = home;
    this.configFile = configFile;
    this.#process = child;
    this.#exited = this.#watch(child);
  }

  #watch(child: ChildProcess): Promise<ExitStatus> {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => (this.#stderr += text));
    child.stdout?.resume();
    return new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitStatus = { code, signal };
        resolve(this.#exitStatus);
      });
    });
  }

  /** The current muxd process (a new one after `respawn`). */
  get process(): ChildProcess {
    return this.#process;
  }

  /** Settles when the current muxd process exits. */
  get exited(): Promise<ExitStatus> {
    return this.#exited;
  }

  get pid(): number {
    return this.#process.pid as number;
  }

  get running(): boolean {
    return this.#exitStatus === undefined;
  }

  /** Everything the current muxd process wrote to stderr (its JSON log, in the foreground). */
  get stderr(): string {
    return this.#stderr;
  }

  /** The daemon log, parsed. */
  daemonLog(): LogEntry[] {
    return parseLog(this.#stderr);
  }

  socketPath(service: string): string {
    return join(this.home, 'run', `${service}.sock`);
  }

  /** The control socket muxctl talks to. */
  get controlSocket(): string {
    return join(this.home, 'run', 'muxd.ctl');
  }

  /** The service's live log file. */
  serviceLogPath(service: string): string {
    return join(this.home, 'logs', 'services', service, 'current.log');
  }

  /** The service's log, parsed (empty when not written yet). */
  serviceLog(service: string): LogEntry[] {
    let text: string;
    try {
      text = readFileSync(this.serviceLogPath(service), 'utf8');
    } catch {
      return [];
    }
    return parseLog(text);
  }

  /** Waits until a line of the service log satisfies `match`; returns it. */
  waitForServiceLog(service: string, what: string, match: (entry: LogEntry) => boolean, timeoutMs = 10_000): Promise<LogEntry> {
    return waitFor(`service log of '${service}' to show ${what}`, () => this.serviceLog(service).find(match), timeoutMs);
  }

  /** Pids of the service's live child processes (muxd's reaper shell is not one of them). */
  childPids(service: string): number[] {
    return processesWithEnv(`${SERVICE_MARK}=${serviceMark(this.home, service)}`);
  }

  /** Waits until the service has exactly `count` children, and returns their pids. */
  waitForChildren(service: string, count: number, timeoutMs = 10_000): Promise<number[]> {
    return waitFor(`'${service}' to have ${count} child process(es)`, () => {
      const pids = this.childPids(service);
      return pids.length === count ? pids : undefined;
    }, timeoutMs);
  }

  /** Environment for a mux-proxy (or muxctl) talking to this muxd. */
  get env(): Record<string, string> {
    return { MUXD_HOME: this.home };
  }

  /** Connects a real SDK client through a real mux-proxy; closed by `scope`'s after hook. */
  connect(scope: Scope, service: string, options: ClientOptions = {}): Promise<TestClient> {
    return connectClient(scope, this, service, options);
  }

  /** Connects a raw socket to the service's data socket; destroyed by `scope`'s after hook. */
  rawConnect(scope: Scope, service: string): Promise<RawClient> {
    return RawClient.connect(scope, this.socketPath(service));
  }

  /** Runs `muxctl args...` against this muxd and collects what it prints. */
  muxctl(args: string[], options: MuxctlOptions = {}): Promise<MuxctlRun> {
    return runMuxctl(this.home, args, options);
  }

  /** Rewrites the config file (for `muxctl reload`), marked as `startMuxd` marks it. */
  writeConfig(services: Record<string, ServiceSpec>, options: MuxdOptions = {}): void {
    writeConfigFile(this.home, this.configFile, services, options);
  }

  /** Writes `text` as the config file, as it is: to test a broken one. */
  writeRawConfig(text: string): void {
    writeFileSync(this.configFile, text);
  }

  /**
   * Starts muxd again in the same home with the same config file, after the
   * previous process exited (`kill`, `stop`). The after hook of the original
   * `startMuxd` scope stops this one too.
   */
  async respawn(readyTimeoutMs = 15_000): Promise<void> {
    if (this.running) throw new Error(`muxd (pid ${this.pid}) is still running`);
    this.#stderr = '';
    this.#exitStatus = undefined;
    this.#process = spawnMuxd(this.home, this.configFile);
    this.#exited = this.#watch(this.#process);
    await this.ready(readyTimeoutMs);
  }

  /** Resolves once the current muxd process logged "muxd ready"; throws if it exited first. */
  async ready(timeoutMs = 15_000): Promise<void> {
    await waitFor('"muxd ready"', () => !this.running || this.daemonLog().some((entry) => entry.msg === 'muxd ready'), timeoutMs, 10);
    if (!this.running) throw new Error(`muxd exited before it was ready:\n${this.#stderr}`);
  }

  /** SIGTERM, then waits for muxd to exit (SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 15_000): Promise<ExitStatus> {
    if (this.#exitStatus) return this.#exitStatus;
    this.#process.kill('SIGTERM');
    const timer = setTimeout(() => this.#process.kill('SIGKILL'), timeoutMs);
    try {
      return await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL, as the OOM killer would; waits for the exit. */
  async kill(): Promise<ExitStatus> {
    if (this.#exitStatus) return this.#exitStatus;
    this.#process.kill('SIGKILL');
    return this.#exited;
  }

  /** Children of any service still alive (for the last-resort cleanup). */
  allChildPids(): number[] {
    return processesWithEnv(`${SERVICE_MARK}_HOME=${this.home}`);
  }
}

function spawnMuxd(home: string, configFile: string): ChildProcess {
  return spawn(process.execPath, [MUXD_MAIN, '--config', configFile], {
    env: { ...process.env, MUXD_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function parseLog(text: string): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      entries.push(JSON.parse(line) as LogEntry);
    } catch {
      // A line being written right now.
    }
  }
  return entries;
}

function serviceMark(home: string, service: string): string {
  return `${home}/${service}`;
}

/**
 * Writes the config file for `services`: each gets a short restart delay, a
 * short stop timeout, and the marks that let the harness find its children.
 */
function writeConfigFile(home: string, configFile: string, services: Record<string, ServiceSpec>, options: MuxdOptions): void {
  const marked: Record<string, ServiceSpec> = {};
  for (const [name, spec] of Object.entries(services)) {
    marked[name] = {
      restart: { initialDelay: '100ms' },
      stopTimeout: '3s',
      ...spec,
      env: { ...spec.env, [SERVICE_MARK]: serviceMark(home, name), [`${SERVICE_MARK}_HOME`]: home },
    };
  }
  const config: Record<string, unknown> = { services: marked };
  if (options.defaults) config['defaults'] = options.defaults;
  if (options.logs) config['logs'] = options.logs;
  if (options.http) config['http'] = options.http;
  writeFileSync(configFile, JSON.stringify(config, null, 2));
}

/** SIGKILLs each pid, ignoring those already gone. */
function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/**
 * Writes a config with `services` to a fresh home, starts muxd in the
 * foreground and resolves once it logs "muxd ready". `scope`'s after hook
 * stops it (SIGTERM), kills anything left behind, and removes the home.
 * `prepare` runs on the new home before muxd starts (to plant a broken
 * database, say).
 */
export async function startMuxd(
  scope: Scope,
  services: Record<string, ServiceSpec>,
  options: MuxdOptions & { prepare?: (home: string) => void } = {},
): Promise<Muxd> {
  // Short: socket paths must stay under 108 bytes.
  const base = mkdtempSync('/tmp/mx-');
  const home = options.homeLength ? join(base, 'h'.repeat(Math.max(1, options.homeLength - base.length - 1))) : base;
  if (home !== base) mkdirSync(home);
  const configFile = join(home, 'muxd.config.json');
  writeConfigFile(home, configFile, services, options);
  options.prepare?.(home);
  const muxd = new Muxd(home, configFile, spawnMuxd(home, configFile));
  scope.after(async () => {
    // Proxies first: one that lost its muxd would start another in this home.
    killAll(clientPids(home));
    await muxd.stop();
    // A test that broke muxd must not leave servers (or a daemon it started again) behind.
    await reapHome(home);
    rmSync(base, { recursive: true, force: true });
  });
  await muxd.ready(options.readyTimeoutMs ?? 15_000);
  return muxd;
}

// ------------------------------------------------------- muxctl, daemons

export const MUXCTL_BIN = join(ROOT, 'packages/cli/bin/muxctl.js');
/** The installed mux-proxy: its bin, which loads the bundle (dist/mux-proxy.cjs) hosts run. */
export const PROXY_BIN = join(ROOT, 'packages/proxy/bin/mux-proxy.js');

export interface MuxctlOptions {
  /** Working directory (where a daemon it starts looks for muxd.config.*). Default: the home. */
  cwd?: string;
  /** Added to the environment (after MUXD_HOME). */
  env?: Record<string, string>;
  /** Milliseconds before muxctl is killed and the run rejected. Default 30000. */
  timeoutMs?: number;
}

/** What one muxctl run printed, and how it ended. */
export interface MuxctlRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON; throws with both streams when it is not. */
  json<T = Record<string, unknown>>(): T;
  /** The non-empty lines of stderr. */
  stderrLines(): string[];
}

/** The environment muxctl and mux-proxy get: this process's, minus any config override, plus MUXD_HOME. */
function clientEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, MUXD_HOME: home, ...extra };
  if (!('MUXD_CONFIG' in extra)) delete env['MUXD_CONFIG'];
  return env;
}

/** Runs `muxctl args...` with MUXD_HOME=`home` and resolves once it exits. */
export function runMuxctl(home: string, args: string[], options: MuxctlOptions = {}): Promise<MuxctlRun> {
  const child = spawn(process.execPath, [MUXCTL_BIN, ...args], {
    cwd: options.cwd ?? home,
    env: clientEnv(home, options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`muxctl ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        json<T>() {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new Error(`muxctl ${args.join(' ')} printed no JSON (exit ${code})\nstdout: ${stdout}\nstderr: ${stderr}`);
          }
        },
        stderrLines: () => stderr.split('\n').filter((line) => line !== ''),
      });
    });
  });
}

/** A muxctl that keeps running (`logs -f`), killed by `scope`'s after hook if still alive. */
export interface RunningMuxctl {
  process: ChildProcess;
  stdout(): string;
  exited: Promise<ExitStatus>;
}

export function spawnMuxctl(scope: Scope, home: string, args: string[], options: MuxctlOptions = {}): RunningMuxctl {
  const child = spawn(process.execPath, [MUXCTL_BIN, ...args], {
    cwd: options.cwd ?? home,
    env: clientEnv(home, options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.resume();
  const exited = new Promise<ExitStatus>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  scope.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { process: child, stdout: () => stdout, exited };
}

/** Live muxd processes (packages/daemon/dist/main.js) whose MUXD_HOME is `home`. */
export function daemonPids(home: string): number[] {
  return processesWithEnv(`MUXD_HOME=${home}`).filter((pid) => readCmdline(pid)?.includes(MUXD_MAIN) ?? false);
}

/**
 * Kills every process of `home` (clients, daemons, children) until none is
 * seen twice in a row: a client killed while starting a daemon may leave one
 * starting just after a scan. Then removes the home.
 */
async function reapHome(home: string): Promise<void> {
  let quiet = 0;
  const deadline = Date.now() + 5000;
  while (quiet < 2 && Date.now() < deadline) {
    const pids = processesWithEnv(`MUXD_HOME=${home}`, `${SERVICE_MARK}_HOME=${home}`).filter((pid) => pid !== process.pid);
    if (pids.length === 0) quiet++;
    else quiet = 0;
    killAll(pids);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  rmSync(home, { recursive: true, force: true });
}

/** mux-proxy and muxctl processes of `home` (everything with its MUXD_HOME but the daemons and this process). */
function clientPids(home: string): number[] {
  const daemons = new Set(daemonPids(home));
  return processesWithEnv(`MUXD_HOME=${home}`).filter((pid) => pid !== process.pid && !daemons.has(pid));
}

/** A muxd home with a config file and no daemon: muxctl or mux-proxy start one in the background. */
export interface Home {
  home: string;
  configFile: string;
  env: Record<string, string>;
  muxctl(args: string[], options?: MuxctlOptions): Promise<MuxctlRun>;
  daemonPids(): number[];
  /** Pids of the service's live child processes. */
  childPids(service: string): number[];
}

/**
 * Makes a fresh home holding `muxd.config.json` (found by a daemon started
 * with the home as its working directory, as muxctl here runs). `scope`'s
 * after hook stops any daemon running for it (SIGTERM, then SIGKILL), kills
 * any child left behind, and removes the home.
 */
export function createHome(scope: Scope, services: Record<string, ServiceSpec>, options: MuxdOptions = {}): Home {
  const home = mkdtempSync('/tmp/mx-');
  const configFile = join(home, 'muxd.config.json');
  writeConfigFile(home, configFile, services, options);
  scope.after(async () => {
    // Proxies first: one that lost its muxd would start another in this home.
    killAll(clientPids(home));
    for (const pid of daemonPids(home)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Gone meanwhile.
      }
    }
    await waitFor('the background muxd to exit', () => daemonPids(home).length === 0, 15_000).catch(() => undefined);
    await reapHome(home);
  });
  return {
    home,
    configFile,
    env: { MUXD_HOME: home },
    muxctl: (args, muxctlOptions) => runMuxctl(home, args, muxctlOptions),
    daemonPids: () => daemonPids(home),
    childPids: (service) => processesWithEnv(`${SERVICE_MARK}=${serviceMark(home, service)}`),
  };
}

// ------------------------------------------------------------------ clients

export interface ClientOptions {
  /** clientInfo.name. */
  name?: string;
  capabilities?: ClientCapabilities;
  /** Answers sampling/createMessage (declares `sampling`). */
  onSampling?: (request: CreateMessageRequest) => CreateMessageResult | Promise<CreateMessageResult>;
  /** Answers elicitation/create (declares `elicitation`). */
  onElicitation?: (request: ElicitRequest) => ElicitResult | Promise<ElicitResult>;
  /** Answers roots/list with these roots (declares `roots`). */
  roots?: Root[];
}

/** An SDK client behind its own mux-proxy process. */
export interface TestClient {
  client: Client;
  transport: StdioClientTransport;
  /** The mux-proxy process. */
  proxyPid: number;
  /** Server->client requests this client got that it had no handler for: a misroute. */
  unexpectedRequests: JSONRPCRequest[];
  /** Errors the SDK reported (unknown response ids, unknown progress tokens, bad messages). */
  errors: Error[];
  /** What mux-proxy wrote to stderr. */
  proxyStderr(): string;
  /** Calls a tool and returns the text of its content. */
  callText(name: string, args?: Record<string, unknown>, options?: Parameters<Client['callTool']>[2]): Promise<string>;
  close(): Promise<void>;
}

async function connectClient(scope: Scope, muxd: Muxd, service: string, options: ClientOptions): Promise<TestClient> {
  const capabilities: ClientCapabilities = { ...options.capabilities };
  if (options.onSampling) capabilities.sampling ??= {};
  if (options.onElicitation) capabilities.elicitation ??= {};
  if (options.roots) capabilities.roots ??= { listChanged: true };
  const client = new Client({ name: options.name ?? 'e2e', version: '1.0.0' }, { capabilities });
  const unexpectedRequests: JSONRPCRequest[] = [];
  const errors: Error[] = [];
  client.fallbackRequestHandler = async (request) => {
    unexpectedRequests.push(request);
    throw new Error(`unexpected request ${request.method}`);
  };
  client.onerror = (error) => errors.push(error);
  if (options.onSampling) {
    const handler = options.onSampling;
    client.setRequestHandler(CreateMessageRequestSchema, (request) => handler(request));
  }
  if (options.onElicitation) {
    const handler = options.onElicitation;
    client.setRequestHandler(ElicitRequestSchema, (request) => handler(request));
  }
  if (options.roots) {
    const roots = options.roots;
    client.setRequestHandler(ListRootsRequestSchema, () => ({ roots }));
  }
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [PROXY_BIN, service],
    env: muxd.env,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await client.close();
  };
  scope.after(close);
  await within(client.connect(transport), 15_000, `client of '${service}' to initialize`);
  return {
    client,
    transport,
    proxyPid: transport.pid as number,
    unexpectedRequests,
    errors,
    proxyStderr: () => stderr,
    async callText(name, args = {}, callOptions) {
      const result = (await client.callTool({ name, arguments: args }, undefined, callOptions)) as CallToolResult;
      return toolText(result);
    },
    close,
  };
}

/** The text parts of a tool result, joined by newlines. */
export function toolText(result: CallToolResult): string {
  return result.content
    .filter((part): part is { type: 'text'; text: string } => part.type === 'text')
    .map((part) => part.text)
    .join('\n');
}

// -------------------------------------------------------------- raw sockets

/** A bare connection to a service socket, speaking NDJSON by hand. */
export class RawClient {
  readonly socket: Socket;
  /** Every line received, parsed (or `{ unparsed: line }`). */
  readonly messages: Array<Record<string, unknown>> = [];
  /** Every line received, as it came (to check ids byte for byte). */
  readonly lines: string[] = [];
  readonly closed: Promise<void>;
  #buffer = '';

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.#buffer += text;
      let newline: number;
      while ((newline = this.#buffer.indexOf('\n')) !== -1) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        this.lines.push(line);
        try {
          this.messages.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.messages.push({ unparsed: line });
        }
      }
    });
    socket.on('error', () => undefined);
  }

  static connect(scope: Scope, path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        const raw = new RawClient(socket);
        scope.after(() => socket.destroy());
        resolve(raw);
      });
    });
  }

  /** Writes one line: a message (serialized) or raw text (a newline is added). */
  send(message: object | string): boolean {
    return this.socket.write((typeof message === 'string' ? message : JSON.stringify(message)) + '\n');
  }

  /** Sends initialize and notifications/initialized, and waits for the answer. */
  async initialize(id: number | string = 'init'): Promise<Record<string, unknown>> {
    this.send({
      jsonrpc: '2.0',
      id,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1.0.0' } },
    });
    const answer = await this.waitFor(`initialize answer`, (message) => message['id'] === id);
    this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return answer;
  }

  waitFor(what: string, match: (message: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    return waitFor(`raw client to receive ${what}`, () => this.messages.find(match), timeoutMs);
  }
}
