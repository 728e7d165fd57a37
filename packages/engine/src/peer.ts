import type { JsonRpcErrorObject, JsonRpcMessage } from '@muxd/protocol';

/**
 * One end of a message connection as the engine sees it: a Unix socket
 * session, a child's stdio, or (later) an HTTP session. The engine never
 * touches bytes; transports parse and serialize.
 */
export interface Peer {
  /**
   * Delivers one message or one batch. Never throws and never blocks. A
   * client transport that cannot keep up closes itself and tells the
   * engine. The child's transport may refuse a message instead (too much
   * already waiting for its stdin): it then returns the error the sender of
   * a refused request gets; nothing is written.
   */
  send(message: JsonRpcMessage | JsonRpcMessage[]): JsonRpcErrorObject | void;
  /** Ends the connection from the engine's side. Idempotent. */
  close(reason: string): void;
}

/** What the engine logs through; pino loggers fit as they are. */
export interface MuxLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const silentLogger: MuxLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
