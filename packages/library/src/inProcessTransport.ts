import type { ClientHandle, Peer } from '@muxd/engine';
import type { JsonRpcMessage } from './jsonRpcMessage.js';

/** Joins a service as one more client; undefined when it takes no more (closing, or `maxClients` reached). */
export type ClientConnector = (peer: Peer) => ClientHandle | undefined;

/**
 * A client of a muxed service inside this process: implements the MCP SDK
 * `Transport` interface (`start`, `send`, `close`, `onmessage`, `onclose`,
 * `onerror`), so `new Client(...).connect(transport)` works as it does over
 * stdio. It shares the service's child with every other client, exactly as
 * a `mux-proxy` session does. Messages cross as JSON (what the socket
 * carries), so neither side can change an object the other still holds.
 */
export class InProcessTransport {
  /** Called with each message from the server. */
  onmessage?: ((message: JsonRpcMessage) => void) | undefined;
  /** Called once, when the connection ends from either side. */
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  readonly #service: string;
  readonly #connect: ClientConnector;
  #client: ClientHandle | undefined;
  #state: 'new' | 'open' | 'closed' = 'new';

  constructor(service: string, connect: ClientConnector) {
    this.#service = service;
    this.#connect = connect;
  }

  /** Joins the service. Rejects when started twice, after `close`, or when the service takes no more clients. */
  async start(): Promise<void> {
    if (this.#state === 'closed') throw new Error(`the connection to service '${this.#service}' is closed: call connect() again`);
    if (this.#state === 'open') throw new Error(`the connection to service '${this.#service}' is already started`);
    const peer: Peer = {
      send: (message) => {
        const text = JSON.stringify(message);
        // Delivered on a later turn, as a socket would: the engine is never re-entered from its own send.
        queueMicrotask(() => {
          if (this.#state !== 'open') return;
          const parsed = JSON.parse(text) as JsonRpcMessage | JsonRpcMessage[];
          for (const one of Array.isArray(parsed) ? parsed : [parsed]) this.onmessage?.(one);
        });
      },
      close: () => {
        queueMicrotask(() => this.#end());
      },
    };
    const client = this.#connect(peer);
    if (!client) {
      this.#state = 'closed';
      throw new Error(`service '${this.#service}' takes no more clients (it is closing, or has maxClients)`);
    }
    this.#client = client;
    this.#state = 'open';
  }

  /** Sends one message to the server. Rejects when the connection is not started or is closed. */
  async send(message: JsonRpcMessage): Promise<void> {
    const client = this.#client;
    if (!client || this.#state !== 'open') throw new Error(`not connected to service '${this.#service}'`);
    const text = JSON.stringify(message);
    if (text === undefined) throw new TypeError('a message must be a JSON object');
    client.receive(JSON.parse(text) as unknown, Buffer.byteLength(text));
  }

  /** Leaves the service: requests still in flight are cancelled upstream. Idempotent. */
  async close(): Promise<void> {
    this.#client?.disconnect('client closed');
    this.#end();
  }

  #end(): void {
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    this.#client = undefined;
    if (wasOpen) this.onclose?.();
  }
}
