import { ErrorCodes, errorResponse, isFailure } from '@muxd/protocol';
import type { JsonObject, JsonRpcErrorObject, JsonRpcId, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from '@muxd/protocol';
import { cancelledNotification, cancelledRequestId } from './cancellation.js';
import { idKey } from './idKey.js';
import type { ClientSession } from './clientSession.js';
import type { Timer } from './clock.js';
import type { MuxContext } from './muxContext.js';
import type { Peer } from './peer.js';

/** A request muxd sent (or will send) upstream, for a client or for itself. */
export interface PendingRequest {
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
  /** `Clock.elapsed()` when muxd received it. */
  readonly startedAt: number;
  /** `tools/call`: the tool's name. */
  readonly tool: string | undefined;
  timer: Timer | undefined;
  /** Sees the response first; for muxd's own requests it is the only reader. */
  readonly onResponse: ((response: JsonRpcResponse) => JsonRpcResponse | undefined) | undefined;
}

export interface UpstreamRequestsOptions {
  /** Milliseconds a request may wait for its answer; 0 disables. */
  requestTimeoutMs: number;
  /** Bytes of client requests that may wait for the handshake. */
  maxQueuedBytes: number;
  /** The child's stdin, when one is attached. */
  upstream(): Peer | undefined;
  /** Ids in use besides the pending ones (the progress tokens tasks keep). */
  isTaken(id: number): boolean;
  /** A request ended with `response` (the server's, or muxd's error); it is no longer pending. */
  onSettled(pending: PendingRequest, response: JsonRpcResponse, timedOut: boolean): void;
  /** A request was forgotten with no answer owed (its client cancelled it or left). */
  onDropped(pending: PendingRequest): void;
}

/**
 * The requests in flight upstream: their ids, the queue that waits for the
 * handshake (bounded in bytes), their timeouts, and how each ends, exactly
 * once: answered (`settle`) or forgotten (`drop`).
 */
export class UpstreamRequests {
  readonly #ctx: MuxContext;
  readonly #options: UpstreamRequestsOptions;
  readonly #pending = new Map<number, PendingRequest>();
  /** Requests accepted before the handshake finished, in arrival order. */
  #queue: number[] = [];
  #queuedBytes = 0;

  constructor(ctx: MuxContext, options: UpstreamRequestsOptions) {
    this.#ctx = ctx;
    this.#options = options;
  }

  get(upstreamId: number): PendingRequest | undefined {
    return this.#pending.get(upstreamId);
  }

  /** Client requests sent upstream and not answered yet. */
  get inflight(): number {
    let count = 0;
    for (const pending of this.#pending.values()) if (pending.sent && pending.client) count++;
    return count;
  }

  /** Client requests waiting for the handshake. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * An id for a request upstream: random, so that a server answering with
   * a wrong id (off by one, an old one) reaches no other request; a safe
   * integer, so that every server reads it exactly.
   */
  newId(): number {
    for (;;) {
      const id = 1 + Math.floor(Math.random() * (Number.MAX_SAFE_INTEGER - 1));
      if (!this.#pending.has(id) && !this.#options.isTaken(id)) return id;
    }
  }

  /** Tracks a new request, arms its timeout, and sends or queues it. */
  add(pending: PendingRequest, ready: boolean, timeoutMs = this.#options.requestTimeoutMs): void {
    this.#pending.set(pending.upstreamId, pending);
    this.#armTimer(pending, timeoutMs);
    this.#sendOrQueue(pending, ready);
  }

  /**
   * A request of muxd's own. Rejects with the JSON-RPC error object; with
   * `queue`, waits for the handshake instead of failing while not `ready`.
   */
  request(method: string, params: JsonObject | undefined, ready: boolean, options: { timeoutMs?: number; queue?: boolean } = {}): Promise<JsonObject> {
    return new Promise((resolve, reject) => {
      if ((!this.#options.upstream() || !ready) && !options.queue) {
        reject(errorResponse(null, ErrorCodes.ServiceUnavailable, `Service '${this.#ctx.service}' is not ready`).error);
        return;
      }
      const upstreamId = this.newId();
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
        startedAt: this.#ctx.clock.elapsed(),
        tool: undefined,
        timer: undefined,
        onResponse: (response) => {
          if (isFailure(response)) reject(response.error);
          else resolve(response.result);
          return undefined;
        },
      };
      this.add(pending, ready, options.timeoutMs);
    });
  }

  /** Sends what waited for the handshake, in order. */
  flushQueue(): void {
    const queued = this.#queue.splice(0);
    this.#queuedBytes = 0;
    for (const upstreamId of queued) {
      const pending = this.#pending.get(upstreamId);
      if (pending) this.#sendOrQueue(pending, true);
    }
  }

  /** Fails what waits for the handshake (the service stopped or errored). */
  failQueued(reason: string): void {
    for (const upstreamId of [...this.#queue]) {
      const pending = this.#pending.get(upstreamId);
      if (pending) this.settle(pending, errorResponse(upstreamId, ErrorCodes.ServiceUnavailable, reason));
    }
  }

  /** The child is gone: what it was handling fails (queued requests wait for the next child). */
  upstreamGone(reason: string): void {
    for (const pending of [...this.#pending.values()]) {
      if (!pending.sent && pending.method !== 'initialize') continue;
      this.settle(
        pending,
        errorResponse(pending.upstreamId, ErrorCodes.UpstreamExited, `Service '${this.#ctx.service}' stopped while handling '${pending.method}' (${reason}); muxd restarts it, so retry`),
      );
    }
  }

  /** Ends a pending request with `response` (carrying the upstream id). Once only. */
  settle(pending: PendingRequest, response: JsonRpcResponse, timedOut = false): void {
    if (!this.#forget(pending)) return;
    this.#options.onSettled(pending, response, timedOut);
  }

  /** Forgets a pending request without answering anyone (its asker gave up). */
  drop(pending: PendingRequest): void {
    if (!this.#forget(pending)) return;
    this.#options.onDropped(pending);
  }

  /** A client cancels one of its requests: translated upstream (its reason kept), and forgotten now: no answer is expected. */
  cancelledByClient(client: ClientSession, notification: JsonRpcNotification): void {
    const requestId = cancelledRequestId(notification);
    const upstreamId = requestId === undefined ? undefined : client.inflight.get(idKey(requestId));
    const pending = upstreamId === undefined ? undefined : this.#pending.get(upstreamId);
    if (!pending) return;
    if (pending.sent) this.#ctx.sendUpstream({ ...notification, params: { ...notification.params, requestId: pending.upstreamId } });
    this.drop(pending);
  }

  /** Cancels a request upstream, if it got there, and forgets it. */
  cancel(pending: PendingRequest, reason: string): void {
    if (pending.sent) this.#ctx.sendUpstream(cancelledNotification(pending.upstreamId, reason));
    this.drop(pending);
  }

  #forget(pending: PendingRequest): boolean {
    if (this.#pending.get(pending.upstreamId) !== pending) return false;
    this.#pending.delete(pending.upstreamId);
    if (pending.timer) this.#ctx.clock.clearTimeout(pending.timer);
    pending.timer = undefined;
    if (!pending.sent) {
      const at = this.#queue.indexOf(pending.upstreamId);
      if (at !== -1) {
        this.#queue.splice(at, 1);
        this.#queuedBytes -= pending.bytes;
      }
    }
    return true;
  }

  /**
   * Writes a request upstream once the handshake is done, or queues it
   * (within `maxQueuedBytes`). A request the child's transport refuses, or
   * one the queue cannot take, fails at once.
   */
  #sendOrQueue(pending: PendingRequest, ready: boolean): void {
    const message = pending.message;
    const upstream = this.#options.upstream();
    if (!message) return;
    if (ready && upstream) {
      const refused: JsonRpcErrorObject | void = upstream.send(message);
      if (refused) {
        this.settle(pending, { jsonrpc: '2.0', id: pending.upstreamId, error: refused });
        return;
      }
      pending.sent = true;
      // Sent: a large request's text need not live until its answer comes.
      pending.message = undefined;
      return;
    }
    const { maxQueuedBytes } = this.#options;
    if (pending.bytes > 0 && this.#queuedBytes + pending.bytes > maxQueuedBytes) {
      this.settle(
        pending,
        errorResponse(
          pending.upstreamId,
          ErrorCodes.ChildBufferFull,
          `Too much is waiting for service '${this.#ctx.service}' to start: over ${maxQueuedBytes} bytes of requests (maxChildBuffer); retry once it is up`,
        ),
      );
      return;
    }
    this.#queuedBytes += pending.bytes;
    this.#queue.push(pending.upstreamId);
  }

  #armTimer(pending: PendingRequest, timeoutMs: number): void {
    if (timeoutMs <= 0) return;
    pending.timer = this.#ctx.clock.setTimeout(() => {
      pending.timer = undefined;
      this.#ctx.log.warn({ method: pending.method, client: pending.client?.id, timeoutMs }, 'request timed out');
      // MCP forbids cancelling initialize; the failed handshake gets the child replaced instead.
      if (pending.sent && pending.method !== 'initialize') this.#ctx.sendUpstream(cancelledNotification(pending.upstreamId, 'request timed out in muxd'));
      this.settle(
        pending,
        errorResponse(pending.upstreamId, ErrorCodes.RequestTimeout, `Request '${pending.method}' to service '${this.#ctx.service}' timed out after ${timeoutMs} ms`),
        true,
      );
    }, timeoutMs);
  }
}
