import { ErrorCodes, errorResponse, isFailure, isJsonObject, successResponse } from '@muxd/protocol';
import type { JsonObject, JsonRpcId } from '@muxd/protocol';
import type { ClientBoundRequests } from './clientBoundRequests.js';
import type { ClientSession } from './clientSession.js';
import type { MuxContext } from './muxContext.js';

/** How long muxd waits for a client to answer its own roots/list. */
const ROOTS_TIMEOUT_MS = 10_000;

/**
 * The server sees one set of roots: the union of every capable client's.
 * muxd asks each client for its roots when the server asks, and tells the
 * server `roots/list_changed` only when the union changes (a client's own
 * change, arrival or departure).
 */
export class RootsUnion {
  readonly #ctx: MuxContext;
  readonly #requests: ClientBoundRequests;
  /** The roots last given to the server, to tell it when the union changes. */
  #given: string | undefined;

  constructor(ctx: MuxContext, requests: ClientBoundRequests) {
    this.#ctx = ctx;
    this.#requests = requests;
  }

  /** Answers the server's `roots/list` with the union of every capable client's roots. */
  answer(id: JsonRpcId): void {
    const clients = [...this.#ctx.clients.values()].filter((client) => client.isReady && client.can('roots'));
    if (clients.length === 0) {
      this.#ctx.sendUpstream(errorResponse(id, ErrorCodes.NoCapableClient, `No client of muxd service '${this.#ctx.service}' declared the 'roots' capability`));
      return;
    }
    Promise.all(clients.map((client) => this.#fetch(client))).then(() => {
      const roots = this.#merged();
      this.#given = signature(roots);
      this.#ctx.sendUpstream(successResponse(id, { roots }));
    }, () => undefined);
  }

  /** A client finished its initialize: once the server has asked for roots, its own count. */
  clientReady(client: ClientSession): void {
    if (client.can('roots') && this.#given !== undefined) this.#refresh(client);
  }

  /** The client said its roots changed. */
  clientChanged(client: ClientSession): void {
    client.roots = undefined;
    if (this.#given !== undefined) this.#refresh(client);
  }

  forgetClient(client: ClientSession): void {
    if (client.roots === undefined) return;
    client.roots = undefined;
    this.#maybeChanged();
  }

  upstreamGone(): void {
    this.#given = undefined;
  }

  /**
   * Fetches one client's roots into `client.roots`. A client that fails,
   * leaves or takes longer than `ROOTS_TIMEOUT_MS` counts as having none.
   */
  #fetch(client: ClientSession): Promise<void> {
    if (client.roots !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.#ctx.clock.setTimeout(() => {
        if (!this.#requests.withdraw(id, 'no answer in time')) return;
        this.#ctx.log.warn({ client: client.id, timeoutMs: ROOTS_TIMEOUT_MS }, 'client did not answer roots/list');
        resolve();
      }, ROOTS_TIMEOUT_MS);
      const id = this.#requests.send(client, { method: 'roots/list' }, {
        upstreamId: undefined,
        onResponse: (response) => {
          this.#ctx.clock.clearTimeout(timer);
          const roots = isFailure(response) ? undefined : response.result['roots'];
          client.roots = Array.isArray(roots) ? roots.filter(isJsonObject) : [];
          resolve();
        },
        onAbandon: () => {
          this.#ctx.clock.clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  #merged(): JsonObject[] {
    const byUri = new Map<string, JsonObject>();
    for (const client of this.#ctx.clients.values()) {
      for (const root of client.roots ?? []) {
        const uri = root['uri'];
        if (typeof uri === 'string' && !byUri.has(uri)) byUri.set(uri, root);
      }
    }
    return [...byUri.values()];
  }

  /** Re-reads a client's roots and tells the server if the union changed. */
  #refresh(client: ClientSession): void {
    client.roots = undefined;
    void this.#fetch(client).then(() => this.#maybeChanged());
  }

  #maybeChanged(): void {
    if (this.#given === undefined || !this.#ctx.upstreamReady()) return;
    if (signature(this.#merged()) === this.#given) return;
    this.#given = undefined;
    this.#ctx.sendUpstream({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' });
  }
}

function signature(roots: JsonObject[]): string {
  return JSON.stringify(roots.map((root) => [root['uri'], root['name']]).sort());
}
