import type { Server, Socket } from 'node:net';
import { Mux } from '@muxd/engine';
import type { ClientHandle, Peer } from '@muxd/engine';
import { SHUTDOWN_LINE } from '@muxd/protocol';
import type { ServiceConfig } from '@muxd/config';
import { Isolation } from '@muxd/config';
import { attachClientSocket } from './clientConnection.js';
import { HealthMonitor } from './healthMonitor.js';
import type { ServiceInstance } from './healthMonitor.js';
import type { Logger } from './logs.js';
import { ServiceCounters } from './metrics/serviceCounters.js';
import type { Reaper } from './reaper.js';
import { ChildSupervisor, ExitReason, ServiceStatus } from './supervisor.js';
import type { ExitInfo, SupervisorEvent } from './supervisor.js';
import { closeUnixServer, listenUnix } from './unixSocket.js';
import { Unwrapper } from './unwrap/unwrapper.js';
import type { PackageStore } from './unwrap/packageStore.js';
import { Waiters } from './waiters.js';

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
  /** Clients on the data socket (mux-proxy); the other clients are HTTP sessions. */
  socketClients: number;
  /** The pids the data-socket clients said they have (`muxd/clientPid`); older proxies say none. */
  clientPids: number[];
  /** Undefined for a service without a data socket (clients connect in process). */
  socket: string | undefined;
  lastExit: ExitInfo | undefined;
  error: string | undefined;
}

export interface ServiceDeps {
  reaper: Reaper;
  /** The service's own log (child stderr and lifecycle). */
  log: Logger;
  onEvent?: (service: string, event: SupervisorEvent) => void;
  /** Where package runners' packages are installed (unwrap); without it only project dependencies are unwrapped. */
  packages?: PackageStore | undefined;
}

/**
 * A configured service: its data socket, and the child (shared) or children
 * (per-client) serving it. Starts lazily on the first client and stops when
 * idle, as configured.
 */
export class Service {
  #config: ServiceConfig;
  /** Undefined: no data socket, clients connect in process only (`connectClient`). */
  readonly socketPath: string | undefined;
  readonly #deps: ServiceDeps;
  #server: Server | undefined;
  /** Set once `open` succeeded: its socket listens, if it has one. */
  #opened = false;
  /** The one instance in shared mode. */
  #shared: ServiceInstance | undefined;
  /** One instance per connected client in per-client mode. */
  readonly #perClient = new Set<ServiceInstance>();
  /** Stops of per-client children whose client left, until their process group is gone. */
  readonly #leaving = new Set<Promise<void>>();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Health pings and memory checks. */
  readonly #monitor: HealthMonitor;
  /** Every client connection, to tell them when muxd shuts down on purpose. */
  readonly #sockets = new Set<Socket>();
  /** The pid each data-socket client said it has. */
  readonly #clientPids = new Map<Socket, number>();
  /** Set by `muxctl stop`: clients don't bring it back. */
  #stoppedByUser = false;
  #closing = false;
  /** Why the data socket could not be opened: the service is errored until `muxctl start` opens it. */
  #socketError: string | undefined;
  /** `stop` waiting for requests to finish, `settled` for children to come up: re-tested on each change, never polled. */
  readonly #waiters = new Waiters();
  /** Runs a package runner's bin without the runner (`unwrap`), rebuilt when the config changes. */
  #unwrap: Unwrapper;
  /** Requests, sessions, exits and resource samples since muxd started (`muxctl metrics`, `/metrics`). */
  readonly metrics = new ServiceCounters();

  constructor(config: ServiceConfig, socketPath: string | undefined, deps: ServiceDeps) {
    this.#config = config;
    this.socketPath = socketPath;
    this.#deps = deps;
    this.#unwrap = new Unwrapper(config, deps.log, deps.packages);
    this.#monitor = new HealthMonitor({ config: () => this.#config, instances: () => this.#instances(), closing: () => this.#closing, log: deps.log });
    if (config.isolation === Isolation.Shared) {
      this.#shared = this.#createInstance(config.maxClients);
    }
  }

  get name(): string {
    return this.#config.name;
  }

  /** The package runner seen through, for `muxctl describe` and `update`. */
  get unwrap(): Unwrapper {
    return this.#unwrap;
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
    const socketPath = this.socketPath;
    if (socketPath !== undefined) {
      try {
        this.#server = await listenUnix(socketPath, (socket) => this.#accept(socket));
      } catch (error) {
        this.#socketError = `cannot listen on its socket: ${(error as Error).message} (muxctl start ${this.name} tries again)`;
        this.#deps.log.error({ socket: socketPath }, this.#socketError);
        return;
      }
    }
    this.#opened = true;
    this.#socketError = undefined;
    this.#deps.log.info({ socket: socketPath, isolation: this.config.isolation, lazy: this.config.lazy }, 'service listening');
    this.#unwrap.begin();
    if (this.#shared) {
      if (this.config.lazy) this.#shared.supervisor.markIdle();
      else this.#shared.supervisor.start();
    }
    this.#monitor.start();
  }

  #createInstance(maxClients: number): ServiceInstance {
    const log = this.#deps.log;
    const mux: Mux = new Mux({
      service: this.config.name,
      requestTimeoutMs: this.config.requestTimeoutMs,
      maxInflight: this.config.maxInflight,
      maxClients,
      maxQueuedBytes: this.config.maxChildBuffer,
      logger: log,
      onClientsChanged: (active, total) => {
        this.#clientsChanged(instance, active, total);
        this.#waiters.check();
      },
      onRequestEnded: (end) => {
        this.metrics.requestEnded(end);
        // What `stop` waits for: no client request in flight.
        this.#waiters.check();
      },
      onUpstreamFailure: (reason) => {
        log.error({ reason }, 'restarting a child whose handshake failed');
        void supervisor.recycle(ExitReason.Handshake, reason);
      },
    });
    const supervisor = new ChildSupervisor({
      config: this.config,
      mux,
      reaper: this.#deps.reaper,
      log,
      onEvent: (event) => {
        if (event.type === 'exit') this.metrics.exited(event.exit);
        this.#deps.onEvent?.(this.config.name, event);
      },
      onStatusChange: () => this.#waiters.check(),
      launch: (config) => this.#unwrap.launch(config),
    });
    const instance: ServiceInstance = { mux, supervisor };
    return instance;
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#clientPids.delete(socket);
    });
    const limits = { maxRequestBytes: this.config.maxRequestBytes, maxClientBuffer: this.config.maxClientBuffer };
    const mux = this.#muxForNewClient();
    if (!mux) {
      socket.destroy();
      return;
    }
    const target = {
      service: this.name,
      connect: (peer: Peer) => this.#counted(mux, peer, 'socket'),
      onClientPid: (pid: number) => this.#clientPids.set(socket, pid),
    };
    attachClientSocket(socket, target, limits, this.#deps.log);
  }

  /**
   * Connects a client that is not a data-socket connection (an HTTP
   * session) as a socket is connected. Undefined when the service is
   * closing or, per-client, already has `maxClients` clients.
   */
  connectClient(peer: Peer): ClientHandle | undefined {
    if (this.#closing) return undefined;
    const mux = this.#muxForNewClient();
    return mux && this.#counted(mux, peer, 'http');
  }

  /**
   * Connects a client to `mux`, listed among the sessions until either side
   * ends it: its transport disconnecting, or the engine closing it (a
   * client over maxClients, one that finished, shutdown).
   */
  #counted(mux: Mux, peer: Peer, transport: 'socket' | 'http'): ClientHandle {
    let session: string | undefined;
    let ended = false;
    const end = (): void => {
      ended = true;
      if (session !== undefined) this.metrics.sessions.ended(session);
      session = undefined;
    };
    const handle = mux.connectClient({
      send: (message) => peer.send(message),
      close: (reason) => {
        end();
        peer.close(reason);
      },
    });
    if (!ended) session = this.metrics.sessions.started(transport, () => mux.clientInfo(handle.id));
    return {
      ...handle,
      disconnect: (reason) => {
        end();
        handle.disconnect(reason);
      },
    };
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
  #clientsChanged(instance: ServiceInstance, active: number, total: number): void {
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

  #instances(): ServiceInstance[] {
    return this.#shared ? [this.#shared] : [...this.#perClient];
  }

  /** `muxctl start`: starts (or revives an errored) service, opening its socket first if that failed before. */
  async start(): Promise<void> {
    if (!this.#opened && !this.#closing) {
      await this.open();
      if (!this.#opened) return;
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
    this.#unwrap.close();
    this.#unwrap = new Unwrapper(config, this.#deps.log, this.#deps.packages);
    this.#unwrap.begin();
    await this.#drain(config.stopTimeoutMs);
    await Promise.all(
      this.#instances().map(async ({ supervisor }) => {
        const wasRunning = supervisor.running;
        supervisor.reconfigure(config);
        if (wasRunning) await supervisor.restart(ExitReason.Config);
      }),
    );
    this.#monitor.start();
  }

  /** `muxctl restart`: new child(ren), clients stay connected. */
  async restart(reason: ExitReason = ExitReason.Manual): Promise<void> {
    if (!this.#opened) return this.start();
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
      socketClients: this.#sockets.size,
      clientPids: [...this.#clientPids.values()],
      socket: this.socketPath,
      lastExit,
      error: this.#socketError ?? primary?.errorMessage,
    };
  }

  /** Shuts down: disconnects clients, stops every child, removes the socket. */
  async close(reason: ExitReason = ExitReason.Shutdown): Promise<void> {
    this.#closing = true;
    this.#unwrap.close();
    // A deliberate shutdown: proxies leave with muxd instead of starting it again.
    if (reason === ExitReason.Shutdown) for (const socket of this.#sockets) if (socket.writable) socket.write(SHUTDOWN_LINE);
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#monitor.stop();
    const server = this.#server;
    this.#server = undefined;
    const closed = server && this.socketPath !== undefined ? closeUnixServer(server, this.socketPath) : Promise.resolve();
    const instances = this.#instances();
    await Promise.all(instances.map((instance) => instance.supervisor.stop(reason)));
    for (const instance of instances) instance.mux.closeAllClients('muxd is shutting down');
    // Per-client children whose client left before or during the shutdown: their stops end it too.
    await Promise.all(this.#leaving);
    await closed;
  }
}
