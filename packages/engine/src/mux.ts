import { ErrorCodes, MessageKind, classifyMessage, describeId, errorResponse, isExactNumberId, isFailure, isJsonObject, requestIdOf, successResponse, withResponseId } from '@muxd/protocol';
import type { JsonObject, JsonRpcMessage, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from '@muxd/protocol';
import { answerInBatch, forgetInBatch, openBatch, sendBatch } from './batches.js';
import { cancelledRequestId } from './cancellation.js';
import { ClientBoundRequests } from './clientBoundRequests.js';
import { ClientPhase, ClientSession } from './clientSession.js';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import type { ClientHandle, UpstreamEnd, UpstreamHandle } from './handles.js';
import { Handshake, UpstreamState } from './handshake.js';
import { idKey } from './idKey.js';
import { LogRouting } from './logRouting.js';
import type { MuxContext } from './muxContext.js';
import type { MuxOptions, MuxStats, RequestEnd } from './muxOptions.js';
import { silentLogger } from './peer.js';
import type { MuxLogger, Peer } from './peer.js';
import { ProgressRoutes } from './progressRoutes.js';
import { RootsUnion } from './rootsUnion.js';
import { Subscriptions } from './subscriptions.js';
import { TaskTable, createdTaskId } from './taskTable.js';
import { UpstreamRequests } from './upstreamRequests.js';
import type { PendingRequest } from './upstreamRequests.js';

export { UpstreamState };
export type { ClientHandle, MuxOptions, MuxStats, UpstreamEnd, UpstreamHandle };

type ClientRequestHandler = (client: ClientSession, request: JsonRpcRequest, bytes: number) => void;
type NotificationHandler = (notification: JsonRpcNotification) => void;

/**
 * One upstream MCP session shared by many clients: pure logic over
 * `Peer`s, no sockets, no processes. Mux keeps the clients and the child,
 * and dispatches each message by method to the part that owns its rule:
 *
 * | concern | part |
 * |---|---|
 * | requests upstream: ids, queue, timeouts, answered once | `UpstreamRequests` |
 * | progress tokens | `ProgressRoutes` |
 * | cancellation | `cancellation.ts`, `UpstreamRequests.cancel`, `ClientBoundRequests` |
 * | the server's requests to clients (sampling, elicitation) | `ClientBoundRequests` |
 * | tasks and their owners | `TaskTable` |
 * | roots | `RootsUnion` |
 * | initialize and protocol versions | `Handshake`, `versionAdapter.ts` |
 * | resource subscriptions | `Subscriptions` |
 * | logging levels | `LogRouting` |
 */
export class Mux {
  readonly service: string;
  readonly #maxInflight: number;
  readonly #maxClients: number;
  readonly #log: MuxLogger;
  readonly #onClientsChanged: ((active: number, total: number) => void) | undefined;
  readonly #onRequestEnded: ((end: RequestEnd) => void) | undefined;
  readonly #clock: Clock;

  readonly #clients = new Map<number, ClientSession>();
  #nextClientId = 1;
  #idleClients = 0;
  /** Order of requests, to find the likely cause of a server request. */
  #requestSeq = 0;

  #upstream: Peer | undefined;
  /** Why new requests fail at once (service stopped or errored); undefined while it may serve. */
  #unavailable: string | undefined;

  readonly #requests: UpstreamRequests;
  readonly #progress = new ProgressRoutes();
  readonly #tasks: TaskTable;
  readonly #clientBound: ClientBoundRequests;
  readonly #roots: RootsUnion;
  readonly #handshake: Handshake;
  readonly #subscriptions: Subscriptions;
  readonly #logs: LogRouting;

  // Maps, not objects: a method named `__proto__` or `toString` is a method like any other.
  readonly #clientRequests: ReadonlyMap<string, ClientRequestHandler>;
  readonly #clientNotifications: ReadonlyMap<string, (client: ClientSession, notification: JsonRpcNotification) => void>;
  readonly #upstreamNotifications: ReadonlyMap<string, NotificationHandler>;

  constructor(options: MuxOptions) {
    this.service = options.service;
    const requestTimeoutMs = options.requestTimeoutMs ?? 120_000;
    this.#maxInflight = options.maxInflight ?? 256;
    this.#maxClients = options.maxClients ?? 256;
    this.#log = options.logger ?? silentLogger;
    this.#onClientsChanged = options.onClientsChanged;
    this.#onRequestEnded = options.onRequestEnded;
    this.#clock = options.clock ?? systemClock;
    const ctx: MuxContext = {
      service: this.service,
      log: this.#log,
      clock: this.#clock,
      clients: this.#clients,
      upstreamReady: () => this.#handshake.state === UpstreamState.Ready,
      sendUpstream: (message) => this.#sendUpstream(message),
      request: (method, params, requestOptions) => this.#requests.request(method, params, this.#readyFor(method), requestOptions),
      reply: (client, response) => this.#reply(client, response),
      closeIfDrained: (client) => this.#closeIfDrained(client),
    };
    this.#requests = new UpstreamRequests(ctx, {
      requestTimeoutMs,
      maxQueuedBytes: options.maxQueuedBytes ?? 32 * 1024 ** 2,
      upstream: () => this.#upstream,
      isTaken: (id) => this.#progress.has(id),
      onSettled: (pending, response, timedOut) => this.#settled(pending, response, timedOut),
      onDropped: (pending) => this.#dropped(pending),
    });
    this.#tasks = new TaskTable(ctx.clock, (key) => this.#progress.close(key));
    this.#clientBound = new ClientBoundRequests(ctx, this.#tasks, this.#maxInflight);
    this.#roots = new RootsUnion(ctx, this.#clientBound);
    this.#subscriptions = new Subscriptions(ctx);
    this.#logs = new LogRouting(ctx);
    this.#handshake = new Handshake(ctx, this.#roots, requestTimeoutMs || 60_000, {
      onReady: () => {
        this.#requests.flushQueue();
        this.#subscriptions.resubscribe();
        this.#logs.reapply();
      },
      onServerChanged: (notifications) => {
        for (const notification of notifications) this.#broadcast(notification);
      },
      onFailure: (reason) => options.onUpstreamFailure?.(reason),
    });

    const forward: ClientRequestHandler = (client, request, bytes) => this.#forward(client, request, bytes);
    const ownTaskOnly: ClientRequestHandler = (client, request, bytes) => {
      const taskId = request.params?.['taskId'];
      if (typeof taskId !== 'string' || this.#tasks.owner(taskId) !== client) {
        this.#reply(client, errorResponse(request.id, ErrorCodes.InvalidParams, `Unknown task: ${JSON.stringify(taskId)}`));
        return;
      }
      forward(client, request, bytes);
    };
    this.#clientRequests = new Map<string, ClientRequestHandler>([
      ['resources/subscribe', (client, { id, params }) => this.#subscriptions.subscribe(client, id, params)],
      ['resources/unsubscribe', (client, { id, params }) => this.#subscriptions.unsubscribe(client, id, params)],
      ['logging/setLevel', (client, { id, params }) => this.#logs.setLevel(client, id, params)],
      ['tasks/get', ownTaskOnly],
      ['tasks/result', ownTaskOnly],
      ['tasks/cancel', ownTaskOnly],
      ['tasks/list', (client, request, bytes) => this.#forward(client, request, bytes, (response) => this.#tasks.filterList(client, response))],
    ]);
    this.#clientNotifications = new Map<string, (client: ClientSession, notification: JsonRpcNotification) => void>([
      // Swallowed: the upstream got its own when the handshake was done.
      ['notifications/initialized', () => undefined],
      ['notifications/cancelled', (client, notification) => this.#requests.cancelledByClient(client, notification)],
      ['notifications/roots/list_changed', (client) => this.#roots.clientChanged(client)],
    ]);
    this.#upstreamNotifications = new Map<string, NotificationHandler>([
      ['notifications/progress', (notification) => this.#progressFromServer(notification)],
      ['notifications/resources/updated', (notification) => this.#subscriptions.updated(notification)],
      ['notifications/message', (notification) => this.#logs.message(notification)],
      [
        'notifications/cancelled',
        (notification) => {
          const requestId = cancelledRequestId(notification);
          if (requestId !== undefined) this.#clientBound.cancelledByServer(notification, requestId);
        },
      ],
      ['notifications/elicitation/complete', (notification) => this.#clientBound.elicitationComplete(notification)],
      ['notifications/tasks/status', (notification) => this.#tasks.status(notification)],
    ]);
  }

  get upstreamState(): UpstreamState {
    return this.#handshake.state;
  }

  /** Connected clients that are not idle. */
  get clientCount(): number {
    return this.#clients.size - this.#idleClients;
  }

  /** The cached initialize result, once the handshake has succeeded. */
  get initializeResult(): JsonObject | undefined {
    return this.#handshake.result;
  }

  /** What a client said of itself in its initialize (`clientInfo`, unchecked); undefined before it or once it left. */
  clientInfo(clientId: number): JsonObject | undefined {
    return this.#clients.get(clientId)?.clientInfo;
  }

  stats(): MuxStats {
    return {
      upstream: this.#handshake.state,
      clients: this.#clients.size - this.#idleClients,
      idleClients: this.#idleClients,
      inflight: this.#requests.inflight,
      queued: this.#requests.queued,
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

  /** Disconnects every client (daemon shutdown). */
  closeAllClients(reason: string): void {
    for (const client of [...this.#clients.values()]) {
      client.peer.close(reason);
      this.#disconnect(client, reason);
    }
  }

  #clientsChanged(): void {
    this.#onClientsChanged?.(this.#clients.size - this.#idleClients, this.#clients.size);
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
        if (client.rejected) return;
        {
          const notification = message as JsonRpcNotification;
          const handler = this.#clientNotifications.get(notification.method);
          if (handler) handler(client, notification);
          else this.#forwardNotification(notification);
        }
        break;
      case MessageKind.Response:
        this.#clientBound.answered(client, message as JsonRpcResponse);
        break;
      default:
        this.#log.warn({ client: client.id }, 'invalid JSON-RPC message from client');
        this.#reply(client, errorResponse(requestIdOf(message), ErrorCodes.InvalidRequest, 'Invalid JSON-RPC message'));
    }
  }

  /** Splits a batch (2025-03-26) and answers it with one array. */
  #receiveBatch(client: ClientSession, members: unknown[], bytes: number): void {
    if (members.length === 0) {
      this.#reply(client, errorResponse(null, ErrorCodes.InvalidRequest, 'Empty batch'));
      return;
    }
    const { accepted, batch } = openBatch(client, members);
    for (const member of accepted) this.#receiveFromClient(client, member, Math.ceil(bytes / members.length));
    if (batch.waiting.size === 0) sendBatch(client, batch);
  }

  #clientRequest(client: ClientSession, request: JsonRpcRequest, bytes: number): void {
    const { id, method } = request;
    if (client.rejected) {
      this.#reply(client, errorResponse(id, ErrorCodes.TooManyClients, `Service '${this.service}' has too many clients (maxClients ${this.#maxClients})`));
      client.peer.close('too many clients');
      return;
    }
    if (method === 'initialize') {
      this.#handshake.clientInitialize(client, request, this.#unavailable);
      return;
    }
    if (method === 'ping' && this.#handshake.state !== UpstreamState.Ready) {
      // muxd itself is alive and will serve once the child is back.
      this.#reply(client, successResponse(id, {}));
      return;
    }
    if (client.phase === ClientPhase.New && method !== 'ping') {
      this.#refuse(client, request, errorResponse(id, ErrorCodes.InvalidRequest, 'Send initialize before other requests'));
      return;
    }
    if (client.inflight.has(idKey(id))) {
      this.#refuse(client, request, errorResponse(id, ErrorCodes.DuplicateRequestId, `Request id ${describeId(id)} is already in flight`));
      return;
    }
    if (client.inflight.size >= this.#maxInflight) {
      this.#refuse(client, request, errorResponse(id, ErrorCodes.TooManyRequests, `Too many requests in flight (maxInflight ${this.#maxInflight})`));
      return;
    }
    if (this.#unavailable !== undefined) {
      this.#refuse(client, request, errorResponse(id, ErrorCodes.ServiceUnavailable, this.#unavailable));
      return;
    }
    client.lastRequestSeq = ++this.#requestSeq;
    const handler = this.#clientRequests.get(method);
    if (handler) handler(client, request, bytes);
    else this.#forward(client, request, bytes);
  }

  /** Answers a client's request with muxd's own error, counted as a request that failed at once. */
  #refuse(client: ClientSession, request: JsonRpcRequest, response: JsonRpcResponse): void {
    this.#reply(client, response);
    this.#onRequestEnded?.({ method: request.method, tool: toolOf(request), durationMs: 0, outcome: 'error' });
  }

  /** Sends a client's request upstream under a fresh id, its progress token rewritten (queued until the handshake is done). */
  #forward(client: ClientSession, request: JsonRpcRequest, bytes: number, onResponse?: (response: JsonRpcResponse) => JsonRpcResponse | undefined): void {
    const upstreamId = this.#requests.newId();
    const { params, originalToken } = this.#progress.open(client, request, upstreamId);
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
      startedAt: this.#clock.elapsed(),
      tool: toolOf(request),
      timer: undefined,
      onResponse,
    };
    client.inflight.set(idKey(request.id), upstreamId);
    this.#requests.add(pending, this.#handshake.state === UpstreamState.Ready);
  }

  /** A request ended with an answer: it goes to its client under the client's id, a task it created gets its owner. */
  #settled(pending: PendingRequest, response: JsonRpcResponse, timedOut: boolean): void {
    const outgoing = pending.onResponse ? pending.onResponse(response) : response;
    const client = pending.client;
    const taskId = pending.taskAugmented && !isFailure(response) ? createdTaskId(response.result) : undefined;
    const ownsTask = taskId !== undefined && client !== undefined && client.isOpen;
    const token = pending.originalToken !== undefined ? this.#progress.requestEnded(pending.upstreamId, ownsTask) : undefined;
    if (!client || pending.originalId === undefined) return;
    client.inflight.delete(idKey(pending.originalId));
    if (outgoing) this.#reply(client, withResponseId(outgoing, pending.originalId));
    if (ownsTask) {
      // Status the server sent before this answer goes after it.
      for (const notification of this.#tasks.created(taskId, client, token)) this.#tasks.deliver(client, taskId, notification);
    }
    this.#closeIfDrained(client);
    this.#onRequestEnded?.({
      method: pending.method,
      tool: pending.tool,
      durationMs: this.#clock.elapsed() - pending.startedAt,
      outcome: timedOut ? 'timeout' : isFailure(response) ? 'error' : 'ok',
    });
  }

  /** A request was forgotten unanswered: its client's books are cleared, its batch may be complete. */
  #dropped(pending: PendingRequest): void {
    this.#progress.close(idKey(pending.upstreamId));
    const client = pending.client;
    if (!client || pending.originalId === undefined) return;
    const key = idKey(pending.originalId);
    client.inflight.delete(key);
    forgetInBatch(client, key);
    this.#closeIfDrained(client);
    this.#onRequestEnded?.({ method: pending.method, tool: pending.tool, durationMs: this.#clock.elapsed() - pending.startedAt, outcome: 'cancelled' });
  }

  #forwardNotification(notification: JsonRpcNotification): void {
    if (this.#handshake.state === UpstreamState.Ready) this.#sendUpstream(notification);
  }

  #disconnect(client: ClientSession, reason: string): void {
    if (!client.isOpen) return;
    const wasCounted = this.#clients.delete(client.id);
    client.phase = ClientPhase.Closed;
    this.#log.debug({ client: client.id, reason }, 'client disconnected');
    // Its requests are cancelled upstream; everything it held is released, part by part.
    for (const upstreamId of client.inflight.values()) {
      const pending = this.#requests.get(upstreamId);
      if (pending) this.#requests.cancel(pending, 'client disconnected');
    }
    this.#subscriptions.forgetClient(client);
    this.#clientBound.forgetClient(client);
    this.#tasks.forgetClient(client);
    this.#progress.forgetClient(client);
    this.#logs.forgetClient(client);
    this.#roots.forgetClient(client);
    client.batches.clear();
    if (wasCounted && client.idle) this.#idleClients--;
    if (wasCounted) this.#clientsChanged();
  }

  #closeIfDrained(client: ClientSession): void {
    if (!client.ending || !client.isOpen || client.inflight.size > 0 || client.initializeId !== undefined) return;
    if (this.#subscriptions.isWaiting(client)) return;
    client.peer.close('client finished');
  }

  /** Sends a response to a client, gathering it into its batch when it belongs to one. */
  #reply(client: ClientSession, response: JsonRpcResponse): void {
    if (!client.isOpen || answerInBatch(client, response)) return;
    client.send(response);
  }

  // --------------------------------------------------------------- upstream

  /** Attaches a freshly started child. The handshake starts as soon as a client has asked for one. */
  attachUpstream(peer: Peer): UpstreamHandle {
    if (this.#upstream) this.#upstreamGone('replaced by a new child');
    this.#upstream = peer;
    this.#handshake.attached();
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
    this.#requests.failQueued(reason);
    this.#handshake.failWaiting(ErrorCodes.ServiceUnavailable, reason);
  }

  /** Sends `ping` upstream and resolves with the round trip in milliseconds. */
  async ping(timeoutMs: number): Promise<number> {
    const started = this.#clock.elapsed();
    await this.#requests.request('ping', undefined, this.#readyFor('ping'), { timeoutMs });
    return this.#clock.elapsed() - started;
  }

  /** Whether a request of muxd's own may go now: initialize goes during the handshake, the rest after. */
  #readyFor(method: string): boolean {
    const state = this.#handshake.state;
    return state === UpstreamState.Ready || (method === 'initialize' && state === UpstreamState.Initializing);
  }

  #upstreamGone(reason: string, end?: UpstreamEnd): void {
    this.#upstream = undefined;
    this.#log.info({ reason }, 'upstream gone');
    this.#handshake.upstreamGone(reason, end?.failed === true, end?.stderrTail);
    this.#requests.upstreamGone(reason);
    this.#clientBound.upstreamGone();
    this.#subscriptions.upstreamGone();
    this.#logs.upstreamGone();
    this.#roots.upstreamGone();
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
      case MessageKind.Notification: {
        const notification = message as JsonRpcNotification;
        // list_changed and anything unknown goes to everyone.
        const handler = this.#upstreamNotifications.get(notification.method);
        if (handler) handler(notification);
        else this.#broadcast(notification);
        break;
      }
      default:
        this.#log.warn({ message: preview(message) }, 'invalid JSON-RPC message from the server: skipped');
    }
  }

  #upstreamResponse(response: JsonRpcResponse): void {
    // muxd's ids are safe integers: one written as `5.0` is still muxd's 5.
    const id = isExactNumberId(response.id) ? Number(describeId(response.id)) : response.id;
    const pending = typeof id === 'number' ? this.#requests.get(id) : undefined;
    if (!pending) {
      this.#log.debug({ id: response.id }, 'late or unknown response from the server: dropped');
      return;
    }
    this.#requests.settle(pending, response);
  }

  #upstreamRequest(request: JsonRpcRequest): void {
    if (request.method === 'ping') this.#sendUpstream(successResponse(request.id, {}));
    else if (request.method === 'roots/list') this.#roots.answer(request.id);
    else this.#clientBound.fromServer(request);
  }

  #progressFromServer(notification: JsonRpcNotification): void {
    const route = this.#progress.route(notification);
    if (!route) return;
    // Progress restarts the request's timeout.
    if (route.upstreamId !== undefined) this.#requests.get(route.upstreamId)?.timer?.refresh();
    route.client.send(route.message);
  }

  #broadcast(notification: JsonRpcNotification): void {
    for (const client of this.#clients.values()) if (client.isReady) client.send(notification);
  }

  #sendUpstream(message: JsonRpcMessage): void {
    this.#upstream?.send(message);
  }
}

/** The tool a `tools/call` names, when it names one. */
function toolOf(request: JsonRpcRequest): string | undefined {
  if (request.method !== 'tools/call') return undefined;
  const name = request.params?.['name'];
  return typeof name === 'string' ? name : undefined;
}

function preview(message: unknown): string {
  const text = JSON.stringify(message) ?? String(message);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
