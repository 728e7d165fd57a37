import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROL_PROTOCOL_VERSION, MuxError, MuxErrorCodes, serviceSocketPath } from '@muxd/protocol';
import { readCrashRecord } from '@muxd/protocol/crash';
import type {
  ActionResult,
  AdhocResult,
  DaemonStatus,
  DescribeResult,
  HelloResult,
  HistoryResult,
  ListResult,
  LogsResult,
  MuxPaths,
  ReloadResult,
  RunRecord,
  ServiceRow,
} from '@muxd/protocol';
import { adhocServiceConfig, redactConfig, requireServices } from '@muxd/config';
import type { AdhocSpec, MuxConfig, ServiceConfig } from '@muxd/config';
import { ControlServer } from './controlServer.js';
import type { ControlHandlers } from './controlServer.js';
import { HttpServer } from './http/httpServer.js';
import { loadOrCreateToken } from './http/httpToken.js';
import { readLastLines, followFile } from './logTail.js';
import { createFileLogger, daemonLogDir, logWriteProblem, serviceLogDir } from './logs.js';
import type { Logger } from './logs.js';
import { PidLock } from './pidLock.js';
import { CpuSampler, readProcessTable, treeUsage } from '@muxd/protocol/processes';
import { Reaper } from './reaper.js';
import { Service } from './service.js';
import { Store } from './store.js';
import { ExitReason, ServiceStatus } from './supervisor.js';
import type { SupervisorEvent } from './supervisor.js';
import { checkSocketPathLength, ensurePrivateDirectory } from './unixSocket.js';
import { VERSION } from './version.js';

export interface DaemonOptions {
  config: MuxConfig;
  paths: MuxPaths;
  log: Logger;
  /** Re-reads the config file for `reload`. */
  loadConfig: (file: string) => Promise<MuxConfig>;
  /** Finds a config file when the daemon started without one. */
  findConfig?: () => Promise<string | undefined>;
  /** Called when a client asks the daemon to shut down. */
  onShutdownRequested?: () => void;
}

/** How long `start` waits for a child to come up before answering. */
const START_WAIT_MS = 10_000;

/**
 * muxd itself: the per-home lock, the reaper, the history store, the
 * control socket and one `Service` per configured server, and the answer
 * to each control request (`ControlHandlers`). `start()` returns once every
 * socket listens.
 */
export class Daemon implements ControlHandlers {
  readonly paths: MuxPaths;
  readonly log: Logger;
  readonly services = new Map<string, Service>();
  readonly startedAt = Date.now();
  #config: MuxConfig;
  readonly #loadConfig: (file: string) => Promise<MuxConfig>;
  readonly #findConfig: () => Promise<string | undefined>;
  readonly #onShutdownRequested: (() => void) | undefined;
  #lock: PidLock | undefined;
  #reaper: Reaper | undefined;
  #store: Store | undefined;
  #control: ControlServer | undefined;
  #http: HttpServer | undefined;
  readonly #cpu = new CpuSampler();
  /** Services registered by `mux-proxy -- COMMAND...`, which reload leaves alone. */
  readonly #adhoc = new Set<string>();
  #stopping: Promise<void> | undefined;
  /** Serializes reloads and start/stop/restart so they never interleave. */
  #actions: Promise<unknown> = Promise.resolve();
  /** If muxd exits without stopping (a crash, a second signal), every child's group goes with it. */
  readonly #killChildrenOnExit = (): void => this.#reaper?.killAllNow();

  constructor(options: DaemonOptions) {
    this.#config = options.config;
    this.paths = options.paths;
    this.log = options.log;
    this.#loadConfig = options.loadConfig;
    this.#findConfig = options.findConfig ?? (async () => undefined);
    this.#onShutdownRequested = options.onShutdownRequested;
  }

  get config(): MuxConfig {
    return this.#config;
  }

  async start(): Promise<void> {
    const { paths, log } = this;
    ensurePrivateDirectory(paths.stateDir);
    ensurePrivateDirectory(paths.runDir);
    ensurePrivateDirectory(paths.logDir);
    // A service's own socket is checked as it opens: a bad one errors that service alone.
    checkSocketPathLength(paths.controlSocket);
    this.#lock = PidLock.acquire(paths.lockFile);
    this.#reaper = new Reaper();
    process.on('exit', this.#killChildrenOnExit);
    log.info({ config: this.#config.file, services: [...this.#config.services.keys()], runDir: paths.runDir, version: VERSION }, 'muxd starting');
    for (const note of this.#config.notes) log.warn({}, `config: ${note}`);
    if (this.#config.file) writeFileSync(paths.lastConfigFile, `${this.#config.file}\n`, { mode: 0o600 });
    this.#store = new Store(paths.database, log);
    this.#store.daemonStarted(process.pid, VERSION, this.#config.file, this.startedAt);
    try {
      // Services first: muxctl and mux-proxy take a listening control socket
      // to mean muxd is ready, and a proxy then connects to its service's socket.
      for (const config of this.#config.services.values()) await this.#addService(config);
      if (this.#config.http) this.#http = await this.#listenHttp(this.#config.http);
      this.#control = await ControlServer.listen(paths.controlSocket, this, log);
    } catch (error) {
      await this.stop();
      throw error;
    }
    log.info({ services: this.services.size, control: paths.controlSocket }, 'muxd ready');
  }

  #listenHttp(config: NonNullable<MuxConfig['http']>): Promise<HttpServer> {
    return HttpServer.listen({
      config,
      token: loadOrCreateToken(this.paths.httpTokenFile),
      // Ad-hoc services carry a host's own credentials: they stay on their sockets.
      lookup: (name) => (this.#adhoc.has(name) ? undefined : this.services.get(name)),
      log: this.log,
    });
  }

  async #addService(config: ServiceConfig): Promise<Service> {
    const serviceLog = await createFileLogger(serviceLogDir(this.paths.logDir, config.name), config.name, this.#config.logs);
    const service = new Service(config, serviceSocketPath(this.paths, config.name), {
      reaper: this.#reaper as Reaper,
      log: serviceLog,
      onEvent: (name, event) => this.#onServiceEvent(name, event),
    });
    this.services.set(config.name, service);
    await service.open();
    return service;
  }

  #onServiceEvent(service: string, event: SupervisorEvent): void {
    switch (event.type) {
      case 'spawn':
        this.log.info({ service, child: event.pid }, 'child started');
        this.#store?.runStarted(service, event.pid, Date.now());
        break;
      case 'exit': {
        const { exit } = event;
        this.#store?.runEnded(service, exit);
        const fields = { service, child: exit.pid, code: exit.code, signal: exit.signal, reason: exit.reason, uptimeMs: exit.uptimeMs };
        if (exit.reason === ExitReason.Crash || exit.reason === ExitReason.SpawnFailed) {
          this.log.warn(fields, event.willRestart ? `child exited; restarting in ${event.delayMs} ms` : 'child exited');
        } else {
          this.log.info(fields, 'child stopped');
        }
        break;
      }
      case 'errored':
        this.log.error({ service }, event.message);
        break;
    }
  }

  // ------------------------------------------------------- control methods

  hello(): HelloResult {
    return { version: VERSION, protocol: CONTROL_PROTOCOL_VERSION, pid: process.pid, startedAt: this.startedAt };
  }

  status(): DaemonStatus {
    return {
      pid: process.pid,
      version: VERSION,
      startedAt: this.startedAt,
      configFile: this.#config.file,
      home: { runDir: this.paths.runDir, stateDir: this.paths.stateDir, logDir: this.paths.logDir },
      databaseError: this.#store?.error ?? null,
      logError: logWriteProblem(),
      notes: this.#config.notes,
      httpUrl: this.#http?.url ?? null,
      lastCrash: readCrashRecord(this.paths),
    };
  }

  list(): ListResult {
    const table = readProcessTable();
    const now = Date.now();
    const services = [...this.services.values()].map((service) => this.#row(service, table, now));
    this.#cpu.retain(new Set(services.flatMap((row) => row.pids.map((pid) => `${row.name}:${pid}`))));
    return { services, daemon: this.status() };
  }

  #row(service: Service, table: ReturnType<typeof readProcessTable>, now: number): ServiceRow {
    const snapshot = service.snapshot();
    let memoryBytes: number | null = null;
    let cpuPercent: number | null = null;
    for (const pid of snapshot.pids) {
      const usage = treeUsage(table, pid);
      if (!usage) continue;
      memoryBytes = (memoryBytes ?? 0) + usage.rssBytes;
      cpuPercent = (cpuPercent ?? 0) + this.#cpu.percent(`${service.name}:${pid}`, usage.cpuMs, snapshot.startedAt ?? now, now);
    }
    const lastExit = snapshot.lastExit;
    return {
      name: snapshot.name,
      status: snapshot.status,
      isolation: snapshot.isolation,
      pids: snapshot.pids,
      startedAt: snapshot.startedAt ?? null,
      uptimeMs: snapshot.startedAt === undefined ? null : now - snapshot.startedAt,
      restarts: snapshot.restarts,
      clients: snapshot.clients,
      idleClients: snapshot.idleClients,
      inflight: snapshot.inflight,
      queued: snapshot.queued,
      memoryBytes,
      cpuPercent: cpuPercent === null ? null : Math.round(cpuPercent * 10) / 10,
      lastExit: lastExit
        ? {
            pid: lastExit.pid ?? null,
            code: lastExit.code,
            signal: lastExit.signal,
            reason: lastExit.reason,
            at: lastExit.at,
            uptimeMs: lastExit.uptimeMs,
            ...(lastExit.error ? { error: lastExit.error } : {}),
          }
        : null,
      error: snapshot.error ?? null,
    };
  }

  #service(name: string): Service {
    const service = this.services.get(name);
    if (!service) {
      const known = [...this.services.keys()].join(', ') || 'none';
      throw new MuxError(MuxErrorCodes.ServiceUnknown, `no service '${name}' (configured: ${known})`);
    }
    return service;
  }

  #select(name: string): Service[] {
    return name === 'all' ? [...this.services.values()] : [this.#service(name)];
  }

  describe(name: string): DescribeResult {
    const service = this.#service(name);
    const row = this.#row(service, readProcessTable(), Date.now());
    let runs: RunRecord[] = [];
    try {
      runs = this.#store && !this.#store.error ? this.#store.history(name, 2) : [];
    } catch {
      // The database is reported by `ls`; describe still answers.
    }
    const current = runs[0] && runs[0].endedAt === null ? runs[0] : null;
    const last = runs.find((run) => run.endedAt !== null) ?? null;
    const logDir = serviceLogDir(this.paths.logDir, name);
    return {
      row,
      config: redactConfig(service.config),
      socket: service.socketPath,
      logDir,
      logFile: join(logDir, 'current.log'),
      currentRun: current,
      lastRun: last,
    };
  }

  /** Runs `action` after every earlier one finished. */
  #serialize<T>(action: () => Promise<T>): Promise<T> {
    const next = this.#actions.then(action, action);
    this.#actions = next.catch(() => undefined);
    return next;
  }

  startService(name: string): Promise<ActionResult> {
    return this.#serialize(async () => {
      const services = this.#select(name);
      for (const service of services) await service.start();
      await Promise.all(services.map((service) => service.settled(START_WAIT_MS)));
      return this.#result(services);
    });
  }

  stopService(name: string): Promise<ActionResult> {
    return this.#serialize(async () => {
      const services = this.#select(name);
      await Promise.all(services.map((service) => service.stop()));
      return this.#result(services);
    });
  }

  restartService(name: string): Promise<ActionResult> {
    return this.#serialize(async () => {
      const services = this.#select(name);
      await Promise.all(services.map((service) => service.restart(ExitReason.Manual)));
      await Promise.all(services.map((service) => service.settled(START_WAIT_MS)));
      return this.#result(services);
    });
  }

  #result(services: Service[]): ActionResult {
    return {
      services: services.map((service) => {
        const snapshot = service.snapshot();
        return { name: service.name, status: snapshot.status, pids: snapshot.pids, error: snapshot.error ?? null };
      }),
    };
  }

  #logFile(name: string | undefined): string {
    if (name === undefined) return join(daemonLogDir(this.paths.logDir), 'current.log');
    this.#service(name);
    return join(serviceLogDir(this.paths.logDir, name), 'current.log');
  }

  logs(name: string | undefined, lines: number): LogsResult {
    const file = this.#logFile(name);
    return { file, lines: readLastLines(file, lines) };
  }

  followLogs(name: string | undefined, onLines: (lines: string[]) => void): () => void {
    return followFile(this.#logFile(name), onLines);
  }

  history(name: string | undefined, limit: number): HistoryResult {
    if (name !== undefined && !this.services.has(name)) {
      // A removed service still has history: only refuse names never seen.
      const runs = this.#store?.error ? [] : (this.#store?.history(name, 1) ?? []);
      if (runs.length === 0) this.#service(name);
    }
    if (!this.#store || this.#store.error) return { runs: [], databaseError: this.#store?.error ?? 'database not open' };
    try {
      return { runs: this.#store.history(name, limit), databaseError: null };
    } catch (error) {
      return { runs: [], databaseError: (error as Error).message };
    }
  }

  /**
   * Re-reads the config and applies the difference: new services start,
   * removed ones stop, changed ones restart, the rest keep their children
   * and clients. An invalid config changes nothing, and so does one that
   * defines no services (an editor truncating the file while saving leaves
   * one) unless `allowEmpty`.
   */
  reload(options: { allowEmpty?: boolean } = {}): Promise<ReloadResult> {
    return this.#serialize(async () => {
      const file = this.#config.file || (await this.#findConfig());
      if (!file) throw new MuxError(MuxErrorCodes.ConfigNotFound, this.#config.notes[0] ?? 'no config file');
      const next = await this.#loadConfig(file);
      if (!options.allowEmpty) requireServices(next, 'reloading it would stop every service, so nothing changed (muxctl reload --allow-empty applies it)');
      for (const name of next.services.keys()) checkSocketPathLength(serviceSocketPath(this.paths, name));
      const httpChanged = JSON.stringify(next.http) !== JSON.stringify(this.#config.http);
      // A new HTTP address is bound before anything else changes: if it cannot be, the reload changes nothing.
      const newFront = httpChanged && next.http && !this.#http?.listensAs(next.http) ? await this.#listenHttp(next.http) : undefined;
      const result: ReloadResult = { configFile: next.file, added: [], removed: [], changed: [], unchanged: [], notes: next.notes };
      try {
        for (const [name, service] of this.services) {
          if (next.services.has(name) || this.#adhoc.has(name)) continue;
          result.removed.push(name);
          await service.close(ExitReason.Config);
          this.services.delete(name);
        }
        for (const [name, config] of next.services) {
          const service = this.services.get(name);
          if (!service) {
            result.added.push(name);
            await this.#addService(config);
          } else if (JSON.stringify(service.config) === JSON.stringify(config)) {
            result.unchanged.push(name);
          } else {
            result.changed.push(name);
            if (service.config.isolation === config.isolation) {
              await service.reconfigure(config);
            } else {
              await service.close(ExitReason.Config);
              this.services.delete(name);
              await this.#addService(config);
            }
          }
        }
      } catch (error) {
        await newFront?.close();
        throw error;
      }
      if (httpChanged) result.notes = [...result.notes, await this.#applyHttp(next.http, newFront)];
      this.#config = next;
      this.log.info(result, 'config reloaded');
      return result;
    });
  }

  /** Puts a reloaded `http` block in place; returns the note the reload reports. */
  async #applyHttp(config: MuxConfig['http'], newFront: HttpServer | undefined): Promise<string> {
    const old = this.#http;
    const oldUrl = old?.url;
    if (newFront) {
      this.#http = newFront;
      await old?.close();
      return `http: listening on ${newFront.url}${oldUrl ? `; sessions on ${oldUrl} ended (hosts start new ones)` : ''}`;
    }
    if (!config) {
      this.#http = undefined;
      await old?.close();
      return 'http: the HTTP front is closed';
    }
    old?.reconfigure(config);
    return `http: new limits apply on ${old?.url ?? ''}; sessions carry on`;
  }

  /**
   * Finds or creates the ad-hoc service for a command not in the config.
   * Its name hashes the command, args, cwd and env, so sessions with the
   * same entry share a child and sessions with different tokens do not.
   */
  ensureAdhoc(spec: AdhocSpec): Promise<AdhocResult> {
    return this.#serialize(async () => {
      const digest = createHash('sha256')
        .update(JSON.stringify([spec.command, spec.args, spec.cwd, Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : 1))]))
        .digest('hex');
      const name = `adhoc-${digest.slice(0, 12)}`;
      let service = this.services.get(name);
      if (!service) {
        service = await this.#addService(adhocServiceConfig(name, spec, this.#config.defaults));
        this.#adhoc.add(name);
        this.log.info({ service: name, command: spec.command }, 'ad-hoc service registered');
      }
      return { name, socket: service.socketPath };
    });
  }

  requestShutdown(): void {
    setImmediate(() => this.#onShutdownRequested?.());
  }

  /** Stops every service, the control socket, and releases the lock. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.log.info({}, 'muxd stopping');
      await Promise.all([...this.services.values()].map((service) => service.close(ExitReason.Shutdown)));
      await this.#http?.close();
      await this.#control?.close();
      this.#store?.close();
      this.#reaper?.close();
      this.#lock?.release();
      process.off('exit', this.#killChildrenOnExit);
      this.log.info({}, 'muxd stopped');
    })();
    return this.#stopping;
  }
}

export { ServiceStatus };
