import type { JsonObject, JsonRpcMessage, JsonRpcResponse } from '@muxd/protocol';
import type { ClientSession } from './clientSession.js';
import type { Clock } from './clock.js';
import type { MuxLogger } from './peer.js';

/**
 * What the parts of a `Mux` (one per concern: requests, progress, tasks,
 * roots, subscriptions...) share: the service, the clients, and the ways to
 * reach them and the server. `Mux` implements it.
 */
export interface MuxContext {
  readonly service: string;
  readonly log: MuxLogger;
  readonly clock: Clock;
  /** Connected clients, in the order they came. */
  readonly clients: ReadonlyMap<number, ClientSession>;
  /** True while the upstream handshake is done and the child takes requests. */
  upstreamReady(): boolean;
  /** Sends to the child as it is (notifications, answers to the server's requests). */
  sendUpstream(message: JsonRpcMessage): void;
  /**
   * A request of muxd's own to the server; rejects with the JSON-RPC error
   * object. `queue` waits for the handshake instead of failing at once.
   */
  request(method: string, params?: JsonObject, options?: { timeoutMs?: number; queue?: boolean }): Promise<JsonObject>;
  /** Answers a client, into its batch when the answer belongs to one. */
  reply(client: ClientSession, response: JsonRpcResponse): void;
  /** Closes a client that said it is done, once it is owed nothing more. */
  closeIfDrained(client: ClientSession): void;
}
