import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROL_PROTOCOL_VERSION, MuxError, MuxErrorCodes, serviceSocketPath } from '@muxd/protocol';
import { readCrashRecord } from '@muxd/runtime/crash';
import type {
  ActionResult,
  AdhocParams,
  AdhocResult,
  DaemonStatus,
  DashboardLoginResult,
  DescribeResult,
  HelloResult,
  HistoryResult,
  ListResult,
  LogsResult,
  MetricsResult,
  MuxPaths,
  ReloadParams,
  ReloadResult,
  UpdateResult,
} from '@muxd/protocol';
import { requireServices } from '@muxd/config';
import type { MuxConfig } from '@muxd/config';
import { ControlServer } from './controlServer.js';
import type { ControlHandlers } from './controlServer.js';
import { Dashboard } from './http/dashboard.js';
import { DashboardAuth } from './http/dashboardAuth.js';
import { HttpFront } from './http/httpFront.js';
import { readLastLines, followFile } from './logTail.js';
import { createFileLogger, daemonLogDir, logWriteProblem, serviceLogDir } from './logs.js';
import type { Logger } from './logs.js';
import { metricsReport } from './metrics/metricsReport.js';
import { LazyPromExporter } from './metrics/lazyPromExporter.js';
import { ResourceSampler } from './metrics/resourceSampler.js';
import { PidLock } from './pidLock.js';
import { Reaper } from './reaper.js';
import type { Service } from './service.js';
import { ServiceRegistry } from './serviceRegistry.js';
import { StatusFile } from './statusFile.js';
import { StatusRows } from './statusRows.js';
import { Store } from './store.js';
import { ExitReason } from './supervisor.js';
import { PackageStore } from './unwrap/packageStore.js';
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
 * muxd itself: puts together the per-home lock, the reaper, the history
 * store, the services, the HTTP front and the control socket, and answers
 * the control requests (`ControlHandlers`). `start()` returns once every
 * socket listens.
 */
export class Daemon implements ControlHandlers {
  readonly paths: MuxPaths;
  readonly log: Logger;
  readonly startedAt = Date.now();
  #config: MuxConfig;
  readonly #loadConfig: (file: string) => Promise<MuxConfig>;
  readonly #findConfig: () => Promise<string | undefined>;
  readonly #onShutdownRequested: (() => void) | undefined;
  #lock: PidLock | undefined;
  #reaper: Reaper | undefined;
  /** Where package runners' packages are installed, under the state directory; set at start. */
  #packages: PackageStore | undefined;
  #store: Store | undefined;
  #control: ControlServer | undefined;
  readonly #services: ServiceRegistry;
  readonly #http: HttpFront;
  readonly #dashboardAuth = new DashboardAuth();
  readonly #dashboard: Dashboard;
  readonly #rows = new StatusRows();
  /** Memory and CPU of every service every 5 s, for `metrics`. */
  readonly #sampler: ResourceSampler;
  /** `GET /metrics` on the HTTP front. */
  readonly #prom: LazyPromExporter;
  readonly #statusFile: StatusFile;
  #stopping: Promise<void> | undefined;
  /** Serializes reloads and start/stop/restart so they never interleave. */
  #actions: Promise<unknown> = Promise.resolve();

  constructor(options: DaemonOptions) {
    this.#config = options.config;
    this.paths = options.paths;
    this.log = options.log;
    this.#loadConfig = options.loadConfig;
    this.#findConfig = options.findConfig ?? (async () => undefined);
    this.#onShutdownRequested = options.onShutdownRequested;
    this.#services = new ServiceRegistry({
      socketPath: (name) => serviceSocketPath(this.paths, name),
      reaper: () => this.#reaper as Reaper,
      createLog: (name) => createFileLogger(serviceLogDir(this.paths.logDir, name), name, this.#config.logs),
      onEvent: (name, event) => this.#onServiceEvent(name, event),
      packages: () => this.#packages,
    });
    this.#statusFile = new StatusFile({
      snapshot: () => this.list(),
      signature: () => JSON.stringify(this.#services.all().map((service) => service.snapshot())),
      log: this.log,
    });
    this.#dashboard = new Dashboard({ handlers: this, auth: this.#dashboardAuth, log: this.log, daemon: { version: VERSION, pid: process.pid, startedAt: this.startedAt } });
    this.#sampler = new ResourceSampler(() => this.#services.all(), this.log);
    this.#prom = new LazyPromExporter(() => this.#services.all());
    this.#http = new HttpFront({ tokenFile: this.paths.httpTokenFile, lookup: (name) => this.#services.configured(name), log: this.log, dashboard: this.#dashboard, metrics: this.#prom });
  }

  get config(): MuxConfig {
    return this.#config;
  }

  async start(): Promise<void> {
    const { paths, log } = this;
    ensurePrivateDirectory(paths.stateDir);
    this.#packages = new PackageStore(join(paths.stateDir, 'packages'));
    ensurePrivateDirectory(paths.runDir);
    ensurePrivateDirectory(paths.logDir);
    // A service's own socket is checked as it opens: a bad one errors that service alone.
    checkSocketPathLength(paths.controlSocket);
    this.#lock = PidLock.acquire(paths.lockFile);
    // If muxd exits without stopping (a crash, a second signal), the reaper kills every child's group on the way out.
    this.#reaper = new Reaper();
    log.info({ config: this.#config.file, services: [...this.#config.services.keys()], runDir: paths.runDir, version: VERSION }, 'muxd starting');
    for (const note of this.#config.notes) log.warn({}, `config: ${note}`);
    if (this.#config.file) writeFileSync(paths.lastConfigFile, `${this.#config.file}\n`, { mode: 0o600 });
    this.#store = new Store(paths.database, log);
    this.#store.daemonStarted(process.pid, VERSION, this.#config.file, this.startedAt);
    try {
      // Services first: muxctl and mux-proxy take a listening control socket
      // to mean muxd is ready, and a proxy then connects to its service's socket.
      for (const config of this.#config.services.values()) await this.#services.add(config);
      await this.#http.open(this.#config.http);
      this.#control = await ControlServer.listen(paths.controlSocket, this, log);
      this.#sampler.start();
    } catch (error) {
      await this.stop();
      throw error;
    }
    await this.#statusFile.configure(this.#config.statusFile);
    log.info({ services: this.#services.size, control: paths.controlSocket }, 'muxd ready');
  }

  #onServiceEvent(service: string, event: SupervisorEvent): void {
    this.#statusFile.changed();
    this.#dashboard.changed();
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
      notes: this.#statusFile.problem ? [...this.#config.notes, this.#statusFile.problem] : this.#config.notes,
      httpUrl: this.#http.url,
      lastCrash: readCrashRecord(this.paths),
    };
  }

  async list(): Promise<ListResult> {
    const { services, summary } = await this.#rows.list(this.#services.all());
    return { services, summary, daemon: this.status() };
  }

  describe(name: string): Promise<DescribeResult> {
    return this.#rows.describe(this.#services.get(name), this.#store, this.paths);
  }

  /** Runs `action` after every earlier one finished. */
  #serialize<T>(action: () => Promise<T>): Promise<T> {
    const next = this.#actions.then(action, action);
    this.#actions = next.catch(() => undefined);
    return next;
  }

  startService(name: string): Promise<ActionResult> {
    return this.#serialize(async () => {
      const services = this.#services.select(name);
      for (const service of services) await service.start();
      await Promise.all(services.map((service) => service.settled(START_WAIT_MS)));
      return actionResult(services);
    });
  }

  stopService(name: string): Promise<ActionResult> {
    return this.#serialize(async () => {
      const services = this.#services.select(name);
      await Promise.all(services.map((service) => service.stop()));
      return actionResult(services);
    });
  }

  restartService(name: string): Promise<ActionResult> {
    return this.#serialize(async () => {
      const services = this.#services.select(name);
      await Promise.all(services.map((service) => service.restart(ExitReason.Manual)));
      await Promise.all(services.map((service) => service.settled(START_WAIT_MS)));
      return actionResult(services);
    });
  }

  #logFile(name: string | undefined): string {
    if (name === undefined) return join(daemonLogDir(this.paths.logDir), 'current.log');
    this.#services.get(name);
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
    if (name !== undefined && !this.#services.has(name)) {
      // A removed service still has history: only refuse names never seen.
      const runs = this.#store?.error ? [] : (this.#store?.history(name, 1) ?? []);
      if (runs.length === 0) this.#services.get(name);
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
   * and clients; the HTTP front opens, retunes, moves or closes. An invalid
   * config changes nothing, and so does one that defines no services (an
   * editor truncating the file while saving leaves one) unless `allowEmpty`.
   */
  reload(options: ReloadParams = {}): Promise<ReloadResult> {
    return this.#serialize(async () => {
      const file = this.#config.file || (await this.#findConfig());
      if (!file) throw new MuxError(MuxErrorCodes.ConfigNotFound, this.#config.notes[0] ?? 'no config file');
      const next = await this.#loadConfig(file);
      if (!options.allowEmpty) requireServices(next, 'reloading it would stop every service, so nothing changed (muxctl reload --allow-empty applies it)');
      for (const name of next.services.keys()) checkSocketPathLength(serviceSocketPath(this.paths, name));
      // A new HTTP address is bound before anything else changes: if it cannot be, the reload changes nothing.
      const httpChange = await this.#http.prepare(next.http);
      let diff;
      try {
        diff = await this.#services.reconcile(next.services);
      } catch (error) {
        await httpChange?.abandon();
        throw error;
      }
      const result: ReloadResult = { configFile: next.file, ...diff, notes: next.notes };
      if (httpChange) result.notes = [...result.notes, await httpChange.apply()];
      this.#config = next;
      await this.#statusFile.configure(next.statusFile);
      this.#statusFile.changed();
      this.log.info(result, 'config reloaded');
      return result;
    });
  }

  /** Finds or creates the ad-hoc service for a command not in the config (see `ServiceRegistry.ensureAdhoc`). */
  ensureAdhoc(spec: AdhocParams): Promise<AdhocResult> {
    return this.#serialize(async () => {
      const { service, created } = await this.#services.ensureAdhoc(spec, this.#config.defaults);
      if (created) this.log.info({ service: service.name, command: spec.command }, 'ad-hoc service registered');
      return { name: service.name, socket: service.socketPath ?? '' };
    });
  }

  /**
   * `muxctl update`: for `name` (every service that runs a package runner
   * when undefined), installs the newest version the spec allows, one
   * service at a time, and restarts the running children onto it as
   * `restart` does; `onProgress` gets what npm prints.
   */
  async update(name: string | undefined, onProgress: (service: string, line: string) => void): Promise<UpdateResult> {
    const services = name === undefined ? this.#services.all().filter((service) => service.unwrap.runner) : this.#services.select(name);
    const results: UpdateResult['services'] = [];
    for (const service of services) {
      let restarted = false;
      const outcome = await service.unwrap.update(
        (line) => onProgress(service.name, line),
        async (changed) => {
          if (!changed || service.snapshot().pids.length === 0) return;
          await this.#serialize(async () => {
            await service.restart(ExitReason.Update);
            await service.settled(START_WAIT_MS);
          });
          restarted = true;
        },
      );
      const { from, to, note, failed } = outcome;
      results.push({ name: service.name, package: service.unwrap.info.package?.name ?? null, from, to, restarted, note, failed });
    }
    return { services: results };
  }

  /** Request, latency, session, restart and resource figures of `name` (every service when undefined). */
  async metrics(name: string | undefined): Promise<MetricsResult> {
    const services = name === undefined ? this.#services.all() : [this.#services.get(name)];
    const at = Date.now();
    return { at, services: services.map((service) => metricsReport(service, at)) };
  }

  dashboardLogin(): DashboardLoginResult {
    const base = this.#http.url;
    if (!base) throw new MuxError(MuxErrorCodes.HttpOff, `the dashboard is served on the HTTP front, which is off: add http: { listen: 127.0.0.1:7777 } to ${this.#config.file || "muxd's config"}, then: muxctl reload`);
    const { code, expiresAt } = this.#dashboardAuth.mintLoginCode();
    return { url: `${base}/login?t=${code}`, expiresAt };
  }

  requestShutdown(): void {
    setImmediate(() => this.#onShutdownRequested?.());
  }

  /** Stops every service, the HTTP front and the control socket, and releases the lock. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.log.info({}, 'muxd stopping');
      this.#sampler.stop();
      await this.#statusFile.close();
      await this.#services.closeAll(ExitReason.Shutdown);
      this.#dashboard.close();
      await this.#http.close();
      await this.#control?.close();
      this.#store?.close();
      this.#reaper?.close();
      this.#lock?.release();
      this.log.info({}, 'muxd stopped');
    })();
    return this.#stopping;
  }
}

function actionResult(services: Service[]): ActionResult {
  return {
    services: services.map((service) => {
      const snapshot = service.snapshot();
      return { name: service.name, status: snapshot.status, pids: snapshot.pids, error: snapshot.error ?? null };
    }),
  };
}
