import { isJsonObject } from '@muxd/protocol';
import type { JsonObject, JsonRpcNotification, JsonRpcRequest } from '@muxd/protocol';
import type { ClientSession } from './clientSession.js';
import { idKey } from './idKey.js';
import type { IdKey } from './idKey.js';

/** Where progress for one upstream token goes. */
interface ProgressRoute {
  readonly client: ClientSession;
  readonly originalToken: string | number;
  /** The request still in flight; undefined once it turned into a task. */
  upstreamId: number | undefined;
}

/**
 * Progress tokens, from the request that asks for progress to the last
 * notification: a client's token is replaced upstream by the request's own
 * upstream id (unique across clients), and the server's progress is routed
 * back under the client's token. Progress after its request ended is
 * dropped, unless the request turned into a task: then the token lives
 * until the task ends.
 */
export class ProgressRoutes {
  readonly #routes = new Map<IdKey, ProgressRoute>();

  /** True when `upstreamId` is a token still in use (a task's). */
  has(upstreamId: number): boolean {
    return this.#routes.has(idKey(upstreamId));
  }

  /**
   * The params to send upstream for `request`: its progress token, if it
   * has one, replaced by `upstreamId`, and a route back to `client` opened.
   */
  open(client: ClientSession, request: JsonRpcRequest, upstreamId: number): { params: JsonObject | undefined; originalToken: string | number | undefined } {
    const params = request.params;
    const meta = params?.['_meta'];
    if (!isJsonObject(meta)) return { params, originalToken: undefined };
    const token = meta['progressToken'];
    if (typeof token !== 'string' && typeof token !== 'number') return { params, originalToken: undefined };
    this.#routes.set(idKey(upstreamId), { client, originalToken: token, upstreamId });
    return { params: { ...params, _meta: { ...meta, progressToken: upstreamId } }, originalToken: token };
  }

  /**
   * The request answered. Its route closes, unless the answer created a
   * task (`keepForTask`): then the route stays and its key is returned.
   */
  requestEnded(upstreamId: number, keepForTask: boolean): IdKey | undefined {
    const key = idKey(upstreamId);
    const route = this.#routes.get(key);
    if (keepForTask && route) {
      route.upstreamId = undefined;
      return key;
    }
    this.#routes.delete(key);
    return undefined;
  }

  /** Closes a route (its request was dropped, or its task ended). */
  close(key: IdKey): void {
    this.#routes.delete(key);
  }

  /** The client left: its routes go (its requests and tasks are dropped too). */
  forgetClient(client: ClientSession): void {
    for (const [key, route] of this.#routes) if (route.client === client) this.#routes.delete(key);
  }

  /**
   * Where a server's progress notification goes: the client and the
   * notification under its own token, plus the request to keep alive.
   * Undefined when nobody owns the token any more.
   */
  route(notification: JsonRpcNotification): { client: ClientSession; message: JsonRpcNotification; upstreamId: number | undefined } | undefined {
    const params = notification.params ?? {};
    const token = params['progressToken'];
    const route = typeof token === 'string' || typeof token === 'number' ? this.#routes.get(idKey(token)) : undefined;
    if (!route || !route.client.isOpen) return undefined;
    return { client: route.client, message: { ...notification, params: { ...params, progressToken: route.originalToken } }, upstreamId: route.upstreamId };
  }
}
