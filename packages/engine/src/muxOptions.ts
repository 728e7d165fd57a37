import type { Clock } from './clock.js';
import type { UpstreamState } from './handshake.js';
import type { MuxLogger } from './peer.js';

export interface MuxOptions {
  /** Service name, for logs and error messages. */
  service: string;
  /** Milliseconds a request may wait for its answer; progress restarts the clock. 0 disables. Default 120000. */
  requestTimeoutMs?: number;
  /** Requests one client may have in flight (queued ones included). Default 256. */
  maxInflight?: number;
  /** Clients connected at once. Default 256. */
  maxClients?: number;
  /**
   * Bytes of client requests that may wait for the handshake (as the
   * transports measured their lines); past it a request fails at once
   * with -32039. Default 32 MiB.
   */
  maxQueuedBytes?: number;
  logger?: MuxLogger;
  /** Time and timers; the system clock unless a test moves time by hand. */
  clock?: Clock;
  /**
   * Called whenever the number of connected clients changes: `active`
   * leaves out the idle ones (see `ClientHandle.setIdle`), `total` counts
   * every connection.
   */
  onClientsChanged?: (active: number, total: number) => void;
  /**
   * Called when a client's request ended: answered, failed, timed out,
   * cancelled or dropped with its client, or refused by muxd before it
   * went upstream.
   */
  onRequestEnded?: (end: RequestEnd) => void;
  /** Called when the attached child can't be used (its handshake failed or timed out). */
  onUpstreamFailure?: (reason: string) => void;
}

/** How a client request ended, for metrics. */
export interface RequestEnd {
  /** The JSON-RPC method, as the client sent it (any string: bound it before keeping it). */
  method: string;
  /** `tools/call`: the tool's name, when it is a string. */
  tool?: string | undefined;
  /** From muxd receiving the request to its answer, ms. */
  durationMs: number;
  /** `error`: a JSON-RPC error answer, the server's or muxd's; `cancelled`: the client cancelled it or left. */
  outcome: 'ok' | 'error' | 'timeout' | 'cancelled';
}

export interface MuxStats {
  upstream: UpstreamState;
  /** Connected clients that are not idle. */
  clients: number;
  /** Connected clients that said nothing for a while and hold nothing open (HTTP sessions never ended). */
  idleClients: number;
  /** Client requests sent upstream and not answered yet. */
  inflight: number;
  /** Client requests waiting for the upstream handshake. */
  queued: number;
}
