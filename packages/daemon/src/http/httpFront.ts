import type { HttpConfig } from '@muxd/config';
import type { Logger } from '../logs.js';
import type { Dashboard } from './dashboard.js';
import { HttpServer } from './httpServer.js';
import type { HttpTarget, MetricsEndpoint } from './httpServer.js';
import { loadOrCreateToken } from './httpToken.js';

export interface HttpFrontOptions {
  /** The bearer token's file, created (0600) at the first listen. */
  tokenFile: string;
  /** Finds a service the front may serve; undefined when there is none. */
  lookup: (name: string) => HttpTarget | undefined;
  log: Logger;
  /** What `GET /metrics` serves; the path is not served without it. */
  metrics?: MetricsEndpoint;
  /** The web dashboard every listener serves. */
  dashboard?: Dashboard;
}

/** A reload's change to the front, its new listener (when it needs one) already bound. */
export interface HttpFrontChange {
  /** Puts the change in place; resolves with the note the reload reports. */
  apply(): Promise<string>;
  /** The reload failed: closes the new listener, leaving the front as it was. */
  abandon(): Promise<void>;
}

/**
 * The HTTP front's lifecycle, as the config's `http` block says: off
 * without one, opened at start, and on reload retuned (new limits, the
 * sessions carry on), moved (a new address: bound before anything else
 * changes, then the old sessions end) or closed.
 */
export class HttpFront {
  readonly #options: HttpFrontOptions;
  #server: HttpServer | undefined;
  /** The `http` block in effect; undefined while the front is off. */
  #config: HttpConfig | undefined;

  constructor(options: HttpFrontOptions) {
    this.#options = options;
  }

  /** The base URL (services at `<url>/mcp/<service>`), or null while the front is off. */
  get url(): string | null {
    return this.#server?.url ?? null;
  }

  /** Opens the front when `config` is set. Throws `MUX_HTTP_LISTEN_FAILED` when the address cannot be bound. */
  async open(config: HttpConfig | undefined): Promise<void> {
    this.#config = config;
    if (config) this.#server = await this.#listen(config);
  }

  /**
   * What a reloaded `http` block changes: undefined when nothing. A new
   * address is bound here, so a port that cannot be bound fails the reload
   * before anything else changes.
   */
  async prepare(next: HttpConfig | undefined): Promise<HttpFrontChange | undefined> {
    if (JSON.stringify(next) === JSON.stringify(this.#config)) return undefined;
    const bound = next && !this.#server?.listensAs(next) ? await this.#listen(next) : undefined;
    return {
      apply: () => this.#apply(next, bound),
      abandon: async () => {
        await bound?.close();
      },
    };
  }

  async #apply(config: HttpConfig | undefined, bound: HttpServer | undefined): Promise<string> {
    this.#config = config;
    const old = this.#server;
    const oldUrl = old?.url;
    if (bound) {
      this.#server = bound;
      await old?.close();
      return `http: listening on ${bound.url}${oldUrl ? `; sessions on ${oldUrl} ended (hosts start new ones)` : ''}`;
    }
    if (!config) {
      this.#server = undefined;
      await old?.close();
      return 'http: the HTTP front is closed';
    }
    old?.reconfigure(config);
    return `http: new limits apply on ${old?.url ?? ''}; sessions carry on`;
  }

  #listen(config: HttpConfig): Promise<HttpServer> {
    const { tokenFile, lookup, log, dashboard, metrics } = this.#options;
    return HttpServer.listen({ config, token: loadOrCreateToken(tokenFile), lookup, log, ...(dashboard ? { dashboard } : {}), ...(metrics ? { metrics } : {}) });
  }

  /** Ends every session and stops listening. Idempotent. */
  async close(): Promise<void> {
    await this.#server?.close();
  }
}
