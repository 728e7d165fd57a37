import {
  ErrorCodes,
  MessageKind,
  classifyMessage,
  describeId,
  errorResponse,
  isExactNumberId,
  LATEST_PROTOCOL_VERSION,
  negotiateVersion,
  isFailure,
  isJsonObject,
  successResponse,
} from '@muxd/protocol';
import type {
  JsonObject,
  JsonRpcErrorObject,
  JsonRpcId,
  JsonRpcMessage,
  JsonRpcNotification,
  JsonRpcRequest,
  JsonRpcResponse,
} from '@muxd/protocol';
import { ClientPhase, ClientSession } from './clientSession.js';
import type { PendingBatch } from './clientSession.js';
import { idKey } from './idKey.js';
import type { IdKey } from './idKey.js';
import { isLogLevel, logLevelRank, mostVerbose } from './logLevels.js';
import type { LogLevel } from './logLevels.js';
import { silentLogger } from './peer.js';
import type { MuxLogger, Peer } from './peer.js';
import { SubscriptionTable, UpstreamSubscription } from './subscriptionTable.js';
import { initializeResultFor } from './versionAdapter.js';

/** Where the one upstream session stands. */
export const UpstreamState = {
  /** No child attached (not started, restarting, or stopped). */
  Down: 'down',
  /** Child attached; the handshake waits for a first client's initialize. */
  Connected: 'connected',
  Initializing: 'initializing',
  Ready: 'ready',
  /** The handshake failed: this child can't be used; the supervisor replaces it. */
  Failed: 'failed',
} as const;
export type UpstreamState = (typeof UpstreamState)[keyof typeof UpstreamState];

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
  /**
   * Called whenever the number of connected clients changes: `active`
   * leaves out the idle ones (see `ClientHandle.setIdle`), `total` counts
   * every connection.
   */
  onClientsChanged?: (active: number, total: number) => void;
  /** Called when the attached child can't be used (its handshake failed or timed out). */
  onUpstreamFailure?: (reason: string) => void;
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

/** The engine's side of one client connection, driven by its transport. */
export interface ClientHandle {
  readonly id: number;
  /** One parsed JSON value (message or batch) from the client, and the size of its line in bytes. */
  receive(message: unknown, bytes?: number): void;
  /** The client will send nothing more: close once its answers are delivered. */
  end(): void;
  /** The connection is gone: release everything the client owned. Idempotent. */
  disconnect(reason?: string): void;
  /**
   * The transport's word on whether the client is idle: connected, but
   * silent for a while with nothing open (an HTTP session its host never
   * ended). Idle clients are counted apart and keep no child up.
   */
  setIdle(idle: boolean): void;
}

/** The engine's side of the child's stdio, driven by the supervisor. */
export interface UpstreamHandle {
  /** One parsed JSON value from the child's stdout. */
  receive(message: unknown): void;
  /** The child is gone. Idempotent. */
  closed(reason: string, end?: UpstreamEnd): void;
}

/** How a child that muxd did not mean to stop ended. */
export interface UpstreamEnd {
  /** It crashed, or muxd had to replace it: not a stop that was asked for. */
  failed: boolean;
  /** The last lines it wrote to stderr, for clients waiting for a handshake it never completed. */
  stderrTail?: string;
}

/** A request muxd sent upstream for a client, or for itself. */
interface PendingRequest {
  readonly upstreamId: number;
  readonly method: string;
  /** The client it came from; undefined for muxd's own requests. */
  readonly client: ClientSession | undefined;
  readonly originalId: JsonRpcId | undefined;
  /** The rewritten message, kept until it is sent. */
  message: JsonRpcRequest | undefined;
  /** Size of the client's line, counted against `maxQueuedBytes` while it waits. */
  readonly bytes: number;
  sent: boolean;
  /** The client's own progress token, when it asked for progress. */
  readonly originalToken: string | number | undefined;
  readonly taskAugmented: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Sees the response first; for muxd's own requests it is the only reader. */
  readonly onResponse: ((response: JsonRpcResponse) => JsonRpcResponse | undefined) | undefined;
}

/** Where progress for one upstream token goes. */
interface ProgressRoute {
  readonly client: ClientSession;
  readonly originalToken: string | number;
  /** Request still in flight; undefined once it turned into a task. */
  upstreamId: number | undefined;
}

/** A request sent to a client: from the server, or muxd's own (roots). */
interface ClientBoundRequest {
  readonly id: number;
  readonly client: ClientSession;
  /** The server's id, when the server asked. */
  readonly upstreamId: JsonRpcId | undefined;
  readonly onResponse: (response: JsonRpcResponse) => void;
  /** The client left or the request is void: answer the asker some other way. */
  readonly onAbandon: (reason: string) => void;
}

/** Capability a client must have declared to take each server->client request. */
const CAPABILITY_FOR_METHOD: Readonly<Record<string, string>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
  'tasks/get': 'tasks',
  'tasks/result': 'tasks',
  'tasks/list': 'tasks',
  'tasks/cancel': 'tasks',
};

/** What muxd declares upstream: everything it can route to some client. */
const UPSTREAM_CAPABILITIES: JsonObject = {
  roots: { listChanged: true },
  sampling: {},
  elicitation: {},
};

const TERMINAL_TASK_STATUSES = new Set(['completed', 'failed', 'cancelled']);
/** How long muxd waits for a client to answer its own roots/list. */
const ROOTS_TIMEOUT_MS = 10_000;
/** Status of a task whose creating answer has not arrived yet is held this long, for this many tasks. */
const EARLY_STATUS_MS = 30_000;
const EARLY_STATUS_TASKS = 64;
const EARLY_STATUS_PER_TASK = 16;
/** Elicitations routed to a client and not completed yet, kept at most (the oldest go first). */
const MAX_ELICITATIONS = 1024;
const LIST_CHANGED = [
  ['tools', 'notifications/tools/list_changed'],
  ['prompts', 'notifications/prompts/list_changed'],
  ['resources', 'notifications/resources/list_changed'],
] as const;

/**
 * One upstream MCP session shared by many clients. Implements the routing
 * rules: id and progress-token rewriting, one initialize, cancellation,
 * server->client requests, shared subscriptions and log levels, task
 * ownership, batches and limits. Pure logic over `Peer`s: no sockets, no
 * processes.
 */
export class Mux {
  readonly service: string;
  readonly #requestTimeoutMs: number;
  readonly #maxInflight: number;
  readonly #maxClients: number;
  readonly #maxQueuedBytes: number;
  readonly #log: MuxLogger;
  readonly #onClientsChanged: ((active: number, total: number) => void) | undefined;
  readonly #onUpstreamFailure: ((reason: string) => void) | undefined;

  readonly #clients = new Map<number, ClientSession>();
  #nextClientId = 1;
  #idleClients = 0;

  #upstream: Peer | undefined;
  #upstreamState: UpstreamState = UpstreamState.Down;
  /** Why new requests fail at once (service stopped or errored); undefined while it may serve. */
  #unavailable: string | undefined;
  /** Parameters of the upstream initialize, taken from the first client and reused after restarts. */
  #initializeParams: JsonObject | undefined;
  #initializeResult: JsonObject | undefined;
  /** Why the last child never became ready; cleared by a handshake that succeeds. */
  #startFailure: string | undefined;

  readonly #pending = new Map<number, PendingRequest>();
  /** Requests accepted before the handshake finished, in arrival order. */
  #queue: number[] = [];
  #queuedBytes = 0;
  readonly #progress = new Map<IdKey, ProgressRoute>();

  #nextClientBoundId = 1;
  readonly #clientBound = new Map<number, ClientBoundRequest>();
  /** The server's id of each request it sent a client -> the id that client saw. */
  readonly #clientBoundByUpstream = new Map<IdKey, number>();
  readonly #elicitations = new Map<string, ClientSession>();
  readonly #taskOwners = new Map<string, ClientSession>();
  /** Task status the server sent before the answer that created the task (it does). */
  readonly #earlyTaskStatus = new Map<string, { at: number; notifications: JsonRpcNotification[] }>();
  /** Upstream progress token kept alive by each task. */
  readonly #taskTokens = new Map<string, IdKey>();

  readonly #subscriptions = new SubscriptionTable();
  /** Level last applied upstream. */
  #upstreamLogLevel: LogLevel | undefined;
  /** The roots last given to the server, to tell it when the merged set changes. */
  #rootsGiven: string | undefined;
  #requestSeq = 0;

  constructor(options: MuxOptions) {
    this.service = options.service;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 120_000;
    this.#maxInflight = options.maxInflight ?? 256;
    this.#maxClients = options.maxClients ?? 256;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 32 * 1024 ** 2;
    this.#log = options.logger ?? silentLogger;
    this.#onClientsChanged = options.onClientsChanged;
    this.#onUpstreamFailure = options.onUpstreamFailure;
  }

  get upstreamState(): UpstreamState {
    return this.#upstreamState;
  }

  /** Connected clients that are not idle. */
  get clientCount(): number {
    return this.#clients.size - this.#idleClients;
  }

  /** The cached initialize result, once the handshake has succeeded. */
  get initializeResult(): JsonObject | undefined {
    return this.#initializeResult;
  }

  stats(): MuxStats {
    let inflight = 0;
    for (const pending of this.#pending.values()) if (pending.sent && pending.client) inflight++;
    return {
      upstream: this.#upstreamState,
      clients: this.#clients.size - this.#idleClients,
      idleClients: this.#idleClients,
      inflight,
      queued: this.#queue.length,
    };
  }

  // ---------------------------------------------------------------- clients

  /** Registers a new client connection. */
  connectClient(peer: Peer): ClientHandle {
    const client = new ClientSession(this.#nextClientId++, peer);
    if (this.#clients.size >= this.#maxClients) {
      client.rejected = true;
      this.#log.warn({ client: client.id, maxClients: this.#maxClients }, 'client refused: too many clients');
    } else {
      this.#clients.set(client.id, client);
      this.#log.debug({ client: client.id }, 'client connected');
      this.#clientsChanged();
    }
    return {
      id: client.id,
      receive: (message, bytes = 0) => this.#receiveFromClient(client, message, bytes),
      end: () => {
        client.ending = true;
        this.#closeIfDrained(client);
      },
      disconnect: (reason) => this.#disconnect(client, reason ?? 'client disconnected'),
      setIdle: (idle) => {
        if (client.idle === idle || !this.#clients.has(client.id)) return;
        client.idle = idle;
        this.#idleClients += idle ? 1 : -1;
        this.#log.debug({ client: client.id }, idle ? 'client idle' : 'client active again');
        this.#clientsChanged();
      },
    };
  }

  #clientsChanged(): void {
    this.#onClientsChanged?.(this.#clients.size - this.#idleClients, this.#clients.size);
  }

  /** Disconnects every client (daemon shutdown). */
  closeAllClients(reason: string): void {
    for (const client of [...this.#clients.values()]) {
      client.peer.close(reason);
      this.#disconnect(client, reason);
    }
  }

  #receiveFromClient(client: ClientSession, message: unknown, bytes: number): void {
    if (!client.isOpen) return;
    if (Array.isArray(message)) {
      this.#receiveBatch(client, message, bytes);
      return;
    }
    switch (classifyMessage(message)) {
      case MessageKind.Request:
        this.#clientRequest(client, message as JsonRpcRequest, bytes);
        break;
      case MessageKind.Notification:
        this.#clientNotification(client, message as JsonRpcNotification);
        break;
      case MessageKind.Response:
        this.#clientResponse(client, message as JsonRpcResponse);
        break;
      default:
        this.#log.warn({ client: client.id }, 'invalid JSON-RPC message from client');
        this.#reply(client, errorResponse(readableId(message), ErrorCodes.InvalidRequest, 'Invalid JSON-RPC message'));
    }
  }

  /** Splits a batch (2025-03-26) and answers it with one array. */
  #receiveBatch(client: ClientSession, members: unknown[], bytes: number): void {
    if (members.length === 0) {
      this.#reply(client, errorResponse(null, ErrorCodes.InvalidRequest, 'Empty batch'));
      return;
    }
    const batch: PendingBatch = { waiting: new Set(), responses: [] };
    // Register every request first, so answers given synchronously still wait for the rest.
    const accepted: unknown[] = [];
    for (const member of members) {
      const kind = classifyMessage(member);
      if (kind === MessageKind.Invalid) {
        batch.responses.push(errorResponse(readableId(member), ErrorCodes.InvalidRequest, 'Invalid JSON-RPC message in batch'));
        continue;
      }
      if (kind === MessageKind.Request) {
        const key = idKey((member as JsonRpcRequest).id);
        if (!client.batches.has(key) && !client.inflight.has(key)) {
          batch.waiting.add(key);
          client.batches.set(key, batch);
        }
      }
      accepted.push(member);
    }
    for (const member of accepted) this.#receiveFromClient(client, member, Math.ceil(bytes / members.length));
    if (batch.waiting.size === 0 && batch.responses.length > 0) client.send(batch.responses);
  }

  #clientRequest(client: ClientSession, request: JsonRpcRequest, bytes: number): void {
    const { id, method } = request;
    if (client.rejected) {
      this.#reply(client, errorResponse(id, ErrorCodes.TooManyClients, `Service '${this.service}' has too many clients (maxClients ${this.#maxClients})`));
      client.peer.close('too many clients');
      return;
    }
    if (method === 'initialize') {
      this.#clientInitialize(client, request);
      return;
    }
    if (method === 'ping' && this.#upstreamState !== UpstreamState.Ready) {
      // muxd itself is alive and will serve once the child is back.
      this.#reply(client, successResponse(id, {}));
      return;
    }
    if (client.phase === ClientPhase.New && method !== 'ping') {
      this.#reply(client, errorResponse(id, ErrorCodes.InvalidRequest, 'Send initialize before other requests'));
      return;
    }
    const key = idKey(id);
    if (client.inflight.has(key)) {
      this.#reply(client, errorResponse(id, ErrorCodes.DuplicateRequestId, `Request id ${describeId(id)} is already in flight`));
      return;
    }
    if (client.inflight.size >= this.#maxInflight) {
      this.#reply(client, errorResponse(id, ErrorCodes.TooManyRequests, `Too many requests in flight (maxInflight ${this.#maxInflight})`));
      return;
    }
    if (this.#unavailable !== undefined) {
      this.#reply(client, errorResponse(id, ErrorCodes.ServiceUnavailable, this.#unavailable));
      return;
    }
    client.lastRequestSeq = ++this.#requestSeq;
    const params = request.params;
    switch (method) {
      case 'resources/subscribe':
        this.#subscribe(client, id, params);
        return;
      case 'resources/unsubscribe':
        this.#unsubscribe(client, id, params);
        return;
      case 'logging/setLevel':
        this.#setLogLevel(client, id, params);
        return;
      case 'tasks/get':
      case 'tasks/result':
      case 'tasks/cancel': {
        const taskId = params?.['taskId'];
        if (typeof taskId !== 'string' || this.#taskOwners.get(taskId) !== client) {
          this.#reply(client, errorResponse(id, ErrorCodes.InvalidParams, `Unknown task: ${JSON.stringify(taskId)}`));
          return;
        }
        this.#forward(client, request, bytes);
        return;
      }
      case 'tasks/list':
        this.#forward(client, request, bytes, (response) => this.#filterTaskList(client, response));
        return;
      default:
        this.#forward(client, request, bytes);
    }
  }

  /** Sends a client's request upstream under a fresh id (queued until the handshake is done). */
  #forward(
    client: ClientSession,
    request: JsonRpcRequest,
    bytes: number,
    onResponse?: (response: JsonRpcResponse) => JsonRpcResponse | undefined,
  ): void {
    const upstreamId = this.#newUpstreamId();
    let params = request.params;
    let originalToken: string | number | undefined;
    const meta = params?.['_meta'];
    if (isJsonObject(meta)) {
      const token = meta['progressToken'];
      if (typeof token === 'string' || typeof token === 'number') {
        originalToken = token;
        params = { ...params, _meta: { ...meta, progressToken: upstreamId } };
        this.#progress.set(idKey(upstreamId), { client, originalToken: token, upstreamId });
      }
    }
    const message: JsonRpcRequest = { ...request, id: upstreamId };
    if (params !== undefined) message.params = params;
    const pending: PendingRequest = {
      upstreamId,
      method: request.method,
      client,
      originalId: request.id,
      message,
      bytes,
      sent: false,
      originalToken,
      taskAugmented: isJsonObject(request.params?.['task']),
      timer: undefined,
      onResponse,
    };
    this.#pending.set(upstreamId, pending);
    client.inflight.set(idKey(request.id), upstreamId);
    this.#armTimer(pending);
    this.#sendOrQueue(pending);
  }

  /**
   * Writes a pending request upstream once the handshake is done, or queues
   * it (within `maxQueuedBytes`). A request the child's transport refuses,
   * or one the queue cannot take, fails at once.
   */
  #sendOrQueue(pending: PendingRequest, ready = this.#upstreamState === UpstreamState.Ready): void {
    const message = pending.message;
    if (!message) return;
    if (ready && this.#upstream) {
      const refused = this.#upstream.send(message);
      if (refused) {
        this.#settle(pending, { jsonrpc: '2.0', id: pending.upstreamId, error: refused });
        return;
      }
      pending.sent = true;
      // Sent: a large request's text need not live until its answer comes.
      pending.message = undefined;
      return;
    }
    if (pending.bytes > 0 && this.#queuedBytes + pending.bytes > this.#maxQueuedBytes) {
      this.#settle(
        pending,
        errorResponse(
          pending.upstreamId,
          ErrorCodes.ChildBufferFull,
          `Too much is waiting for service '${this.service}' to start: over ${this.#maxQueuedBytes} bytes of requests (maxChildBuffer); retry once it is up`,
        ),
      );
      return;
    }
    this.#queuedBytes += pending.bytes;
    this.#queue.push(pending.upstreamId);
  }

  /** Removes a request from the handshake queue, if it is there. */
  #unqueue(pending: PendingRequest): void {
    if (pending.sent) return;
    const at = this.#queue.indexOf(pending.upstreamId);
    if (at === -1) return;
    this.#queue.splice(at, 1);
    this.#queuedBytes -= pending.bytes;
  }

  /**
   * An id for a request upstream: random, so that a server answering with
   * a wrong id (off by one, an old one) reaches no other request; a safe
   * integer, so that every server reads it exactly.
   */
  #newUpstreamId(): number {
    for (;;) {
      const id = 1 + Math.floor(Math.random() * (Number.MAX_SAFE_INTEGER - 1));
      if (!this.#pending.has(id) && !this.#progress.has(idKey(id))) return id;
    }
  }

  #armTimer(pending: PendingRequest, timeoutMs = this.#requestTimeoutMs): void {
    if (timeoutMs <= 0) return;
    pending.timer = setTimeout(() => {
      pending.timer = undefined;
      this.#log.warn({ method: pending.method, client: pending.client?.id, timeoutMs }, 'request timed out');
      // MCP forbids cancelling initialize; the failed handshake gets the child replaced instead.
      if (pending.sent && pending.method !== 'initialize') this.#cancelUpstream(pending.upstreamId, 'request timed out in muxd');
      this.#settle(
        pending,
        errorResponse(pending.upstreamId, ErrorCodes.RequestTimeout, `Request '${pending.method}' to service '${this.service}' timed out after ${timeoutMs} ms`),
      );
    }, timeoutMs);
    pending.timer.unref?.();
  }

  /** Ends a pending request with `response` (already carrying the upstream id). */
  #settle(pending: PendingRequest, response: JsonRpcResponse): void {
    if (this.#pending.get(pending.upstreamId) !== pending) return;
    this.#pending.delete(pending.upstreamId);
    if (pending.timer) clearTimeout(pending.timer);
    this.#unqueue(pending);
    const tokenKey = idKey(pending.upstreamId);
    let outgoing: JsonRpcResponse | undefined = response;
    if (pending.onResponse) outgoing = pending.onResponse(response);
    const client = pending.client;
    if (pending.originalToken !== undefined) {
      const taskId = pending.taskAugmented && !isFailure(response) ? createdTaskId(response.result) : undefined;
      const route = this.#progress.get(tokenKey);
      if (taskId !== undefined && route) {
        route.upstreamId = undefined;
        this.#taskTokens.set(taskId, tokenKey);
      } else {
        this.#progress.delete(tokenKey);
      }
    }
    if (!client || pending.originalId === undefined) return;
    client.inflight.delete(idKey(pending.originalId));
    if (pending.taskAugmented && !isFailure(response)) {
      const taskId = createdTaskId(response.result);
      if (taskId !== undefined && client.isOpen) {
        this.#taskOwners.set(taskId, client);
        client.tasks.add(taskId);
        const held = this.#earlyTaskStatus.get(taskId);
        this.#earlyTaskStatus.delete(taskId);
        if (outgoing) this.#reply(client, withId(outgoing, pending.originalId));
        outgoing = undefined;
        for (const notification of held?.notifications ?? []) {
          client.send(notification);
          if (TERMINAL_TASK_STATUSES.has(String(notification.params?.['status']))) this.#endTask(taskId);
        }
      }
    }
    if (outgoing) this.#reply(client, withId(outgoing, pending.originalId));
    this.#closeIfDrained(client);
  }

  #clientInitialize(client: ClientSession, request: JsonRpcRequest): void {
    if (client.phase !== ClientPhase.New) {
      this.#reply(client, errorResponse(request.id, ErrorCodes.InvalidRequest, 'initialize was already sent on this connection'));
      return;
    }
    if (this.#unavailable !== undefined) {
      this.#reply(client, errorResponse(request.id, ErrorCodes.ServiceUnavailable, this.#unavailable));
      return;
    }
    const params = request.params ?? {};
    const handshake = upstreamInitializeParams(params);
    if (typeof handshake === 'string') {
      this.#reply(client, errorResponse(request.id, ErrorCodes.InvalidParams, handshake));
      return;
    }
    const capabilities = params['capabilities'];
    client.capabilities = isJsonObject(capabilities) ? capabilities : {};
    const clientInfo = params['clientInfo'];
    if (isJsonObject(clientInfo)) client.clientInfo = clientInfo;
    client.initializeId = request.id;
    // upstreamInitializeParams checked it is a date string.
    client.requestedVersion = params['protocolVersion'] as string;
    client.phase = ClientPhase.Initializing;
    if (this.#upstreamState === UpstreamState.Ready && this.#initializeResult) {
      this.#completeInitialize(client);
      return;
    }
    const failedStart = this.#upstreamState === UpstreamState.Failed || (this.#upstreamState === UpstreamState.Down && this.#startFailure !== undefined);
    if (failedStart) {
      // The last child never became ready and the next has not started: say why now, not after the backoff.
      this.#failInitialize(client, errorResponse(request.id, ErrorCodes.UpstreamInitializeFailed, `${this.#startFailure ?? `Service '${this.service}' failed its initialize handshake`}; muxd is restarting it`));
      return;
    }
    this.#initializeParams ??= handshake;
    this.#startHandshake();
  }

  #completeInitialize(client: ClientSession): void {
    const id = client.initializeId;
    if (id === undefined || !this.#initializeResult) return;
    client.initializeId = undefined;
    client.phase = ClientPhase.Ready;
    const serverVersion = String(this.#initializeResult['protocolVersion'] ?? LATEST_PROTOCOL_VERSION);
    const version = negotiateVersion(client.requestedVersion ?? serverVersion, serverVersion);
    this.#reply(client, successResponse(id, initializeResultFor(this.#initializeResult, version)));
    client.protocolVersion = version;
    if (client.can('roots') && this.#rootsGiven !== undefined) this.#refreshRoots(client);
    this.#closeIfDrained(client);
  }

  #failInitialize(client: ClientSession, response: JsonRpcResponse): void {
    client.initializeId = undefined;
    client.phase = ClientPhase.New;
    this.#reply(client, response);
    this.#closeIfDrained(client);
  }

  #clientNotification(client: ClientSession, notification: JsonRpcNotification): void {
    if (client.rejected) return;
    const params = notification.params;
    switch (notification.method) {
      case 'notifications/initialized':
        return;
      case 'notifications/cancelled': {
        const requestId = params?.['requestId'];
        if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
        const upstreamId = client.inflight.get(idKey(requestId));
        const pending = upstreamId === undefined ? undefined : this.#pending.get(upstreamId);
        if (!pending) return;
        // The client expects no answer after cancelling: forget the request now.
        if (pending.sent) this.#sendUpstream({ ...notification, params: { ...params, requestId: pending.upstreamId } });
        this.#drop(pending);
        return;
      }
      case 'notifications/roots/list_changed':
        client.roots = undefined;
        if (this.#rootsGiven !== undefined) this.#refreshRoots(client);
        return;
      default:
        if (this.#upstreamState === UpstreamState.Ready) this.#sendUpstream(notification);
    }
  }

  /** Forgets a pending request without answering anyone (its asker gave up). */
  #drop(pending: PendingRequest): void {
    this.#pending.delete(pending.upstreamId);
    if (pending.timer) clearTimeout(pending.timer);
    this.#unqueue(pending);
    this.#progress.delete(idKey(pending.upstreamId));
    const client = pending.client;
    if (client && pending.originalId !== undefined) {
      const key = idKey(pending.originalId);
      client.inflight.delete(key);
      const batch = client.batches.get(key);
      if (batch) {
        client.batches.delete(key);
        batch.waiting.delete(key);
        if (batch.waiting.size === 0 && batch.responses.length > 0 && client.isOpen) client.send(batch.responses);
      }
      this.#closeIfDrained(client);
    }
  }

  /** The client answers a request the server (or muxd) sent it. */
  #clientResponse(client: ClientSession, response: JsonRpcResponse): void {
    if (response.id === null || typeof response.id === 'string') {
      this.#log.warn({ client: client.id, id: response.id }, 'response from client to no request of ours: dropped');
      return;
    }
    const request = this.#clientBound.get(response.id);
    if (!request || request.client !== client) {
      this.#log.warn({ client: client.id, id: response.id }, 'response from client to no request of ours: dropped');
      return;
    }
    this.#forgetClientBound(request);
    request.onResponse(response);
  }

  #disconnect(client: ClientSession, reason: string): void {
    if (!client.isOpen) return;
    const wasCounted = this.#clients.delete(client.id);
    client.phase = ClientPhase.Closed;
    this.#log.debug({ client: client.id, reason }, 'client disconnected');
    for (const upstreamId of client.inflight.values()) {
      const pending = this.#pending.get(upstreamId);
      if (!pending) continue;
      if (pending.sent) this.#cancelUpstream(upstreamId, 'client disconnected');
      this.#drop(pending);
    }
    for (const uri of [...client.subscriptions]) this.#releaseSubscription(uri, client);
    for (const id of [...client.serverRequests]) {
      const request = this.#clientBound.get(id);
      if (!request) continue;
      this.#forgetClientBound(request);
      request.onAbandon('the client it was routed to disconnected');
    }
    for (const taskId of client.tasks) {
      this.#taskOwners.delete(taskId);
      const tokenKey = this.#taskTokens.get(taskId);
      if (tokenKey !== undefined) this.#progress.delete(tokenKey);
      this.#taskTokens.delete(taskId);
    }
    for (const [elicitationId, owner] of this.#elicitations) if (owner === client) this.#elicitations.delete(elicitationId);
    if (client.logLevel !== undefined) {
      client.logLevel = undefined;
      this.#applyLogLevel();
    }
    if (client.roots !== undefined) {
      client.roots = undefined;
      this.#rootsMaybeChanged();
    }
    client.batches.clear();
    if (wasCounted && client.idle) this.#idleClients--;
    if (wasCounted) this.#clientsChanged();
  }

  #closeIfDrained(client: ClientSession): void {
    if (!client.ending || !client.isOpen || client.inflight.size > 0 || client.initializeId !== undefined) return;
    for (const waiters of this.#subscribeWaiters.values()) if (waiters.some((waiter) => waiter.client === client)) return;
    client.peer.close('client finished');
  }

  /** Sends a response to a client, gathering it into its batch when it belongs to one. */
  #reply(client: ClientSession, response: JsonRpcResponse): void {
    if (!client.isOpen) return;
    if (response.id !== null && client.batches.size > 0) {
      const key = idKey(response.id);
      const batch = client.batches.get(key);
      if (batch) {
        client.batches.delete(key);
        batch.waiting.delete(key);
        batch.responses.push(response);
        if (batch.waiting.size === 0) client.send(batch.responses);
        return;
      }
    }
    client.send(response);
  }

  // --------------------------------------------------------------- upstream

  /** Attaches a freshly started child. The handshake starts as soon as a client has asked for one. */
  attachUpstream(peer: Peer): UpstreamHandle {
    if (this.#upstream) this.#upstreamGone('replaced by a new child');
    this.#upstream = peer;
    this.#upstreamState = UpstreamState.Connected;
    this.#startHandshake();
    return {
      receive: (message) => {
        if (this.#upstream === peer) this.#receiveFromUpstream(message);
      },
      closed: (reason, end) => {
        if (this.#upstream === peer) this.#upstreamGone(reason, end);
      },
    };
  }

  /**
   * Marks the service unable to serve (stopped or errored): queued and new
   * requests fail at once with `reason`. `undefined` lifts it.
   */
  setUnavailable(reason: string | undefined): void {
    this.#unavailable = reason;
    if (reason === undefined) return;
    for (const upstreamId of [...this.#queue]) {
      const pending = this.#pending.get(upstreamId);
      if (pending) this.#settle(pending, errorResponse(upstreamId, ErrorCodes.ServiceUnavailable, reason));
    }
    for (const client of this.#clients.values()) {
      if (client.phase === ClientPhase.Initializing && client.initializeId !== undefined) {
        this.#failInitialize(client, errorResponse(client.initializeId, ErrorCodes.ServiceUnavailable, reason));
      }
    }
  }

  /** Sends `ping` upstream and resolves with the round trip in milliseconds. */
  async ping(timeoutMs: number): Promise<number> {
    const started = performance.now();
    await this.#internalRequest('ping', undefined, timeoutMs);
    return performance.now() - started;
  }

  #startHandshake(): void {
    if (this.#upstreamState !== UpstreamState.Connected || !this.#initializeParams) return;
    this.#upstreamState = UpstreamState.Initializing;
    const upstream = this.#upstream;
    const previous = this.#initializeResult;
    this.#internalRequest('initialize', this.#initializeParams, this.#requestTimeoutMs || 60_000).then(
      (result) => {
        this.#upstreamState = UpstreamState.Ready;
        this.#initializeResult = result;
        this.#startFailure = undefined;
        this.#sendUpstream({ jsonrpc: '2.0', method: 'notifications/initialized' });
        this.#log.info({ server: result['serverInfo'], protocolVersion: result['protocolVersion'] }, 'upstream initialized');
        const queued = this.#queue.splice(0);
        this.#queuedBytes = 0;
        for (const upstreamId of queued) {
          const pending = this.#pending.get(upstreamId);
          if (pending) this.#sendOrQueue(pending);
        }
        this.#resync();
        for (const client of this.#clients.values()) {
          if (client.phase === ClientPhase.Initializing) this.#completeInitialize(client);
        }
        if (previous && !sameServer(previous, result)) this.#announceListChanges(result);
      },
      (error: unknown) => {
        // A replaced child's handshake fails as it goes; that says nothing about the new child's.
        if (this.#upstream !== upstream || this.#upstreamState !== UpstreamState.Initializing) return;
        const reason = `Service '${this.service}' failed its initialize handshake: ${errorText(error)}`;
        this.#log.error({ err: errorText(error) }, 'upstream initialize failed');
        this.#upstreamState = UpstreamState.Failed;
        this.#startFailure = reason;
        this.#failInitializingClients(reason);
        this.#onUpstreamFailure?.(reason);
      },
    );
  }

  #failInitializingClients(reason: string): void {
    for (const client of this.#clients.values()) {
      if (client.phase === ClientPhase.Initializing && client.initializeId !== undefined) {
        this.#failInitialize(client, errorResponse(client.initializeId, ErrorCodes.UpstreamInitializeFailed, reason));
      }
    }
  }

  /** After a restart: re-subscribe, re-apply the log level. */
  #resync(): void {
    for (const subscription of this.#subscriptions.all()) {
      if (subscription.clients.size > 0 && subscription.upstream === UpstreamSubscription.None) {
        this.#subscribeUpstream(subscription.uri, []);
      }
    }
    this.#upstreamLogLevel = undefined;
    this.#applyLogLevel();
  }

  #announceListChanges(result: JsonObject): void {
    const capabilities = isJsonObject(result['capabilities']) ? result['capabilities'] : {};
    for (const [capability, method] of LIST_CHANGED) {
      if (capabilities[capability] === undefined) continue;
      this.#broadcast({ jsonrpc: '2.0', method });
    }
  }

  #upstreamGone(reason: string, end?: UpstreamEnd): void {
    const neverReady = end?.failed === true && this.#upstreamState !== UpstreamState.Ready;
    const stderrTail = end?.stderrTail;
    this.#upstream = undefined;
    this.#upstreamState = UpstreamState.Down;
    this.#log.info({ reason }, 'upstream gone');
    if (neverReady) {
      // Clients waiting for this child's handshake learn now, as they would running the server directly.
      this.#startFailure = `Service '${this.service}' ended before it answered initialize (${reason})${stderrTail ? `; its stderr ended with: ${stderrTail}` : ''}`;
      this.#failInitializingClients(this.#startFailure);
    }
    for (const pending of [...this.#pending.values()]) {
      if (!pending.sent && pending.method !== 'initialize') continue;
      this.#settle(
        pending,
        errorResponse(pending.upstreamId, ErrorCodes.UpstreamExited, `Service '${this.service}' stopped while handling '${pending.method}' (${reason}); muxd restarts it, so retry`),
      );
    }
    for (const request of [...this.#clientBound.values()]) {
      if (request.upstreamId === undefined) continue;
      this.#forgetClientBound(request);
      request.client.send({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: request.id, reason: 'the server restarted' },
      });
    }
    for (const subscription of this.#subscriptions.all()) subscription.upstream = UpstreamSubscription.None;
    this.#elicitations.clear();
    this.#upstreamLogLevel = undefined;
    this.#rootsGiven = undefined;
  }

  #receiveFromUpstream(message: unknown): void {
    if (Array.isArray(message)) {
      for (const member of message) this.#receiveFromUpstream(member);
      return;
    }
    switch (classifyMessage(message)) {
      case MessageKind.Response:
        this.#upstreamResponse(message as JsonRpcResponse);
        break;
      case MessageKind.Request:
        this.#upstreamRequest(message as JsonRpcRequest);
        break;
      case MessageKind.Notification:
        this.#upstreamNotification(message as JsonRpcNotification);
        break;
      default:
        this.#log.warn({ message: preview(message) }, 'invalid JSON-RPC message from the server: skipped');
    }
  }

  #upstreamResponse(response: JsonRpcResponse): void {
    // muxd's ids are safe integers: one written as `5.0` is still muxd's 5.
    const id = isExactNumberId(response.id) ? Number(describeId(response.id)) : response.id;
    const pending = typeof id === 'number' ? this.#pending.get(id) : undefined;
    if (!pending) {
      this.#log.debug({ id: response.id }, 'late or unknown response from the server: dropped');
      return;
    }
    this.#settle(pending, response);
  }

  #upstreamNotification(notification: JsonRpcNotification): void {
    const params = notification.params ?? {};
    switch (notification.method) {
      case 'notifications/progress': {
        const token = params['progressToken'];
        const route = typeof token === 'string' || typeof token === 'number' ? this.#progress.get(idKey(token)) : undefined;
        if (!route || !route.client.isOpen) return;
        if (route.upstreamId !== undefined) {
          const pending = this.#pending.get(route.upstreamId);
          pending?.timer?.refresh();
        }
        route.client.send({ ...notification, params: { ...params, progressToken: route.originalToken } });
        return;
      }
      case 'notifications/resources/updated': {
        const uri = params['uri'];
        if (typeof uri !== 'string') return;
        for (const client of this.#subscriptions.subscribersOf(uri)) client.send(notification);
        return;
      }
      case 'notifications/message': {
        const rank = logLevelRank(params['level']);
        for (const client of this.#clients.values()) {
          if (!client.isReady) continue;
          if (client.logLevel === undefined || rank >= logLevelRank(client.logLevel)) client.send(notification);
        }
        return;
      }
      case 'notifications/cancelled': {
        const requestId = params['requestId'];
        if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
        const id = this.#clientBoundByUpstream.get(idKey(requestId));
        const request = id === undefined ? undefined : this.#clientBound.get(id);
        if (!request) return;
        this.#forgetClientBound(request);
        request.client.send({ ...notification, params: { ...params, requestId: request.id } });
        return;
      }
      case 'notifications/elicitation/complete': {
        const elicitationId = params['elicitationId'];
        const client = typeof elicitationId === 'string' ? this.#elicitations.get(elicitationId) : undefined;
        if (!client || typeof elicitationId !== 'string') return;
        this.#elicitations.delete(elicitationId);
        client.send(notification);
        return;
      }
      case 'notifications/tasks/status': {
        const taskId = params['taskId'];
        if (typeof taskId !== 'string') return;
        const client = this.#taskOwners.get(taskId);
        if (!client) {
          this.#holdEarlyStatus(taskId, notification);
          return;
        }
        client.send(notification);
        if (TERMINAL_TASK_STATUSES.has(String(params['status']))) this.#endTask(taskId);
        return;
      }
      default:
        // list_changed and anything unknown goes to everyone.
        this.#broadcast(notification);
    }
  }

  /** Keeps a status for a task nobody owns yet; delivered when its creating answer names the owner. */
  #holdEarlyStatus(taskId: string, notification: JsonRpcNotification): void {
    const now = Date.now();
    for (const [id, held] of this.#earlyTaskStatus) {
      if (now - held.at > EARLY_STATUS_MS || this.#earlyTaskStatus.size >= EARLY_STATUS_TASKS) this.#earlyTaskStatus.delete(id);
    }
    const held = this.#earlyTaskStatus.get(taskId);
    if (held) {
      held.notifications.push(notification);
      // A server repeating itself about a task nobody owns keeps only its latest words.
      if (held.notifications.length > EARLY_STATUS_PER_TASK) held.notifications.shift();
    } else this.#earlyTaskStatus.set(taskId, { at: now, notifications: [notification] });
  }

  #endTask(taskId: string): void {
    const tokenKey = this.#taskTokens.get(taskId);
    if (tokenKey !== undefined) this.#progress.delete(tokenKey);
    this.#taskTokens.delete(taskId);
  }

  #broadcast(notification: JsonRpcNotification): void {
    for (const client of this.#clients.values()) if (client.isReady) client.send(notification);
  }

  #upstreamRequest(request: JsonRpcRequest): void {
    const { id, method } = request;
    if (method === 'ping') {
      this.#sendUpstream(successResponse(id, {}));
      return;
    }
    if (method === 'roots/list') {
      this.#answerRoots(id);
      return;
    }
    const capability = CAPABILITY_FOR_METHOD[method];
    const client = this.#pickClient(capability, request);
    if (!client) {
      const what = capability ? `declared the '${capability}' capability` : 'is connected';
      this.#sendUpstream(errorResponse(id, ErrorCodes.NoCapableClient, `No client of muxd service '${this.service}' ${what} to answer '${method}'`));
      return;
    }
    if (client.serverRequests.size >= this.#maxInflight) {
      this.#sendUpstream(errorResponse(id, ErrorCodes.TooManyRequests, `The client '${method}' was routed to already has ${this.#maxInflight} requests of the server unanswered (maxInflight)`));
      return;
    }
    if (method === 'elicitation/create') {
      const elicitationId = request.params?.['elicitationId'];
      if (typeof elicitationId === 'string') {
        if (this.#elicitations.size >= MAX_ELICITATIONS) this.#elicitations.delete(this.#elicitations.keys().next().value as string);
        this.#elicitations.set(elicitationId, client);
      }
    }
    this.#requestClient(client, request, {
      upstreamId: id,
      onResponse: (response) => this.#sendUpstream({ ...response, id }),
      onAbandon: (reason) => this.#sendUpstream(errorResponse(id, ErrorCodes.ConnectionClosed, `No answer to '${method}': ${reason}`)),
    });
  }

  /** A capable client, preferring the one whose request most likely caused this one. */
  #pickClient(capability: string | undefined, request: JsonRpcRequest): ClientSession | undefined {
    const relatedTask = (request.params?.['_meta'] as JsonObject | undefined)?.['io.modelcontextprotocol/related-task'];
    if (isJsonObject(relatedTask) && typeof relatedTask['taskId'] === 'string') {
      const owner = this.#taskOwners.get(relatedTask['taskId']);
      if (owner && (!capability || owner.can(capability))) return owner;
    }
    let best: ClientSession | undefined;
    for (const client of this.#clients.values()) {
      if (!client.isReady || (capability && !client.can(capability))) continue;
      const busy = client.inflight.size > 0;
      if (!best) {
        best = client;
        continue;
      }
      const bestBusy = best.inflight.size > 0;
      if ((busy && !bestBusy) || (busy === bestBusy && client.lastRequestSeq > best.lastRequestSeq)) best = client;
    }
    return best;
  }

  /** Sends a request to a client under a fresh id and tracks its answer. */
  #requestClient(
    client: ClientSession,
    request: { method: string; params?: JsonObject },
    handlers: Pick<ClientBoundRequest, 'upstreamId' | 'onResponse' | 'onAbandon'>,
  ): number {
    const id = this.#nextClientBoundId++;
    const entry: ClientBoundRequest = { id, client, ...handlers };
    this.#clientBound.set(id, entry);
    client.serverRequests.add(id);
    if (handlers.upstreamId !== undefined) this.#clientBoundByUpstream.set(idKey(handlers.upstreamId), id);
    const message: JsonRpcRequest = { jsonrpc: '2.0', id, method: request.method };
    if (request.params !== undefined) message.params = request.params;
    client.send(message);
    return id;
  }

  #forgetClientBound(request: ClientBoundRequest): void {
    this.#clientBound.delete(request.id);
    request.client.serverRequests.delete(request.id);
    if (request.upstreamId !== undefined) this.#clientBoundByUpstream.delete(idKey(request.upstreamId));
  }

  // ------------------------------------------------------------------ roots

  /** Answers the server's `roots/list` with the union of every capable client's roots. */
  #answerRoots(id: JsonRpcId): void {
    const clients = [...this.#clients.values()].filter((client) => client.isReady && client.can('roots'));
    if (clients.length === 0) {
      this.#sendUpstream(errorResponse(id, ErrorCodes.NoCapableClient, `No client of muxd service '${this.service}' declared the 'roots' capability`));
      return;
    }
    Promise.all(clients.map((client) => this.#fetchRoots(client))).then(() => {
      const roots = this.#mergedRoots();
      this.#rootsGiven = rootsSignature(roots);
      this.#sendUpstream(successResponse(id, { roots }));
    }, () => undefined);
  }

  /**
   * Fetches one client's roots into `client.roots`. A client that fails,
   * leaves or takes longer than `ROOTS_TIMEOUT_MS` counts as having none.
   */
  #fetchRoots(client: ClientSession): Promise<void> {
    if (client.roots !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const request = this.#clientBound.get(id);
        if (!request) return;
        this.#forgetClientBound(request);
        this.#log.warn({ client: client.id, timeoutMs: ROOTS_TIMEOUT_MS }, 'client did not answer roots/list');
        client.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'no answer in time' } });
        resolve();
      }, ROOTS_TIMEOUT_MS);
      timer.unref?.();
      const id = this.#requestClient(client, { method: 'roots/list' }, {
        upstreamId: undefined,
        onResponse: (response) => {
          clearTimeout(timer);
          const roots = isFailure(response) ? undefined : response.result['roots'];
          client.roots = Array.isArray(roots) ? roots.filter(isJsonObject) : [];
          resolve();
        },
        onAbandon: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  #mergedRoots(): JsonObject[] {
    const byUri = new Map<string, JsonObject>();
    for (const client of this.#clients.values()) {
      for (const root of client.roots ?? []) {
        const uri = root['uri'];
        if (typeof uri === 'string' && !byUri.has(uri)) byUri.set(uri, root);
      }
    }
    return [...byUri.values()];
  }

  /** Re-reads a client's roots and tells the server if the merged set changed. */
  #refreshRoots(client: ClientSession): void {
    client.roots = undefined;
    this.#fetchRoots(client).then(() => this.#rootsMaybeChanged());
  }

  #rootsMaybeChanged(): void {
    if (this.#rootsGiven === undefined || this.#upstreamState !== UpstreamState.Ready) return;
    if (rootsSignature(this.#mergedRoots()) === this.#rootsGiven) return;
    this.#rootsGiven = undefined;
    this.#sendUpstream({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' });
  }

  // ---------------------------------------------------------- subscriptions

  #subscribe(client: ClientSession, id: JsonRpcId, params: JsonObject | undefined): void {
    const uri = params?.['uri'];
    if (typeof uri !== 'string') {
      this.#reply(client, errorResponse(id, ErrorCodes.InvalidParams, 'resources/subscribe needs a string uri'));
      return;
    }
    const subscription = this.#subscriptions.add(uri, client);
    if (subscription.upstream === UpstreamSubscription.Active) {
      this.#reply(client, successResponse(id, {}));
      return;
    }
    this.#subscribeUpstream(uri, [{ client, id }]);
  }

  /** Waiters of an upstream subscribe in flight, by URI. */
  readonly #subscribeWaiters = new Map<string, Array<{ client: ClientSession; id: JsonRpcId }>>();

  #subscribeUpstream(uri: string, waiters: Array<{ client: ClientSession; id: JsonRpcId }>): void {
    const inFlight = this.#subscribeWaiters.get(uri);
    if (inFlight) {
      inFlight.push(...waiters);
      return;
    }
    const subscription = this.#subscriptions.get(uri);
    if (!subscription) return;
    subscription.upstream = UpstreamSubscription.Pending;
    this.#subscribeWaiters.set(uri, [...waiters]);
    // Queued, like any client request, while the handshake is not done.
    this.#internalRequest('resources/subscribe', { uri }, this.#requestTimeoutMs, true).then(
      () => {
        const answered = this.#subscribeWaiters.get(uri) ?? [];
        this.#subscribeWaiters.delete(uri);
        const current = this.#subscriptions.get(uri);
        if (current === subscription) {
          subscription.upstream = UpstreamSubscription.Active;
        } else {
          // Everyone left while it was in flight.
          this.#internalRequest('resources/unsubscribe', { uri }).catch(() => undefined);
        }
        for (const waiter of answered) this.#reply(waiter.client, successResponse(waiter.id, {}));
        for (const waiter of answered) this.#closeIfDrained(waiter.client);
      },
      (error: unknown) => {
        const answered = this.#subscribeWaiters.get(uri) ?? [];
        this.#subscribeWaiters.delete(uri);
        subscription.upstream = UpstreamSubscription.None;
        for (const waiter of answered) {
          this.#subscriptions.remove(uri, waiter.client);
          this.#reply(waiter.client, errorResponseFrom(waiter.id, error));
        }
        for (const waiter of answered) this.#closeIfDrained(waiter.client);
      },
    );
  }

  #unsubscribe(client: ClientSession, id: JsonRpcId, params: JsonObject | undefined): void {
    const uri = params?.['uri'];
    if (typeof uri !== 'string') {
      this.#reply(client, errorResponse(id, ErrorCodes.InvalidParams, 'resources/unsubscribe needs a string uri'));
      return;
    }
    this.#releaseSubscription(uri, client);
    this.#reply(client, successResponse(id, {}));
  }

  #releaseSubscription(uri: string, client: ClientSession): void {
    const last = this.#subscriptions.remove(uri, client);
    if (last?.upstream === UpstreamSubscription.Active && this.#upstreamState === UpstreamState.Ready) {
      this.#internalRequest('resources/unsubscribe', { uri }).catch((error: unknown) => {
        this.#log.warn({ uri, err: errorText(error) }, 'upstream unsubscribe failed');
      });
    }
  }

  // ---------------------------------------------------------------- logging

  #setLogLevel(client: ClientSession, id: JsonRpcId, params: JsonObject | undefined): void {
    const level = params?.['level'];
    if (!isLogLevel(level)) {
      this.#reply(client, errorResponse(id, ErrorCodes.InvalidParams, `Unknown logging level: ${JSON.stringify(level)}`));
      return;
    }
    client.logLevel = level;
    this.#applyLogLevel();
    this.#reply(client, successResponse(id, {}));
  }

  /** Sets the server's level to the most verbose any client asked for. */
  #applyLogLevel(): void {
    const levels: LogLevel[] = [];
    for (const client of this.#clients.values()) if (client.logLevel !== undefined) levels.push(client.logLevel);
    const target = mostVerbose(levels);
    if (target === undefined || target === this.#upstreamLogLevel || this.#upstreamState !== UpstreamState.Ready) return;
    this.#upstreamLogLevel = target;
    this.#internalRequest('logging/setLevel', { level: target }).catch((error: unknown) => {
      this.#log.warn({ level: target, err: errorText(error) }, 'upstream logging/setLevel failed');
    });
  }

  // ------------------------------------------------------------------ tasks

  #filterTaskList(client: ClientSession, response: JsonRpcResponse): JsonRpcResponse {
    if (isFailure(response) || !Array.isArray(response.result['tasks'])) return response;
    const tasks = response.result['tasks'].filter(
      (task) => isJsonObject(task) && typeof task['taskId'] === 'string' && this.#taskOwners.get(task['taskId']) === client,
    );
    return { ...response, result: { ...response.result, tasks } };
  }

  // --------------------------------------------------------------- internal

  /**
   * A request of muxd's own to the server. Rejects with the JSON-RPC error
   * object. With `queue`, waits for the handshake like a client's request
   * instead of failing while the server is not ready.
   */
  #internalRequest(method: string, params: JsonObject | undefined, timeoutMs = this.#requestTimeoutMs, queue = false): Promise<JsonObject> {
    return new Promise((resolve, reject) => {
      const ready = this.#upstreamState === UpstreamState.Ready || (method === 'initialize' && this.#upstreamState === UpstreamState.Initializing);
      if ((!this.#upstream || !ready) && !queue) {
        reject(errorResponse(null, ErrorCodes.ServiceUnavailable, `Service '${this.service}' is not ready`).error);
        return;
      }
      const upstreamId = this.#newUpstreamId();
      const message: JsonRpcRequest = { jsonrpc: '2.0', id: upstreamId, method };
      if (params !== undefined) message.params = params;
      const pending: PendingRequest = {
        upstreamId,
        method,
        client: undefined,
        originalId: undefined,
        message,
        bytes: 0,
        sent: false,
        originalToken: undefined,
        taskAugmented: false,
        timer: undefined,
        onResponse: (response) => {
          if (isFailure(response)) reject(response.error);
          else resolve(response.result);
          return undefined;
        },
      };
      this.#pending.set(upstreamId, pending);
      this.#armTimer(pending, timeoutMs);
      this.#sendOrQueue(pending, ready);
    });
  }

  #cancelUpstream(upstreamId: number, reason: string): void {
    this.#sendUpstream({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: upstreamId, reason } });
  }

  #sendUpstream(message: JsonRpcMessage): void {
    this.#upstream?.send(message);
  }
}

/** Longest `clientInfo` string muxd passes on to the server. */
const CLIENT_INFO_CHARS = 256;

/**
 * The initialize muxd sends upstream, and replays after every restart,
 * built from the fields of a client's initialize that it checked: never the
 * client's params as they came. Returns why the params are unusable instead.
 */
function upstreamInitializeParams(params: JsonObject): JsonObject | string {
  const version = params['protocolVersion'];
  if (typeof version !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(version)) {
    return `initialize needs params.protocolVersion as a date string such as "2025-06-18", got ${typeof version === 'string' ? JSON.stringify(version.slice(0, 40)) : typeof version}`;
  }
  const info = isJsonObject(params['clientInfo']) ? params['clientInfo'] : {};
  const clientInfo: JsonObject = {};
  for (const key of ['name', 'version', 'title']) {
    const value = info[key];
    if (typeof value === 'string') clientInfo[key] = value.slice(0, CLIENT_INFO_CHARS);
  }
  clientInfo['name'] ??= 'muxd';
  clientInfo['version'] ??= '0';
  // The server speaks the newest version muxd knows; each client gets its own (versionAdapter.ts).
  return { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: UPSTREAM_CAPABILITIES, clientInfo };
}

/**
 * The response under another id, written as `{"jsonrpc","id","result"|"error"}`
 * in that order whatever order the server used: mux-proxy finds response
 * ids from a line's first bytes.
 */
function withId(response: JsonRpcResponse, id: JsonRpcId): JsonRpcResponse {
  return isFailure(response) ? { jsonrpc: '2.0', id, error: response.error } : { jsonrpc: '2.0', id, result: response.result };
}

/** The id of a malformed request, to answer it by; null for anything else (a response's id is not the client's). */
function readableId(message: unknown): JsonRpcId | null {
  if (!isJsonObject(message) || typeof message['method'] !== 'string') return null;
  const id = message['id'];
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
}

function createdTaskId(result: JsonObject): string | undefined {
  const task = result['task'];
  return isJsonObject(task) && typeof task['taskId'] === 'string' ? task['taskId'] : undefined;
}

function sameServer(a: JsonObject, b: JsonObject): boolean {
  return (
    JSON.stringify([a['capabilities'], a['serverInfo'], a['instructions']]) ===
    JSON.stringify([b['capabilities'], b['serverInfo'], b['instructions']])
  );
}

function rootsSignature(roots: JsonObject[]): string {
  return JSON.stringify(roots.map((root) => [root['uri'], root['name']]).sort());
}

function errorText(error: unknown): string {
  if (isJsonObject(error) && typeof error['message'] === 'string') return error['message'];
  return error instanceof Error ? error.message : String(error);
}

function errorResponseFrom(id: JsonRpcId, error: unknown): JsonRpcResponse {
  if (isJsonObject(error) && typeof error['code'] === 'number' && typeof error['message'] === 'string') {
    return { jsonrpc: '2.0', id, error: error as unknown as JsonRpcErrorObject };
  }
  return errorResponse(id, ErrorCodes.InternalError, errorText(error));
}

function preview(message: unknown): string {
  const text = JSON.stringify(message) ?? String(message);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
