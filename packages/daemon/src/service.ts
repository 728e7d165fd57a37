import type { Server, Socket } from 'node:net';
import { Mux, UpstreamState } from '@muxd/engine';
import type { ClientHandle, Peer } from '@muxd/engine';
import { ErrorCodes, SHUTDOWN_LINE } from '@muxd/protocol';
import type { ServiceConfig } from '@muxd/config';
import { Isolation, formatBytes } from '@muxd/config';
import { attachClientSocket } from './clientConnection.js';
import type { Logger } from './logs.js';
import { readProcessTable, treeUsage } from '@muxd/protocol/processes';
import type { Reaper } from './reaper.js';
import { ChildSupervisor, ExitReason, ServiceStatus } from './supervisor.js';
import type { ExitInfo, SupervisorEvent } from './supervisor.js';
import { closeUnixServer, listenUnix } from './unixSocket.js';
import { Waiters } from './waiters.js';

/** One child and the Mux in front of it. */
interface Instance {
  mux: Mux;
  supervisor: ChildSupervisor;
}

/** A row of `muxctl ls`. */
export interface ServiceSnapshot {
  name: string;
  status: ServiceStatus;
  isolation: Isolation;
  pids: number[];
  /** When the oldest running child started, ms since the epoch. */
  startedAt: number | undefined;
  restarts: number;
  clients: number;
  /** Clients connected but idle (HTTP sessions never ended): they keep no child up. */
  idleClients: number;
  inflight: number;
  queued: number;
  socket: string;
  lastExit: ExitInfo | undefined;
  error: string | undefined;
}

export interface ServiceDeps {
  reaper: Reaper;
  /** The service's own log (child stderr and lifecycle). */
  log: Logger;
  onEvent?: (service: string, event: SupervisorEvent) => void;
}

/**
 * A configured service: its data socket, and the child (shared) or children
 * (per-client) serving it. Starts lazily on the first client and stops when
 * idle, as configured.
 */
export class Service {
  #config: ServiceConfig;
  readonly socketPath: string;
  readonly #deps: ServiceDeps;
  #server: Server | undefined;
  /** The one instance in shared mode. */
  #shared: Instance | undefined;
  /** One instance per connected client in per-client mode. */
  readonly #perClient = new Set<Instance>();
  /** Stops of per-client children whose client left, until their process group is gone. */
  readonly #leaving = new Set<Promise<void>>();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Health pings and memory checks. */
  #monitor: ReturnType<typeof setInterval> | undefined;
  readonly #pinging = new Set<Instance>();
  /** Instances the monitor is restarting: the old child stays online (and over its limit) until it exits. */
  readonly #restarting = new Set<Instance>();
  /** Every client connection, to tell them when muxd shuts down on purpose. */
  readonly #sockets = new Set<Socket>();
  /** Set by `muxctl stop`: clients don't bring it back. */
  #stoppedByUser = false;
  #closing = false;
  /** Why the data socket could not be opened: the service is errored until `muxctl start` opens it. */
  #socketError: string | undefined;
  /** `stop` waiting for requests to finish, `settled` for children to come up: re-tested on each change, never polled. */
  readonly #waiters = new Waiters();

  constructor(config: ServiceConfig, socketPath: string, deps: ServiceDeps) {
    this.#config = config;
    this.socketPath = socketPath;
    this.#deps = deps;
    if (config.isolation === Isolation.Shared) {
      this.#shared = this.#createInstance(config.maxClients);
    }
  }

  get name(): string {
    return this.#config.name;
  }

  get config(): ServiceConfig {
    return this.#config;
  }

  /**
   * Opens the data socket and, for an eager service, starts the child. A
   * socket that cannot be opened (a path over the OS limit, another process
   * serving it, a file in the way) errors this service alone.
   */
  async open(): Promise<void> {
    try {
      this.#server = await listenUnix(this.socketPath, (socket) => this.#accept(socket));
    } catch (error) {
      this.#socketError = `cannot listen on its socket: ${(error as Error).message} (muxctl start ${this.name} tries again)`;
      this.#deps.log.error({ socket: this.socketPath }, this.#socketError);
      return;
    }
    this.#socketError = undefined;
    this.#deps.log.info({ socket: this.socketPath, isolation: this.config.isolation, lazy: this.config.lazy }, 'service listening');
    if (this.#shared) {
      if (this.config.lazy) this.#shared.supervisor.markIdle();
      else this.#shared.supervisor.start();
    }
    this.#startMonitor();
  }

  #startMonitor(): void {
    if (this.#monitor) clearInterval(this.#monitor);
    this.#monitor = undefined;
    const { healthCheck, maxMemoryBytes } = this.#config;
    if (healthCheck.intervalMs <= 0 && maxMemoryBytes <= 0) return;
    this.#monitor = setInterval(() => this.#checkHealth(), healthCheck.intervalMs > 0 ? healthCheck.intervalMs : 10_000);
    this.#monitor.unref();
  }

  /** Restarts a child over `maxMemory` (reason memory) or one that stopped answering pings (reason hung). */
  #checkHealth(): void {
    if (this.#closing) return;
    const { healthCheck, maxMemoryBytes } = this.#config;
    const log = this.#deps.log;
    const online = this.#instances().filter(({ supervisor }) => supervisor.status === ServiceStatus.Online);
    const table = maxMemoryBytes > 0 && online.length > 0 ? readProcessTable() : undefined;
    for (const instance of online) {
      if (this.#restarting.has(instance)) continue;
      const pid = instance.supervisor.pid;
      const usage = table && pid !== undefined ? treeUsage(table, pid) : undefined;
      if (usage && usage.rssBytes > maxMemoryBytes) {
        log.warn({ child: pid, rssBytes: usage.rssBytes, maxMemoryBytes }, 'child over maxMemory: restarting');
        void this.#monitorRestart(instance, ExitReason.Memory, `its processes use ${formatBytes(usage.rssBytes)}, over maxMemory ${formatBytes(maxMemoryBytes)}`);
        continue;
      }
      if (healthCheck.intervalMs <= 0 || instance.mux.upstreamState !== UpstreamState.Ready || this.#pinging.has(instance)) continue;
      this.#pinging.add(instance);
      instance.mux
        .ping(healthCheck.timeoutMs)
        .catch((error: { code?: number }) => {
          if (error?.code !== ErrorCodes.RequestTimeout || instance.supervisor.pid !== pid) return;
          log.error({ child: pid, timeoutMs: healthCheck.timeoutMs }, 'child did not answer a health ping: restarting it (hung)');
          return this.#monitorRestart(instance, ExitReason.Hung, `it did not answer a ping within ${healthCheck.timeoutMs} ms`);
        })
        .finally(() => this.#pinging.delete(instance));
    }
  }

  /**
   * One restart at a time per instance, however many checks find it unwell
   * meanwhile. It counts as a crash: backoff, and errored after too many.
   */
  async #monitorRestart(instance: Instance, reason: ExitReason, why: string): Promise<void> {
    this.#restarting.add(instance);
    try {
      await instance.supervisor.recycle(reason, why);
    } finally {
      this.#restarting.delete(instance);
    }
  }

  #createInstance(maxClients: number): Instance {
    const log = this.#deps.log;
    const instance = {} as Instance;
    instance.mux = new Mux({
      service: this.config.name,
      requestTimeoutMs: this.config.requestTimeoutMs,
      maxInflight: this.config.maxInflight,
      maxClients,
      maxQueuedBytes: this.config.maxChildBuffer,
      logger: log,
      onClientsChanged: (active, total) => this.#clientsChanged(instance, active, total),
      onUpstreamFailure: (reason) => {
        log.error({ reason }, 'restarting a child whose handshake failed');
        void instance.supervisor.recycle(ExitReason.Handshake, reason);
      },
    });
    instance.supervisor = new ChildSupervisor({
      config: this.config,
      mux: instance.mux,
      reaper: this.#deps.reaper,
      log,
      onEvent: (event) => this.#deps.onEvent?.(this.config.name, event),
      onStatusChange: () => this.#waiters.check(),
    });
    return instance;
  }

  /**
   * Joins `mux` as one more client. In-flight requests only end by an answer
   * sent to a client, a cancellation from one, or a client leaving: each
   * re-tests what `stop` waits for.
   */
  #join(mux: Mux, peer: Peer): ClientHandle {
    const changed = () => this.#waiters.check();
    const handle = mux.connectClient({
      send: (message) => {
        const refused = peer.send(message);
        changed();
        return refused;
      },
      close: (reason) => {
        peer.close(reason);
        changed();
      },
    });
    return {
      id: handle.id,
      receive: (message, bytes) => {
        handle.receive(message, bytes);
        changed();
      },
      end: () => handle.end(),
      disconnect: (reason) => {
        handle.disconnect(reason);
        changed();
      },
      setIdle: (idle) => handle.setIdle(idle),
    };
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const limits = { maxRequestBytes: this.config.maxRequestBytes, maxClientBuffer: this.config.maxClientBuffer };
    const mux = this.#muxForNewClient();
    if (!mux) {
      socket.destroy();
      return;
    }
    attachClientSocket(socket, { service: this.name, connect: (peer) => this.#join(mux, peer) }, limits, this.#deps.log);
  }

  /**
   * Connects a client that is not a data-socket connection (an HTTP
   * session) as a socket is connected. Undefined when the service is
   * closing or, per-client, already has `maxClients` clients.
   */
  connectClient(peer: Peer): ClientHandle | undefined {
    if (this.#closing) return undefined;
    const mux = this.#muxForNewClient();
    return mux ? this.#join(mux, peer) : undefined;
  }

  /** The Mux a new client joins: the shared one, or a new per-client child's (undefined past maxClients). */
  #muxForNewClient(): Mux | undefined {
    if (this.#shared) return this.#shared.mux;
    if (this.#perClient.size >= this.config.maxClients) {
      this.#deps.log.warn({ maxClients: this.config.maxClients }, 'client refused: too many clients');
      return undefined;
    }
    const instance = this.#createInstance(1);
    this.#perClient.add(instance);
    // A stopped service answers its clients with an error instead of starting a child.
    if (this.#stoppedByUser) void instance.supervisor.stop(ExitReason.Manual);
    else instance.supervisor.start();
    return instance.mux;
  }

  /** A shared child stays up for its active clients only; a per-client child lives as long as its connection. */
  #clientsChanged(instance: Instance, active: number, total: number): void {
    if (instance !== this.#shared) {
      if (total === 0 && this.#perClient.delete(instance)) {
        const stopped = instance.supervisor.stop(ExitReason.ClientGone);
        this.#leaving.add(stopped);
        void stopped.finally(() => this.#leaving.delete(stopped));
      }
      return;
    }
    if (active > 0) {
      if (this.#idleTimer) clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
      const { status } = instance.supervisor;
      if (status === ServiceStatus.Idle && !this.#closing) instance.supervisor.start();
      return;
    }
    this.#armIdleTimer();
  }

  #armIdleTimer(): void {
    const shared = this.#shared;
    if (!shared || this.config.idleTimeoutMs <= 0 || this.#idleTimer || !shared.supervisor.running) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (shared.mux.clientCount === 0 && !this.#closing) {
        this.#deps.log.info({ idleTimeoutMs: this.config.idleTimeoutMs }, 'no clients: stopping the idle child');
        void shared.supervisor.stop(ExitReason.Idle);
      }
    }, this.config.idleTimeoutMs);
    this.#idleTimer.unref();
  }

  #instances(): Instance[] {
    return this.#shared ? [this.#shared] : [...this.#perClient];
  }

  /** `muxctl start`: starts (or revives an errored) service, opening its socket first if that failed before. */
  async start(): Promise<void> {
    if (!this.#server && !this.#closing) {
      await this.open();
      if (!this.#server) return;
    }
    this.#stoppedByUser = false;
    for (const instance of this.#instances()) instance.supervisor.start();
    if (this.#shared && this.#shared.mux.clientCount === 0) this.#armIdleTimer();
  }

  /**
   * `muxctl stop`: lets in-flight requests finish (up to `stopTimeout`),
   * stops, and keeps it stopped until started again.
   */
  async stop(): Promise<void> {
    this.#stoppedByUser = true;
    await this.#drain(this.#config.stopTimeoutMs);
    await Promise.all(this.#instances().map((instance) => instance.supervisor.stop(ExitReason.Manual)));
  }

  /** Waits until no client request is in flight, or `graceMs` passed. */
  async #drain(graceMs: number): Promise<void> {
    await this.#waiters.until(() => this.#instances().every((instance) => instance.mux.stats().inflight === 0), graceMs);
  }

  /** Resolves once no child is starting or backing off, or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<void> {
    const busy = (status: ServiceStatus) => status === ServiceStatus.Starting || status === ServiceStatus.Backoff;
    await this.#waiters.until(() => !this.#instances().some(({ supervisor }) => busy(supervisor.status)), timeoutMs);
  }

  /** Applies a changed config (same isolation): children restart with it, clients stay connected. */
  async reconfigure(config: ServiceConfig): Promise<void> {
    this.#config = config;
    await this.#drain(config.stopTimeoutMs);
    await Promise.all(
      this.#instances().map(async ({ supervisor }) => {
        const wasRunning = supervisor.running;
        supervisor.reconfigure(config);
        if (wasRunning) await supervisor.restart(ExitReason.Config);
      }),
    );
    this.#startMonitor();
  }

  /** `muxctl restart`: new child(ren), clients stay connected. */
  async restart(reason: ExitReason = ExitReason.Manual): Promise<void> {
    if (!this.#server) return this.start();
    this.#stoppedByUser = false;
    await Promise.all(this.#instances().map((instance) => instance.supervisor.restart(reason)));
  }

  snapshot(): ServiceSnapshot {
    const instances = this.#instances();
    const pids: number[] = [];
    let startedAt: number | undefined;
    let restarts = 0;
    let clients = 0;
    let idleClients = 0;
    let inflight = 0;
    let queued = 0;
    let lastExit: ExitInfo | undefined;
    for (const { mux, supervisor } of instances) {
      if (supervisor.pid !== undefined) pids.push(supervisor.pid);
      const started = supervisor.startedAt;
      if (started !== undefined && (startedAt === undefined || started < startedAt)) startedAt = started;
      restarts += supervisor.restarts;
      const stats = mux.stats();
      clients += stats.clients;
      idleClients += stats.idleClients;
      inflight += stats.inflight;
      queued += stats.queued;
      if (supervisor.lastExit && (!lastExit || supervisor.lastExit.at > lastExit.at)) lastExit = supervisor.lastExit;
    }
    const primary = instances[0]?.supervisor;
    let status: ServiceStatus;
    if (this.#socketError) status = ServiceStatus.Errored;
    else if (primary) status = primary.status;
    else status = this.#stoppedByUser ? ServiceStatus.Stopped : ServiceStatus.Idle;
    return {
      name: this.name,
      status,
      isolation: this.config.isolation,
      pids,
      startedAt,
      restarts,
      clients,
      idleClients,
      inflight,
      queued,
      socket: this.socketPath,
      lastExit,
      error: this.#socketError ?? primary?.errorMessage,
    };
  }

  /** Shuts down: disconnects clients, stops every child, removes the socket. */
  async close(reason: ExitReason = ExitReason.Shutdown): Promise<void> {
    this.#closing = true;
    // A deliberate shutdown: proxies leave with muxd instead of starting it again.
    if (reason === ExitReason.Shutdown) for (const socket of this.#sockets) if (socket.writable) socket.write(SHUTDOWN_LINE);
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (this.#monitor) clearInterval(this.#monitor);
    const server = this.#server;
    this.#server = undefined;
    const closed = server ? closeUnixServer(server, this.socketPath) : Promise.resolve();
    const instances = this.#instances();
    await Promise.all(instances.map((instance) => instance.supervisor.stop(reason)));
    for (const instance of instances) instance.mux.closeAllClients('muxd is shutting down');
    // Per-client children whose client left before or during the shutdown: their stops end it too.
    await Promise.all(this.#leaving);
    await closed;
  }
}
