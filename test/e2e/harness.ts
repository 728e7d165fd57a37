/**
 * End-to-end harness: a real muxd (the built `packages/daemon/dist/main.js`)
 * with a config written to an `mkdtemp` home, real MCP servers as children,
 * and real SDK clients talking through a real mux-proxy process. Everything a
 * helper starts is released by an after hook of the scope it was given (a
 * test's `t`, or `{ after }` from `node:test` for a whole file).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MUXD_MAIN = join(ROOT, 'packages/daemon/dist/main.js');
export const PROXY_MAIN = join(ROOT, 'packages/proxy/dist/main.js');

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
  maxClients?: number;
  maxInflight?: number;
  restart?: { initialDelay?: string | number; maxDelay?: string | number; maxRestarts?: number; window?: string | number; resetAfter?: string | number };
  stopTimeout?: string | number | false;
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

/** One of the servers in `test/fixtures` (`probe`, `garbage`). */
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

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Live processes whose environment holds `NAME=value`. */
function processesWithEnv(name: string, value: string): number[] {
  const needle = Buffer.from(`\0${name}=${value}\0`);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let environ: Buffer;
    try {
      // Each entry ends with a NUL; one in front makes the first entry match too.
      environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`)]);
    } catch {
      continue;
    }
    if (environ.includes(needle) && isAlive(pid)) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

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
  /** Milliseconds to wait for "muxd ready". Default 15000. */
  readyTimeoutMs?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running muxd in its own home directory. */
export class Muxd {
  readonly home: string;
  readonly configFile: string;
  readonly process: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  #stderr = '';
  #exitStatus: ExitStatus | undefined;

  constructor(home: string, configFile: string, child: ChildProcess) {
    this.home = home;
    this.configFile = configFile;
    this.process = child;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => (this.#stderr += text));
    child.stdout?.resume();
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitStatus = { code, signal };
        resolve(this.#exitStatus);
      });
    });
  }

  get pid(): number {
    return this.process.pid as number;
  }

  get running(): boolean {
    return this.#exitStatus === undefined;
  }

  /** Everything muxd wrote to stderr (its JSON log, in the foreground). */
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
    return processesWithEnv(SERVICE_MARK, this.#mark(service));
  }

  /** Waits until the service has exactly `count` children, and returns their pids. */
  waitForChildren(service: string, count: number, timeoutMs = 10_000): Promise<number[]> {
    return waitFor(`'${service}' to have ${count} child process(es)`, () => {
      const pids = this.childPids(service);
      return pids.length === count ? pids : undefined;
    }, timeoutMs);
  }

  #mark(service: string): string {
    return `${this.home}/${service}`;
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

  /** SIGTERM, then waits for muxd to exit (SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 15_000): Promise<ExitStatus> {
    if (this.#exitStatus) return this.#exitStatus;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL, as the OOM killer would; waits for the exit. */
  async kill(): Promise<ExitStatus> {
    if (this.#exitStatus) return this.#exitStatus;
    this.process.kill('SIGKILL');
    return this.exited;
  }

  /** Children of any service still alive (for the last-resort cleanup). */
  allChildPids(): number[] {
    return processesWithEnv(SERVICE_MARK + '_HOME', this.home);
  }
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

/**
 * Writes a config with `services` to a fresh home, starts muxd in the
 * foreground and resolves once it logs "muxd ready". `scope`'s after hook
 * stops it (SIGTERM), kills anything left behind, and removes the home.
 */
export async function startMuxd(scope: Scope, services: Record<string, ServiceSpec>, options: MuxdOptions = {}): Promise<Muxd> {
  // Short: socket paths must stay under 108 bytes.
  const home = mkdtempSync('/tmp/mx-');
  const marked: Record<string, ServiceSpec> = {};
  for (const [name, spec] of Object.entries(services)) {
    marked[name] = {
      restart: { initialDelay: '100ms' },
      stopTimeout: '3s',
      ...spec,
      env: { ...spec.env, [SERVICE_MARK]: `${home}/${name}`, [`${SERVICE_MARK}_HOME`]: home },
    };
  }
  const config: Record<string, unknown> = { services: marked };
  if (options.defaults) config['defaults'] = options.defaults;
  const configFile = join(home, 'muxd.config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  const child = spawn(process.execPath, [MUXD_MAIN, '--config', configFile], {
    env: { ...process.env, MUXD_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const muxd = new Muxd(home, configFile, child);
  scope.after(async () => {
    await muxd.stop();
    // A test that broke muxd must not leave servers behind.
    for (const pid of muxd.allChildPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    rmSync(home, { recursive: true, force: true });
  });
  const ready = waitFor('"muxd ready"', () => !muxd.running || muxd.daemonLog().some((entry) => entry.msg === 'muxd ready'), options.readyTimeoutMs ?? 15_000, 10);
  await ready;
  if (!muxd.running) throw new Error(`muxd exited before it was ready:\n${muxd.stderr}`);
  return muxd;
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
    args: [PROXY_MAIN, service],
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
