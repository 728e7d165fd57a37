import { ErrorCodes, errorResponse, isJsonObject, successResponse } from '@muxd/protocol';
import type { JsonObject, JsonRpcErrorObject, JsonRpcId, JsonRpcNotification, JsonRpcResponse } from '@muxd/protocol';
import type { ClientSession } from './clientSession.js';
import type { MuxContext } from './muxContext.js';
import { SubscriptionTable, UpstreamSubscription } from './subscriptionTable.js';

interface Waiter {
  client: ClientSession;
  id: JsonRpcId;
}

/**
 * Resource subscriptions shared among clients: one subscribe upstream for
 * the first subscriber of a URI, one unsubscribe after the last (a
 * disconnect counts), `resources/updated` to the subscribers of that URI or
 * of a parent of it, and every live subscription made again after a
 * restart.
 */
export class Subscriptions {
  readonly #ctx: MuxContext;
  readonly #table = new SubscriptionTable();
  /** Clients waiting on an upstream subscribe in flight, by URI. */
  readonly #waiters = new Map<string, Waiter[]>();

  constructor(ctx: MuxContext) {
    this.#ctx = ctx;
  }

  subscribe(client: ClientSession, id: JsonRpcId, params: JsonObject | undefined): void {
    const uri = params?.['uri'];
    if (typeof uri !== 'string') {
      this.#ctx.reply(client, errorResponse(id, ErrorCodes.InvalidParams, 'resources/subscribe needs a string uri'));
      return;
    }
    const subscription = this.#table.add(uri, client);
    if (subscription.upstream === UpstreamSubscription.Active) {
      this.#ctx.reply(client, successResponse(id, {}));
      return;
    }
    this.#subscribeUpstream(uri, [{ client, id }]);
  }

  unsubscribe(client: ClientSession, id: JsonRpcId, params: JsonObject | undefined): void {
    const uri = params?.['uri'];
    if (typeof uri !== 'string') {
      this.#ctx.reply(client, errorResponse(id, ErrorCodes.InvalidParams, 'resources/unsubscribe needs a string uri'));
      return;
    }
    this.#release(uri, client);
    this.#ctx.reply(client, successResponse(id, {}));
  }

  /** Delivers `resources/updated` to the subscribers of its URI. */
  updated(notification: JsonRpcNotification): void {
    const uri = notification.params?.['uri'];
    if (typeof uri !== 'string') return;
    for (const client of this.#table.subscribersOf(uri)) client.send(notification);
  }

  /** True while `client` waits for a subscribe in flight (it is owed that answer). */
  isWaiting(client: ClientSession): boolean {
    for (const waiters of this.#waiters.values()) if (waiters.some((waiter) => waiter.client === client)) return true;
    return false;
  }

  /** After a restart: every subscription with subscribers is made again. */
  resubscribe(): void {
    for (const subscription of this.#table.all()) {
      if (subscription.clients.size > 0 && subscription.upstream === UpstreamSubscription.None) this.#subscribeUpstream(subscription.uri, []);
    }
  }

  forgetClient(client: ClientSession): void {
    for (const uri of [...client.subscriptions]) this.#release(uri, client);
  }

  upstreamGone(): void {
    for (const subscription of this.#table.all()) subscription.upstream = UpstreamSubscription.None;
  }

  #subscribeUpstream(uri: string, waiters: Waiter[]): void {
    const inFlight = this.#waiters.get(uri);
    if (inFlight) {
      inFlight.push(...waiters);
      return;
    }
    const subscription = this.#table.get(uri);
    if (!subscription) return;
    subscription.upstream = UpstreamSubscription.Pending;
    this.#waiters.set(uri, [...waiters]);
    const answerWaiters = (answer: (waiter: Waiter) => void) => {
      const answered = this.#waiters.get(uri) ?? [];
      this.#waiters.delete(uri);
      for (const waiter of answered) answer(waiter);
      for (const waiter of answered) this.#ctx.closeIfDrained(waiter.client);
    };
    // Queued, like any client request, while the handshake is not done.
    this.#ctx.request('resources/subscribe', { uri }, { queue: true }).then(
      () => {
        if (this.#table.get(uri) === subscription) {
          subscription.upstream = UpstreamSubscription.Active;
        } else {
          // Everyone left while it was in flight.
          this.#ctx.request('resources/unsubscribe', { uri }).catch(() => undefined);
        }
        answerWaiters((waiter) => this.#ctx.reply(waiter.client, successResponse(waiter.id, {})));
      },
      (error: unknown) => {
        subscription.upstream = UpstreamSubscription.None;
        answerWaiters((waiter) => {
          this.#table.remove(uri, waiter.client);
          this.#ctx.reply(waiter.client, errorResponseFrom(waiter.id, error));
        });
      },
    );
  }

  #release(uri: string, client: ClientSession): void {
    const last = this.#table.remove(uri, client);
    if (last?.upstream === UpstreamSubscription.Active && this.#ctx.upstreamReady()) {
      this.#ctx.request('resources/unsubscribe', { uri }).catch((error: unknown) => {
        this.#ctx.log.warn({ uri, err: (error as JsonRpcErrorObject)?.message }, 'upstream unsubscribe failed');
      });
    }
  }
}

function errorResponseFrom(id: JsonRpcId, error: unknown): JsonRpcResponse {
  if (isJsonObject(error) && typeof error['code'] === 'number' && typeof error['message'] === 'string') {
    return { jsonrpc: '2.0', id, error: error as unknown as JsonRpcErrorObject };
  }
  return errorResponse(id, ErrorCodes.InternalError, error instanceof Error ? error.message : String(error));
}
