import type { ClientSession } from './clientSession.js';

/** Upstream state of one resource subscription. */
export const UpstreamSubscription = {
  None: 'none',
  Pending: 'pending',
  Active: 'active',
} as const;
export type UpstreamSubscription = (typeof UpstreamSubscription)[keyof typeof UpstreamSubscription];

export interface Subscription {
  readonly uri: string;
  readonly clients: Set<ClientSession>;
  upstream: UpstreamSubscription;
}

/**
 * Reference counts of resource subscriptions: the server sees one
 * subscription per URI however many clients hold it.
 */
export class SubscriptionTable {
  readonly #byUri = new Map<string, Subscription>();

  get(uri: string): Subscription | undefined {
    return this.#byUri.get(uri);
  }

  /** Adds `client` to `uri`'s subscribers and returns the subscription. */
  add(uri: string, client: ClientSession): Subscription {
    let subscription = this.#byUri.get(uri);
    if (!subscription) {
      subscription = { uri, clients: new Set(), upstream: UpstreamSubscription.None };
      this.#byUri.set(uri, subscription);
    }
    subscription.clients.add(client);
    client.subscriptions.add(uri);
    return subscription;
  }

  /**
   * Removes `client` from `uri`'s subscribers. Returns the subscription when
   * that was its last subscriber (the caller unsubscribes upstream).
   */
  remove(uri: string, client: ClientSession): Subscription | undefined {
    client.subscriptions.delete(uri);
    const subscription = this.#byUri.get(uri);
    if (!subscription || !subscription.clients.delete(client)) return undefined;
    if (subscription.clients.size > 0) return undefined;
    this.#byUri.delete(uri);
    return subscription;
  }

  /** Clients subscribed to `uri` itself or to a resource it lies under. */
  subscribersOf(uri: string): Set<ClientSession> {
    const result = new Set<ClientSession>();
    for (const subscription of this.#byUri.values()) {
      if (isWithin(uri, subscription.uri)) {
        for (const client of subscription.clients) result.add(client);
      }
    }
    return result;
  }

  all(): IterableIterator<Subscription> {
    return this.#byUri.values();
  }
}

/**
 * True when `uri` is `subscribed` or a sub-resource of it: below it in the
 * path (`file:///a/b` of `file:///a`), or the same resource with a query or
 * fragment. `file:///ab` is not within `file:///a`.
 */
export function isWithin(uri: string, subscribed: string): boolean {
  if (uri === subscribed) return true;
  if (!uri.startsWith(subscribed)) return false;
  if (subscribed.endsWith('/')) return true;
  const next = uri[subscribed.length];
  return next === '/' || next === '?' || next === '#';
}
