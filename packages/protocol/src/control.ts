/**
 * The control protocol between muxctl and muxd: JSON-RPC 2.0 over NDJSON on
 * the control socket (`<runDir>/muxd.ctl`). The first request on a
 * connection is `hello`; the daemon answers with its version and protocol
 * number so either side can report a mismatch. Documented in
 * docs/control-protocol.md.
 */

/** Bumped on any incompatible change to a method or result below. */
export const CONTROL_PROTOCOL_VERSION = 1;

export const ControlMethods = {
  Hello: 'hello',
  List: 'list',
  Describe: 'describe',
  Start: 'start',
  Stop: 'stop',
  Restart: 'restart',
  Logs: 'logs',
  /** Streams `logs/line` notifications until the connection closes. */
  LogsFollow: 'logs/follow',
  History: 'history',
  /** Params `{ allowEmpty?: boolean }`: a config with no services is refused (`MUX_CONFIG_EMPTY`) unless it is true. */
  Reload: 'reload',
  Status: 'status',
  Shutdown: 'shutdown',
  /** Registers (or finds) an ad-hoc service for `mux-proxy -- COMMAND...`. */
  Adhoc: 'adhoc',
  /** Params `{ name? }`: installs the newest version of unwrapped runners' packages, then restarts their children. */
  Update: 'update',
  /** Params `{ name? }`: request counts, latency, sessions, restarts and resource samples per service (docs/observability.md). */
  Metrics: 'metrics',
  /** Mints a one-time login URL for the web dashboard on the HTTP front (docs/http.md#dashboard). */
  DashboardLogin: 'dashboard/login',
} as const;
export type ControlMethod = (typeof ControlMethods)[keyof typeof ControlMethods];

export const LOG_LINE_NOTIFICATION = 'logs/line';

/** `update` progress, `{ service, line }`: what npm prints while installing. */
export const UPDATE_PROGRESS_NOTIFICATION = 'update/progress';

export interface HelloParams {
  client: string;
  version: string;
  protocol: number;
}

export interface HelloResult {
  version: string;
  protocol: number;
  pid: number;
  /** ms since the epoch */
  startedAt: number;
}

/** Child exit, as listed and stored in the history. */
export interface ExitRecord {
  pid: number | null;
  code: number | null;
  signal: string | null;
  reason: string;
  /** ms since the epoch */
  at: number;
  uptimeMs: number;
  error?: string;
}

/** One row of `muxctl ls`. */
export interface ServiceRow {
  name: string;
  status: string;
  isolation: string;
  pids: number[];
  /** ms since the epoch, of the oldest running child */
  startedAt: number | null;
  uptimeMs: number | null;
  restarts: number;
  /** Clients connected and active (data-socket connections, HTTP sessions in use). */
  clients: number;
  /** HTTP sessions their hosts never ended, silent for `http.sessionIdleAfter`: listed apart, they keep no child up. */
  idleClients: number;
  inflight: number;
  queued: number;
  /** Memory of every running child's process tree, in bytes: PSS on Linux (RSS where it cannot be read), RSS on macOS. */
  memoryBytes: number | null;
  /** Which figure `memoryBytes` is (absent from older daemons; null with no child running). */
  memoryKind?: MemoryKind | null;
  /** CPU use of the process trees since the previous sample, percent of one core. */
  cpuPercent: number | null;
  lastExit: ExitRecord | null;
  error: string | null;
  /** The package a runner command (`npx pkg`) resolved to, whose bin muxd runs directly; null when it runs as configured. */
  package?: UnwrappedPackage | null;
  /** Why a runner command is not unwrapped, or what is under way; null when there is nothing to say. */
  unwrapNote?: string | null;
  /** Request figures (absent from older daemons); the whole story is the `metrics` method. */
  metrics?: RowMetrics;
}

/** The request figures of a `muxctl ls` row. */
export interface RowMetrics {
  /** Since muxd started. */
  requests: number;
  errors: number;
  timeouts: number;
  /** ms, over the last minute; null with no request in it */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Requests per second over the last minute. */
  ratePerS: number;
}

/** A package runner seen through: what muxd runs instead of `npx pkg` (and the like). */
export interface UnwrappedPackage {
  name: string;
  version: string;
  /** The bin's name, and the file muxd spawns. */
  bin: string;
  binFile: string;
  /** `local`: a dependency of the project in the service's cwd; `muxd`: installed under muxd's state directory. */
  source: 'local' | 'muxd';
  /** `npx`, `npm exec`, `pnpm dlx`, `yarn dlx` or `bunx`. */
  runner: string;
  /** The package spec as configured. */
  spec: string;
}

export interface ListResult {
  services: ServiceRow[];
  daemon: DaemonStatus;
  /** The totals under the table (absent from older daemons). */
  summary?: ListSummary;
}

/**
 * `pss`: proportional set size, each shared page divided among the
 * processes sharing it (Linux, /proc/<pid>/smaps_rollup). `rss`: resident
 * set size, shared pages counted whole in every process (macOS, or Linux
 * where smaps_rollup cannot be read).
 */
export type MemoryKind = 'pss' | 'rss';

/** Totals of `muxctl ls`: sessions, what muxd and its processes use, and what running the servers directly would. */
export interface ListSummary {
  services: number;
  /** Clients connected now, active or idle, over every service. */
  sessions: {
    total: number;
    /** On a data socket (mux-proxy). */
    proxy: number;
    /** Every other client: HTTP sessions. */
    http: number;
  };
  /** muxd's own process + every service's process trees + the mux-proxy processes counted, bytes. */
  memoryBytes: number;
  /** `rss` as soon as one process counted could only be read as RSS. */
  memoryKind: MemoryKind;
  /** muxd's own process, bytes. */
  daemonMemoryBytes: number;
  /** Every service's process trees, bytes. */
  childrenMemoryBytes: number;
  /** The mux-proxy processes counted, bytes. */
  proxiesMemoryBytes: number;
  /** mux-proxy processes in `proxiesMemoryBytes`. */
  proxiesCounted: number;
  /** Data-socket sessions whose process is not counted: an older mux-proxy (it does not say its pid), or one that ended. */
  proxiesNotCounted: number;
  /**
   * An estimate, not a measurement: for each service, its children's
   * measured memory divided by their number, times its sessions: what each
   * session running its own copy of the server would take. Bytes.
   */
  directEstimateBytes: number;
  /** Services with sessions but no child measured now (starting, stopped): left out of `directEstimateBytes`. */
  notEstimated: string[];
}

export interface DaemonStatus {
  pid: number;
  version: string;
  startedAt: number;
  configFile: string;
  home: { runDir: string; stateDir: string; logDir: string };
  /** null when the database works; otherwise why it does not. */
  databaseError: string | null;
  /** null when every log file takes its writes; otherwise why lines are not reaching them (a full disk). */
  logError?: string | null;
  /** Config notes: skipped entries and similar. */
  notes: string[];
  /** Base URL of the HTTP front (services at `<url>/mcp/<service>`); absent or null when it is off. */
  httpUrl?: string | null;
  /** How a muxd of this home last died of an uncaught error; null when none did (absent from older daemons). */
  lastCrash?: LastCrash | null;
}

/** How muxd last died, as its crash record holds it. */
export interface CrashRecord {
  /** ms since the epoch */
  at: number;
  pid: number;
  version: string;
  /** `uncaughtException` or `unhandledRejection`. */
  origin: string;
  /** One line: the error's name and the first line of its message. */
  message: string;
  /** The stack, at most 16 KiB (the daemon log has the whole error). */
  stack: string;
}

/** A crash record as read back, with the file that holds it (the full stack). */
export interface LastCrash extends CrashRecord {
  file: string;
}

export interface DescribeResult {
  row: ServiceRow;
  /** Resolved config with env values redacted. */
  config: Record<string, unknown>;
  socket: string;
  logFile: string;
  logDir: string;
  currentRun: RunRecord | null;
  lastRun: RunRecord | null;
}

export interface NameParams {
  /** A service name, or "all". */
  name: string;
}

export interface ActionResult {
  /** Services acted on, with what each ended as. */
  services: Array<{ name: string; status: string; pids: number[]; error: string | null }>;
}

export interface LogsParams {
  /** A service; omitted for the daemon log. */
  name?: string;
  lines: number;
}

export interface LogsFollowParams {
  /** A service; omitted for the daemon log. */
  name?: string;
}

export interface LogsResult {
  file: string;
  /** Raw NDJSON log lines, oldest first. */
  lines: string[];
}

export interface RunRecord {
  id: number;
  service: string;
  pid: number | null;
  startedAt: number;
  endedAt: number | null;
  code: number | null;
  signal: string | null;
  /** Why the run ended: crash, manual, config, idle, hung, memory, shutdown, spawn-failed, client-gone. */
  reason: string | null;
  error: string | null;
}

export interface HistoryParams {
  name?: string;
  limit: number;
}

export interface HistoryResult {
  runs: RunRecord[];
  databaseError: string | null;
}

/** What `muxctl health --json` prints: its round trip goes through the service's data socket, not the control socket. */
export interface HealthResult {
  name: string;
  ok: boolean;
  latencyMs: number | null;
  error: string | null;
}

export interface ReloadParams {
  /** Apply a config that defines no services (refused with `MUX_CONFIG_EMPTY` otherwise). */
  allowEmpty?: boolean;
}

export interface ReloadResult {
  configFile: string;
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
  notes: string[];
}

/** `mux-proxy -- COMMAND ARGS...`: a server not in muxd's config. */
export interface AdhocParams {
  command: string;
  args: string[];
  cwd: string;
  /** The environment the server needs (values are secrets: never logged). */
  env: Record<string, string>;
}

export interface UpdateParams {
  /** A service; omitted for every service that runs a package runner. */
  name?: string;
}

/** What `update` did to each service. */
export interface UpdateResult {
  services: Array<{
    name: string;
    /** The package's name; null when none is resolved. */
    package: string | null;
    /** Version before and after; null when unknown. */
    from: string | null;
    to: string | null;
    /** Its children were restarted onto the new version. */
    restarted: boolean;
    /** Why nothing was installed, or why it failed. */
    note: string | null;
    failed: boolean;
  }>;
}

export interface MetricsParams {
  /** A service; omitted for every service. */
  name?: string;
}

/** What `metrics` answers: one entry per service, in config order. */
export interface MetricsResult {
  /** ms since the epoch, when the figures were read */
  at: number;
  services: ServiceMetrics[];
}

/** A service's request, session, restart and resource figures since muxd started (docs/observability.md). */
export interface ServiceMetrics {
  name: string;
  status: string;
  /** Requests answered (or given up) since muxd started. */
  requests: number;
  /** Of them, answered with a JSON-RPC error: the server's, or muxd's own (no child, crash, ...); timeouts are counted apart. */
  errors: number;
  /** Of them, given up after the request timeout. */
  timeouts: number;
  /** Of them, cancelled by their client, or dropped as it left (counted in no latency). */
  cancelled: number;
  /** Requests sent and not yet answered. */
  inflight: number;
  /** Requests per second over the last minute. */
  ratePerS: number;
  latency: { lastMinute: LatencySummary; sinceStart: LatencySummary };
  /** By JSON-RPC method; at most 200 names, the rest counted under `other`. */
  byMethod: Record<string, CallCounts>;
  /** `tools/call` by tool name; at most 200 names, the rest counted under `other`. */
  byTool: Record<string, CallCounts>;
  sessions: { now: number; total: number; clients: SessionInfo[] };
  /** Newest first, at most 50. */
  restarts: RestartInfo[];
  /** Oldest first, 5 s apart, at most 720 (an hour). */
  samples: ResourceSample[];
}

/** Latency percentiles, from log-scale buckets (each figure is its bucket's upper bound). */
export interface LatencySummary {
  count: number;
  /** ms; null with no request counted */
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface CallCounts {
  requests: number;
  errors: number;
  timeouts: number;
  /** ms since muxd started; null with no request counted */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** A client connected now. */
export interface SessionInfo {
  id: string;
  /** `socket`: a data-socket connection (mux-proxy); `http`: an HTTP session. */
  transport: 'socket' | 'http';
  /** From the client's `initialize` (`clientInfo`); null before it, or when it sent none. */
  clientName: string | null;
  clientVersion: string | null;
  /** ms since the epoch */
  since: number;
}

/** A child exit that muxd restarted, or that stopped the service. */
export interface RestartInfo {
  /** ms since the epoch */
  at: number;
  /** crash, manual, config, idle, hung, memory, ... (as `RunRecord.reason`). */
  reason: string;
  code: number | null;
  signal: string | null;
}

/** One resource sample: the service's process trees and its request rate. */
export interface ResourceSample {
  /** ms since the epoch */
  at: number;
  /** bytes; null with no child running */
  memoryBytes: number | null;
  /** percent of one core; null with no child running */
  cpuPercent: number | null;
  /** requests per second over the 5 s before `at` */
  ratePerS: number;
}

/** A one-time dashboard login: opening `url` in a browser exchanges its code for a session cookie. */
export interface DashboardLoginResult {
  /** `<httpUrl>/login?t=<code>`: the code is 32 random bytes, good for one use. */
  url: string;
  /** ms since the epoch; the code is refused after it (60 s after minting). */
  expiresAt: number;
}

export interface AdhocResult {
  /** `adhoc-<hash>`: the same for the same command, args, cwd and env. */
  name: string;
  socket: string;
}

/** The params of a method that takes none. */
export type EmptyParams = Record<string, never>;

/** The result of a method that answers `{}`. */
export type EmptyResult = Record<string, never>;

export interface ShutdownResult {
  /** The daemon's pid; it stops every service, then exits. */
  pid: number;
}

/**
 * What each control method takes. muxctl's client and muxd's dispatch are
 * both typed by it, so a method, its params and its result cannot drift
 * apart.
 */
export interface ControlParams {
  [ControlMethods.Hello]: HelloParams;
  [ControlMethods.Status]: EmptyParams;
  [ControlMethods.List]: EmptyParams;
  [ControlMethods.Describe]: NameParams;
  [ControlMethods.Start]: NameParams;
  [ControlMethods.Stop]: NameParams;
  [ControlMethods.Restart]: NameParams;
  [ControlMethods.Logs]: LogsParams;
  [ControlMethods.LogsFollow]: LogsFollowParams;
  [ControlMethods.History]: HistoryParams;
  [ControlMethods.Reload]: ReloadParams;
  [ControlMethods.Adhoc]: AdhocParams;
  [ControlMethods.Update]: UpdateParams;
  [ControlMethods.Metrics]: MetricsParams;
  [ControlMethods.DashboardLogin]: EmptyParams;
  [ControlMethods.Shutdown]: EmptyParams;
}

/** What each control method answers (see `ControlParams`). */
export interface ControlResult {
  [ControlMethods.Hello]: HelloResult;
  [ControlMethods.Status]: DaemonStatus;
  [ControlMethods.List]: ListResult;
  [ControlMethods.Describe]: DescribeResult;
  [ControlMethods.Start]: ActionResult;
  [ControlMethods.Stop]: ActionResult;
  [ControlMethods.Restart]: ActionResult;
  [ControlMethods.Logs]: LogsResult;
  /** `{}`, then `logs/line` notifications until the connection closes. */
  [ControlMethods.LogsFollow]: EmptyResult;
  [ControlMethods.History]: HistoryResult;
  [ControlMethods.Reload]: ReloadResult;
  [ControlMethods.Adhoc]: AdhocResult;
  /** Sends `update/progress` notifications while installing. */
  [ControlMethods.Update]: UpdateResult;
  [ControlMethods.Metrics]: MetricsResult;
  [ControlMethods.DashboardLogin]: DashboardLoginResult;
  [ControlMethods.Shutdown]: ShutdownResult;
}

/** A request's params as arguments: optional for a method whose params are all optional. */
export type ControlParamsArg<M extends ControlMethod> = {} extends ControlParams[M] ? [params?: ControlParams[M]] : [params: ControlParams[M]];
