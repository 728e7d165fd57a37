import { ErrorCodes, errorResponse, isJsonObject } from '@muxd/protocol';
import type { JsonObject, JsonRpcId, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from '@muxd/protocol';
import { cancelledNotification } from './cancellation.js';
import type { ClientSession } from './clientSession.js';
import { idKey } from './idKey.js';
import type { IdKey } from './idKey.js';
import type { MuxContext } from './muxContext.js';
import type { TaskTable } from './taskTable.js';

/** A request sent to a client: from the server, or muxd's own (roots). */
export interface ClientBoundRequest {
  readonly id: number;
  readonly client: ClientSession;
  /** The server's id, when the server asked. */
  readonly upstreamId: JsonRpcId | undefined;
  readonly onResponse: (response: JsonRpcResponse) => void;
  /** The client left or the request is void: answer the asker some other way. */
  readonly onAbandon: (reason: string) => void;
}

/** Capability a client must have declared to take each server->client request. */
const CAPABILITY_FOR_METHOD: ReadonlyMap<string, string> = new Map([
  ['sampling/createMessage', 'sampling'],
  ['elicitation/create', 'elicitation'],
  ['roots/list', 'roots'],
  ['tasks/get', 'tasks'],
  ['tasks/result', 'tasks'],
  ['tasks/list', 'tasks'],
  ['tasks/cancel', 'tasks'],
]);

/** Elicitations routed to a client and not completed yet, kept at most (the oldest go first). */
const MAX_ELICITATIONS = 1024;

/**
 * Requests that go to a client: the server's (sampling, elicitation, tasks
 * of the client's) routed to a capable client, preferring the one whose
 * request most likely caused them, and muxd's own (roots/list). Each gets
 * an id of muxd's; the answer goes back to whoever asked, under their id.
 */
export class ClientBoundRequests {
  readonly #ctx: MuxContext;
  readonly #tasks: TaskTable;
  /** Requests of the server one client may have unanswered. */
  readonly #maxPerClient: number;
  #nextId = 1;
  readonly #requests = new Map<number, ClientBoundRequest>();
  /** The server's id of each request it sent a client -> the id that client saw. */
  readonly #byUpstream = new Map<IdKey, number>();
  /** Which client each open elicitation went to, for its completion notice. */
  readonly #elicitations = new Map<string, ClientSession>();

  constructor(ctx: MuxContext, tasks: TaskTable, maxPerClient: number) {
    this.#ctx = ctx;
    this.#tasks = tasks;
    this.#maxPerClient = maxPerClient;
  }

  /** A request of the server's for a client: routed to one that can take it, or refused upstream. */
  fromServer(request: JsonRpcRequest): void {
    const { id, method } = request;
    const capability = CAPABILITY_FOR_METHOD.get(method);
    const client = this.#pickClient(capability, request);
    if (!client) {
      const what = capability ? `declared the '${capability}' capability` : 'is connected';
      this.#ctx.sendUpstream(errorResponse(id, ErrorCodes.NoCapableClient, `No client of muxd service '${this.#ctx.service}' ${what} to answer '${method}'`));
      return;
    }
    if (client.serverRequests.size >= this.#maxPerClient) {
      this.#ctx.sendUpstream(errorResponse(id, ErrorCodes.TooManyRequests, `The client '${method}' was routed to already has ${this.#maxPerClient} requests of the server unanswered (maxInflight)`));
      return;
    }
    if (method === 'elicitation/create') {
      const elicitationId = request.params?.['elicitationId'];
      if (typeof elicitationId === 'string') {
        if (this.#elicitations.size >= MAX_ELICITATIONS) this.#elicitations.delete(this.#elicitations.keys().next().value as string);
        this.#elicitations.set(elicitationId, client);
      }
    }
    this.send(client, request, {
      upstreamId: id,
      onResponse: (response) => this.#ctx.sendUpstream({ ...response, id }),
      onAbandon: (reason) => this.#ctx.sendUpstream(errorResponse(id, ErrorCodes.ConnectionClosed, `No answer to '${method}': ${reason}`)),
    });
  }

  /** Sends a request to a client under a fresh id and tracks its answer; returns that id. */
  send(client: ClientSession, request: { method: string; params?: JsonObject }, handlers: Pick<ClientBoundRequest, 'upstreamId' | 'onResponse' | 'onAbandon'>): number {
    const id = this.#nextId++;
    this.#requests.set(id, { id, client, ...handlers });
    client.serverRequests.add(id);
    if (handlers.upstreamId !== undefined) this.#byUpstream.set(idKey(handlers.upstreamId), id);
    const message: JsonRpcRequest = { jsonrpc: '2.0', id, method: request.method };
    if (request.params !== undefined) message.params = request.params;
    client.send(message);
    return id;
  }

  /** A client's answer to one of these requests; anything else it answers is dropped. */
  answered(client: ClientSession, response: JsonRpcResponse): void {
    const request = typeof response.id === 'number' ? this.#requests.get(response.id) : undefined;
    if (!request || request.client !== client) {
      this.#ctx.log.warn({ client: client.id, id: response.id }, 'response from client to no request of ours: dropped');
      return;
    }
    this.#forget(request);
    request.onResponse(response);
  }

  /** muxd gives up on one of its own requests (a roots/list that took too long): the client is told. */
  withdraw(id: number, reason: string): boolean {
    const request = this.#requests.get(id);
    if (!request) return false;
    this.#forget(request);
    request.client.send(cancelledNotification(id, reason));
    return true;
  }

  /** The server cancels a request it sent a client: the client is told, under the id it saw. */
  cancelledByServer(notification: JsonRpcNotification, requestId: JsonRpcId): void {
    const id = this.#byUpstream.get(idKey(requestId));
    const request = id === undefined ? undefined : this.#requests.get(id);
    if (!request) return;
    this.#forget(request);
    request.client.send({ ...notification, params: { ...notification.params, requestId: request.id } });
  }

  /** The server says an elicitation is complete: only the client that had it hears. */
  elicitationComplete(notification: JsonRpcNotification): void {
    const elicitationId = notification.params?.['elicitationId'];
    const client = typeof elicitationId === 'string' ? this.#elicitations.get(elicitationId) : undefined;
    if (!client || typeof elicitationId !== 'string') return;
    this.#elicitations.delete(elicitationId);
    client.send(notification);
  }

  /** The client left: whoever asked it something gets an answer some other way. */
  forgetClient(client: ClientSession): void {
    for (const id of [...client.serverRequests]) {
      const request = this.#requests.get(id);
      if (!request) continue;
      this.#forget(request);
      request.onAbandon('the client it was routed to disconnected');
    }
    for (const [elicitationId, owner] of this.#elicitations) if (owner === client) this.#elicitations.delete(elicitationId);
  }

  /** The server is gone: what it asked clients is void, and they are told so. */
  upstreamGone(): void {
    for (const request of [...this.#requests.values()]) {
      if (request.upstreamId === undefined) continue;
      this.#forget(request);
      request.client.send(cancelledNotification(request.id, 'the server restarted'));
    }
    this.#elicitations.clear();
  }

  #forget(request: ClientBoundRequest): void {
    this.#requests.delete(request.id);
    request.client.serverRequests.delete(request.id);
    if (request.upstreamId !== undefined) this.#byUpstream.delete(idKey(request.upstreamId));
  }

  /** A capable client, preferring the task's owner, then one with a request in flight, then the latest to ask. */
  #pickClient(capability: string | undefined, request: JsonRpcRequest): ClientSession | undefined {
    const relatedTask = (request.params?.['_meta'] as JsonObject | undefined)?.['io.modelcontextprotocol/related-task'];
    if (isJsonObject(relatedTask) && typeof relatedTask['taskId'] === 'string') {
      const owner = this.#tasks.owner(relatedTask['taskId']);
      if (owner && (!capability || owner.can(capability))) return owner;
    }
    let best: ClientSession | undefined;
    for (const client of this.#ctx.clients.values()) {
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
}
