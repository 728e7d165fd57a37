import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { MuxError, MuxErrorCodes } from '@muxd/protocol';
import { isPrototypeKey, isValidServiceName } from '@muxd/protocol/paths';
import { isLoopbackHost, parseListen } from './listen.js';
import { parseDuration, parseSize } from './units.js';
import { expandPath } from './expandPath.js';
import { expandVariables } from './variables.js';

/** How clients share a service's child. */
export const Isolation = {
  /** One child for every client (the default). */
  Shared: 'shared',
  /** One supervised child per client session, for servers with per-session state. */
  PerClient: 'per-client',
} as const;
export type Isolation = (typeof Isolation)[keyof typeof Isolation];

/** One service, fully resolved: every duration in ms, every size in bytes. */
export interface ServiceConfig {
  name: string;
  command: string;
  args: string[];
  /** Added to muxd's own environment. Values are secrets: never log them. */
  env: Record<string, string>;
  cwd: string;
  isolation: Isolation;
  /** Start the child on the first client rather than with the daemon. */
  lazy: boolean;
  /** Stop the child after this long without clients; 0 never. */
  idleTimeoutMs: number;
  requestTimeoutMs: number;
  /** Largest line a client may send. */
  maxRequestBytes: number;
  /** Largest line the child may send. */
  maxResponseBytes: number;
  /** Bytes queued for a client that does not read before it is disconnected. */
  maxClientBuffer: number;
  /**
   * Bytes waiting to be written to the child's stdin. A request that would
   * pass it fails at once; a child that stays over it is restarted as hung.
   */
  maxChildBuffer: number;
  maxClients: number;
  /** Per client. */
  maxInflight: number;
  restart: {
    initialDelayMs: number;
    maxDelayMs: number;
    /** Give up (status errored) after this many restarts within `windowMs`. */
    maxRestarts: number;
    windowMs: number;
    /** A child that stayed up this long resets the backoff. */
    resetAfterMs: number;
  };
  /** Grace period between SIGTERM and SIGKILL when stopping. */
  stopTimeoutMs: number;
  /** Ping the server this often (0: never); no answer within `timeoutMs` restarts it (reason hung). */
  healthCheck: { intervalMs: number; timeoutMs: number };
  /** Restart when the child's process tree uses more resident memory than this (reason memory); 0: no limit. */
  maxMemoryBytes: number;
  /** Reachable at `/mcp/<name>` on the HTTP front when that is enabled (default true). */
  http: boolean;
  /** Run a package runner's bin (`npx pkg`) directly, without the runner (default true). */
  unwrap: boolean;
}

/** The Streamable HTTP front: one listener for the daemon, `/mcp/<service>` per service. */
export interface HttpConfig {
  /** Address to bind: an IP literal or `localhost`. */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Set to bind a non-loopback address (muxd warns when it does). */
  allowNonLoopback: boolean;
  /** Largest request body, in bytes (a service's smaller `maxRequestBytes` wins). */
  maxBodyBytes: number;
  /** An HTTP session with no open stream and nothing in flight for this long is ended; 0 never. */
  sessionIdleTimeoutMs: number;
  /**
   * A session with no open stream and nothing in flight for this long
   * counts as idle: listed apart, and it keeps no lazy service's child up.
   * Hosts often leave sessions without ending them.
   */
  sessionIdleAfterMs: number;
}

/** Size-based rotation of every muxd log file. */
export interface LogRotation {
  /** Rotate when the current file passes this many bytes. */
  maxSizeBytes: number;
  /** Rotated files kept besides the current one; older ones are deleted. */
  keep: number;
}

export interface MuxConfig {
  /** The file it came from; '' when muxd runs without one. */
  file: string;
  logs: LogRotation;
  /** The `defaults` block, as written (ad-hoc services use it too). */
  defaults: Tunables;
  services: Map<string, ServiceConfig>;
  /** Entries that were skipped, with why (remote servers, disabled entries). */
  notes: string[];
  /** The HTTP front; undefined when the config has no `http` block (the default: off). */
  http?: HttpConfig | undefined;
  /** Where muxd keeps a JSON copy of `muxctl ls --json` (absolute); undefined: nowhere (the default). */
  statusFile?: string | undefined;
}

/**
 * Longest duration a config may give, in ms: Node's timers hold 2^31-1 ms
 * (about 24.8 days) and fire after 1 ms for anything longer.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Largest message size (`maxRequestBytes`, `maxResponseBytes`,
 * `http.maxBodyBytes`): a message is decoded into one JavaScript string,
 * which V8 caps at about 512 MiB, and parsed whole.
 */
export const MAX_MESSAGE_BYTES = 256 * 1024 ** 2;

/** Largest buffer or log file size (`maxClientBuffer`, `maxChildBuffer`, `logs.maxSize`): more is memory or disk no one means to spend. */
export const MAX_BUFFER_BYTES = 1024 ** 3;

/** A duration in ms: a number of ms, a string such as "30s", or false for 0 (never). */
const duration = z.union([z.number(), z.string(), z.literal(false)]).transform((value, ctx) => {
  if (value === false) return 0;
  const parsed = parseDuration(value);
  if (parsed === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as "30s" or "10m", got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  if (parsed > MAX_DURATION_MS) {
    ctx.addIssue({ code: 'custom', message: `at most 24d (${MAX_DURATION_MS} ms), got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return parsed;
});

/**
 * A size in bytes, at most `max` (`label` says it in units, e.g. "256MiB").
 * With `none`, 0 and false are accepted too, as 0 (no limit).
 */
const size = (max: number, label: string, none = false) =>
  z.union([z.number(), z.string(), z.literal(false)]).transform((value, ctx) => {
    if (none && (value === 0 || value === false)) return 0;
    const parsed = value === false ? undefined : parseSize(value);
    if (parsed === undefined || parsed === 0) {
      ctx.addIssue({ code: 'custom', message: `expected a size such as "512KiB" or "8MiB", got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    if (parsed > max) {
      ctx.addIssue({ code: 'custom', message: `at most ${label} (${max} bytes), got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return parsed;
  });

const messageSize = size(MAX_MESSAGE_BYTES, '256MiB');
const bufferSize = size(MAX_BUFFER_BYTES, '1GiB');
/** maxMemory: any byte count a number holds exactly; 0 or false for no limit. */
const memorySize = size(Number.MAX_SAFE_INTEGER, '8PiB', true);

const count = z.number().int().positive();

const healthCheckSchema = z.strictObject({
  interval: duration.optional(),
  timeout: duration.optional(),
});

const restartSchema = z.strictObject({
  initialDelay: duration.optional(),
  maxDelay: duration.optional(),
  maxRestarts: z.number().int().nonnegative().optional(),
  window: duration.optional(),
  resetAfter: duration.optional(),
});

/** Keys a service and the `defaults` block share. */
const tunables = {
  isolation: z.enum(['shared', 'per-client']).optional(),
  lazy: z.boolean().optional(),
  idleTimeout: duration.optional(),
  requestTimeout: duration.optional(),
  maxRequestBytes: messageSize.optional(),
  maxResponseBytes: messageSize.optional(),
  maxClientBuffer: bufferSize.optional(),
  maxChildBuffer: bufferSize.optional(),
  maxClients: count.optional(),
  maxInflight: count.optional(),
  restart: restartSchema.optional(),
  stopTimeout: duration.optional(),
  healthCheck: healthCheckSchema.optional(),
  maxMemory: memorySize.optional(),
  unwrap: z.boolean().optional(),
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
};

const serviceSchema = z.strictObject({
  command: z.string().min(1, 'expected the command that starts the MCP server'),
  args: z.array(z.union([z.string(), z.number()]).transform(String)).optional(),
  cwd: z.string().optional(),
  disabled: z.boolean().optional(),
  http: z.boolean().optional(),
  ...tunables,
});

/** A Claude Desktop style entry: muxd runs stdio ones and notes the rest. */
const hostEntrySchema = z.looseObject({
  command: z.string().optional(),
  args: z.array(z.union([z.string(), z.number()]).transform(String)).optional(),
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
  cwd: z.string().optional(),
  url: z.string().optional(),
  type: z.string().optional(),
  disabled: z.boolean().optional(),
});

export const HTTP_DEFAULTS = {
  maxBodyBytes: 8 * 1024 ** 2,
  sessionIdleTimeoutMs: 30 * 60_000,
  sessionIdleAfterMs: 60_000,
} as const;

const httpSchema = z.strictObject({
  listen: z.union([z.string(), z.number().int()]),
  allowNonLoopback: z.boolean().optional(),
  maxBodyBytes: messageSize.optional(),
  sessionIdleTimeout: duration.optional(),
  sessionIdleAfter: duration.optional(),
});

const fileSchema = z.strictObject({
  services: z.record(z.string(), serviceSchema).optional(),
  mcpServers: z.record(z.string(), hostEntrySchema).optional(),
  defaults: z.strictObject(tunables).optional(),
  logs: z.strictObject({ maxSize: bufferSize.optional(), keep: z.number().int().positive().optional() }).optional(),
  http: httpSchema.optional(),
  statusFile: z.string().min(1, 'expected a file path, such as ~/.cache/muxd/status.json').optional(),
  $schema: z.string().optional(),
});

type ServiceInput = z.infer<typeof serviceSchema>;
type Tunables = z.infer<z.ZodObject<typeof tunables>>;

export const SERVICE_DEFAULTS = {
  isolation: Isolation.Shared,
  lazy: true,
  /** Only for lazy services: an eager one is meant to stay up. */
  idleTimeoutMs: 10 * 60_000,
  requestTimeoutMs: 2 * 60_000,
  maxRequestBytes: 8 * 1024 ** 2,
  maxResponseBytes: 64 * 1024 ** 2,
  maxClientBuffer: 16 * 1024 ** 2,
  maxChildBuffer: 32 * 1024 ** 2,
  maxClients: 256,
  maxInflight: 256,
  restart: { initialDelayMs: 1000, maxDelayMs: 30_000, maxRestarts: 5, windowMs: 5 * 60_000, resetAfterMs: 60_000 },
  stopTimeoutMs: 5000,
  healthCheck: { intervalMs: 30_000, timeoutMs: 10_000 },
  maxMemoryBytes: 0,
} as const;

export const LOG_DEFAULTS: LogRotation = { maxSizeBytes: 10 * 1024 ** 2, keep: 5 };

/** Expands the variables of one config string; `where` is its key path. */
type Expand = (text: string, where: string) => string;

function resolveService(name: string, input: ServiceInput, defaults: Tunables, baseDir: string, expand: Expand): ServiceConfig {
  const at = (key: string) => `services.${name}.${key}`;
  const restart = { ...defaults.restart, ...input.restart };
  const lazy = input.lazy ?? defaults.lazy ?? SERVICE_DEFAULTS.lazy;
  const cwd = input.cwd === undefined ? baseDir : expand(input.cwd, at('cwd'));
  // fromEntries defines keys: none is lost or taken for a prototype, whoever named them.
  const serviceEnv = Object.fromEntries(Object.entries({ ...defaults.env, ...input.env }).map(([key, value]) => [key, expand(value, at(`env.${key}`))]));
  return {
    name,
    command: expand(input.command, at('command')),
    args: (input.args ?? []).map((arg, index) => expand(arg, at(`args[${index}]`))),
    env: serviceEnv,
    cwd: isAbsolute(cwd) ? cwd : resolve(baseDir, cwd),
    isolation: input.isolation ?? defaults.isolation ?? SERVICE_DEFAULTS.isolation,
    lazy,
    // An eager service is meant to stay up: only its own idleTimeout stops it.
    idleTimeoutMs: input.idleTimeout ?? (lazy ? (defaults.idleTimeout ?? SERVICE_DEFAULTS.idleTimeoutMs) : 0),
    requestTimeoutMs: input.requestTimeout ?? defaults.requestTimeout ?? SERVICE_DEFAULTS.requestTimeoutMs,
    maxRequestBytes: input.maxRequestBytes ?? defaults.maxRequestBytes ?? SERVICE_DEFAULTS.maxRequestBytes,
    maxResponseBytes: input.maxResponseBytes ?? defaults.maxResponseBytes ?? SERVICE_DEFAULTS.maxResponseBytes,
    maxClientBuffer: input.maxClientBuffer ?? defaults.maxClientBuffer ?? SERVICE_DEFAULTS.maxClientBuffer,
    maxChildBuffer: input.maxChildBuffer ?? defaults.maxChildBuffer ?? SERVICE_DEFAULTS.maxChildBuffer,
    maxClients: input.maxClients ?? defaults.maxClients ?? SERVICE_DEFAULTS.maxClients,
    maxInflight: input.maxInflight ?? defaults.maxInflight ?? SERVICE_DEFAULTS.maxInflight,
    restart: {
      initialDelayMs: restart.initialDelay ?? SERVICE_DEFAULTS.restart.initialDelayMs,
      maxDelayMs: restart.maxDelay ?? SERVICE_DEFAULTS.restart.maxDelayMs,
      maxRestarts: restart.maxRestarts ?? SERVICE_DEFAULTS.restart.maxRestarts,
      windowMs: restart.window ?? SERVICE_DEFAULTS.restart.windowMs,
      resetAfterMs: restart.resetAfter ?? SERVICE_DEFAULTS.restart.resetAfterMs,
    },
    stopTimeoutMs: input.stopTimeout ?? defaults.stopTimeout ?? SERVICE_DEFAULTS.stopTimeoutMs,
    healthCheck: {
      intervalMs: input.healthCheck?.interval ?? defaults.healthCheck?.interval ?? SERVICE_DEFAULTS.healthCheck.intervalMs,
      timeoutMs: input.healthCheck?.timeout ?? defaults.healthCheck?.timeout ?? SERVICE_DEFAULTS.healthCheck.timeoutMs,
    },
    maxMemoryBytes: input.maxMemory ?? defaults.maxMemory ?? SERVICE_DEFAULTS.maxMemoryBytes,
    http: input.http ?? true,
    unwrap: input.unwrap ?? defaults.unwrap ?? true,
  };
}

function resolveHttp(input: z.infer<typeof httpSchema>, file: string): HttpConfig {
  const listen = parseListen(input.listen);
  if (!listen) {
    throw new MuxError(MuxErrorCodes.ConfigInvalid, `${file}: http.listen: expected HOST:PORT with an IP address or localhost, such as "127.0.0.1:7777", got ${JSON.stringify(input.listen)}`);
  }
  const allowNonLoopback = input.allowNonLoopback ?? false;
  if (!isLoopbackHost(listen.host) && !allowNonLoopback) {
    throw new MuxError(
      MuxErrorCodes.ConfigInvalid,
      `${file}: http.listen: ${listen.host} is not a loopback address; anyone who can reach it could try the token. Set http.allowNonLoopback: true to bind it anyway`,
    );
  }
  return {
    ...listen,
    allowNonLoopback,
    maxBodyBytes: input.maxBodyBytes ?? HTTP_DEFAULTS.maxBodyBytes,
    sessionIdleTimeoutMs: input.sessionIdleTimeout ?? HTTP_DEFAULTS.sessionIdleTimeoutMs,
    sessionIdleAfterMs: input.sessionIdleAfter ?? HTTP_DEFAULTS.sessionIdleAfterMs,
  };
}

/** Why `name` is no service name. */
function serviceNameProblem(name: string): string {
  return isPrototypeKey(name)
    ? `"${name}" is a name every JavaScript object has, so muxd cannot keep a service under it; choose another`
    : `service names use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)`;
}

/**
 * What must be caught in the config as parsed, before validation turns it
 * into new objects: service names that are no file names or that every
 * JavaScript object has, a `__proto__` key anywhere (assigning it would set
 * a prototype, and the key and what it holds would vanish), and an object
 * whose prototype was set (`__proto__:` in a JavaScript config). Returns one
 * line per problem.
 */
function keyProblems(raw: unknown, file: string): string[] {
  const problems: string[] = [];
  const named = new Set<unknown>();
  if (isRecord(raw)) {
    for (const section of ['services', 'mcpServers']) {
      const map = Object.hasOwn(raw, section) ? raw[section] : undefined;
      if (!isRecord(map)) continue;
      named.add(map);
      for (const name of Object.keys(map)) if (!isValidServiceName(name)) problems.push(`${file}: ${section}.${name}: ${serviceNameProblem(name)}`);
    }
  }
  const seen = new Set<unknown>();
  const stack: Array<[unknown, string[]]> = [[raw, []]];
  while (stack.length > 0) {
    const [value, path] = stack.pop() as [unknown, string[]];
    if (typeof value !== 'object' || value === null || seen.has(value)) continue;
    seen.add(value);
    const where = path.length > 0 ? path.join('.') : '(top level)';
    if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push([item, [...path, String(index)]]));
      continue;
    }
    const prototype = Object.getPrototypeOf(value) as unknown;
    if (prototype !== Object.prototype && prototype !== null && Object.prototype.toString.call(value) === '[object Object]') {
      problems.push(`${file}: ${where}: its prototype is set (a "__proto__" key in a JavaScript config does that); write plain keys`);
    }
    for (const key of Object.keys(value)) {
      if (key === '__proto__' && !named.has(value)) problems.push(`${file}: ${[...path, key].join('.')}: "__proto__" cannot be a key (it would set a prototype and vanish); remove it`);
      stack.push([(value as Record<string, unknown>)[key], [...path, key]]);
    }
  }
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function formatIssues(file: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
      let message = issue.message;
      if (issue.code === 'unrecognized_keys') message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
      return `${file}: ${path}: ${message}`;
    })
    .join('\n');
}

/**
 * Validates a parsed config object and resolves it into services.
 * Throws `MuxError` (`MUX_CONFIG_INVALID`) naming the file, the key path
 * and what was expected.
 */
export function resolveConfig(raw: unknown, file: string, env: NodeJS.ProcessEnv = process.env): MuxConfig {
  if (raw === null || raw === undefined) raw = {};
  const problems = keyProblems(raw, file);
  if (problems.length > 0) throw new MuxError(MuxErrorCodes.ConfigInvalid, problems.join('\n'));
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new MuxError(MuxErrorCodes.ConfigInvalid, formatIssues(file, parsed.error));
  const { services = {}, mcpServers = {}, defaults = {}, logs = {}, http, statusFile } = parsed.data;
  const baseDir = dirname(file);
  const result = new Map<string, ServiceConfig>();
  const notes: string[] = [];
  const add = (name: string, input: ServiceInput, section: string) => {
    if (result.has(name)) throw new MuxError(MuxErrorCodes.ConfigInvalid, `${file}: ${section}.${name}: defined twice (in services and mcpServers)`);
    if (input.disabled) {
      notes.push(`${name}: disabled`);
      return;
    }
    result.set(name, resolveService(name, input, defaults, baseDir, (text, where) => expandVariables(text, env, where, file)));
  };
  for (const [name, input] of Object.entries(services)) add(name, input, 'services');
  for (const [name, entry] of Object.entries(mcpServers)) {
    if (!entry.command) {
      notes.push(`${name}: skipped, ${entry.url ? `a remote server (${entry.type ?? 'http'})` : 'no command'}; muxd runs stdio servers`);
      continue;
    }
    const input: ServiceInput = { command: entry.command };
    if (entry.args) input.args = entry.args;
    if (entry.env) input.env = entry.env;
    if (entry.cwd) input.cwd = entry.cwd;
    if (entry.disabled) input.disabled = entry.disabled;
    add(name, input, 'mcpServers');
  }
  if (result.size === 0) notes.push(`${file} defines no services: add some, then muxctl reload (mux-proxy -- COMMAND shares a server meanwhile)`);
  const rotation = { maxSizeBytes: logs.maxSize ?? LOG_DEFAULTS.maxSizeBytes, keep: logs.keep ?? LOG_DEFAULTS.keep };
  const statusPath = statusFile === undefined ? undefined : expandPath(statusFile, env, 'statusFile', file, baseDir);
  return { file, logs: rotation, defaults, services: result, notes, http: http ? resolveHttp(http, file) : undefined, statusFile: statusPath };
}

/**
 * Throws `MUX_CONFIG_EMPTY` when `config` defines no service to run: what an
 * empty or comment-only file gives, and an editor truncating the file while
 * saving leaves one. `instead` ends the line: what happens now, and how to
 * accept it anyway.
 */
export function requireServices(config: MuxConfig, instead: string): void {
  if (config.services.size > 0) return;
  throw new MuxError(MuxErrorCodes.ConfigEmpty, `${config.file}: defines no services; ${instead}`);
}

/** What `mux-proxy -- COMMAND ARGS...` asks muxd to run. */
export interface AdhocSpec {
  command: string;
  args: string[];
  cwd: string;
  /** Only what the proxy passes on; values are secrets. */
  env: Record<string, string>;
}

/**
 * The config of a service muxd runs for `mux-proxy -- COMMAND...` without a
 * config entry: the spec taken literally (no variable expansion: the host
 * already did it), with `defaults` and the built-in defaults (lazy, idle
 * stop) for the rest.
 */
export function adhocServiceConfig(name: string, spec: AdhocSpec, defaults: MuxConfig['defaults'] = {}): ServiceConfig {
  return resolveService(name, { command: spec.command, args: spec.args, env: spec.env, cwd: spec.cwd }, { ...defaults, lazy: true }, spec.cwd, (text) => text);
}
