import type { JsonRpcMessage } from './jsonRpcMessage.js';

/**
 * An in-process connection to a muxed service, in the shape of the MCP
 * SDK's `Transport`: pass it to `Client.connect`. Each one is one client of
 * the service; it shares the child with every other client.
 */
export interface MuxTransport {
  /** Joins the service. Rejects when called twice, after `close`, or when the service takes no more clients. */
  start(): Promise<void>;
  /** Sends one message to the server. Rejects when not started or closed. */
  send(message: JsonRpcMessage): Promise<void>;
  /** Leaves the service; requests in flight are cancelled upstream. Idempotent. */
  close(): Promise<void>;
  onmessage?: ((message: JsonRpcMessage) => void) | undefined;
  /** Called once when the connection ends, from either side. */
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
}
