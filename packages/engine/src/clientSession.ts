import type { JsonObject, JsonRpcId, JsonRpcMessage, JsonRpcResponse } from '@muxd/protocol';
import type { IdKey } from './idKey.js';
import type { LogLevel } from './logLevels.js';
import type { Peer } from './peer.js';
import { messageFor } from './versionAdapter.js';

/** Lifecycle of one downstream client as the engine tracks it. */
export const ClientPhase = {
  /** Connected, no initialize answered yet. */
  New: 'new',
  /** Sent initialize; waiting for the upstream handshake. */
  Initializing: 'initializing',
  /** Initialize answered: receives routed notifications. */
  Ready: 'ready',
  /** Disconnected; every mapping it owned has been released. */
  Closed: 'closed',
} as const;
export type ClientPhase = (typeof ClientPhase)[keyof typeof ClientPhase];

/** A batch the client sent: its answers go back as one array. */
export interface PendingBatch {
  waiting: Set<IdKey>;
  responses: JsonRpcResponse[];
  /** Sent already: its last awaited answer completed it. */
  sent: boolean;
}

/** Everything the engine knows about one client. Owned by `Mux`. */
export class ClientSession {
  readonly id: number;
  readonly peer: Peer;
  phase: ClientPhase = ClientPhase.New;
  /** Refused at connect time (too many clients): answers each request with an error. */
  rejected = false;
  /** The client closed its input; close it once nothing is in flight. */
  ending = false;
  /** Its transport says it is idle (see `ClientHandle.setIdle`). */
  idle = false;
  /** The id of its initialize request while it waits for the handshake. */
  initializeId: JsonRpcId | undefined;
  /** The protocol version it asked for in its initialize. */
  requestedVersion: string | undefined;
  /** The version it was answered with; what it receives is adapted to it. */
  protocolVersion: string | undefined;
  capabilities: JsonObject = {};
  clientInfo: JsonObject | undefined;
  /** Its own `logging/setLevel`, if it sent one. */
  logLevel: LogLevel | undefined;
  /** Its roots as last fetched, when the server has asked for roots. */
  roots: JsonObject[] | undefined;
  /** Its in-flight requests: original id -> upstream id. */
  readonly inflight = new Map<IdKey, number>();
  /** Ids of server->client requests routed to it and not answered yet. */
  readonly serverRequests = new Set<number>();
  readonly subscriptions = new Set<string>();
  readonly tasks = new Set<string>();
  /** Batches not yet complete, by the ids of their requests. */
  readonly batches = new Map<IdKey, PendingBatch>();
  /** Order of its last request, to find the likely cause of a server request. */
  lastRequestSeq = 0;

  constructor(id: number, peer: Peer) {
    this.id = id;
    this.peer = peer;
  }

  /** Delivers a message or batch, adapted to the client's protocol version. */
  send(message: JsonRpcMessage | JsonRpcMessage[]): void {
    this.peer.send(this.protocolVersion === undefined ? message : messageFor(message, this.protocolVersion));
  }

  get isReady(): boolean {
    return this.phase === ClientPhase.Ready;
  }

  get isOpen(): boolean {
    return this.phase !== ClientPhase.Closed;
  }

  /** True when the client declared `capability` (e.g. `sampling`) in its initialize. */
  can(capability: string): boolean {
    const value = this.capabilities[capability];
    return typeof value === 'object' && value !== null;
  }
}
