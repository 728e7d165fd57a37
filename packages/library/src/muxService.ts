import type { MuxTransport } from './muxTransport.js';

/** Where a service stands, as `muxctl ls` says it. */
export type ServiceStatus = 'stopped' | 'starting' | 'online' | 'backoff' | 'errored' | 'idle';

/** A snapshot of one service. */
export interface ServiceState {
  name: string;
  status: ServiceStatus;
  /** Pids of its running children: one when shared, one per client when `isolation: per-client`. */
  pids: number[];
  /** Connected clients, in process and through the socket. */
  clients: number;
  /** Restarts after crashes (and `restart()`) since `createMux`. */
  restarts: number;
  /** Its data socket; undefined without `socketDir`. */
  socketPath: string | undefined;
  /** Why it is errored, when it is. */
  error: string | undefined;
}

/** One service of a `MuxHost`. */
export interface MuxService {
  readonly name: string;
  /** The Unix socket `mux-proxy` and `checkHealth` connect to; undefined without `socketDir`. */
  readonly socketPath: string | undefined;
  /** A new in-process client connection (started by `Client.connect`). A lazy service starts its child on the first client. */
  connect(): MuxTransport;
  state(): ServiceState;
  /** Starts the child (or revives an errored service); resolves once it is up or has failed, at most after 10 s. */
  start(): Promise<void>;
  /** Lets requests in flight finish (up to `stopTimeout`), then stops the child; clients do not bring it back until `start`. */
  stop(): Promise<void>;
  /** Replaces the child; clients stay connected. */
  restart(): Promise<void>;
}
