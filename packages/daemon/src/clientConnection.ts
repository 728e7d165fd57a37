import type { Socket } from 'node:net';
import { ErrorCodes, LineReader, errorResponse, sniffRequestId } from '@muxd/protocol';
import type { ClientHandle, Mux, Peer } from '@muxd/engine';
import type { Logger } from './logs.js';
import { formatBytes } from './units.js';

export interface ClientLimits {
  maxRequestBytes: number;
  /** Bytes queued toward a client that does not read before it is cut off. */
  maxClientBuffer: number;
}

/**
 * Connects one data-socket client to a Mux: NDJSON in (bounded lines, parse
 * errors answered), JSON out. A client that stops reading is disconnected
 * once its queue passes `maxClientBuffer`, so it can never hold up the
 * child's reader or the other clients.
 */
export function attachClientSocket(socket: Socket, mux: Mux, limits: ClientLimits, log: Logger): ClientHandle {
  let handle: ClientHandle | undefined;
  const peer: Peer = {
    send(message) {
      if (socket.destroyed || !socket.writable) return;
      if (socket.writableLength > limits.maxClientBuffer) {
        log.warn({ client: handle?.id, queued: socket.writableLength }, `client is not reading (over ${formatBytes(limits.maxClientBuffer)} queued): disconnected`);
        socket.destroy();
        return;
      }
      socket.write(JSON.stringify(message) + '\n');
    },
    close() {
      if (!socket.destroyed) socket.end();
    },
  };
  const client = mux.connectClient(peer);
  handle = client;
  const reader = new LineReader({
    maxLineBytes: limits.maxRequestBytes,
    onLine(line) {
      let message: unknown;
      try {
        message = JSON.parse(line.toString('utf8'));
      } catch (error) {
        log.warn({ client: client.id }, 'unparseable line from client');
        peer.send(errorResponse(null, ErrorCodes.ParseError, `Parse error: ${(error as Error).message}`));
        return;
      }
      client.receive(message);
    },
    onOverflow(bytes, head) {
      const id = sniffRequestId(head);
      log.warn({ client: client.id, bytes, id }, 'message from client over maxRequestBytes: discarded');
      peer.send(
        errorResponse(id, ErrorCodes.RequestTooLarge, `Message too large: over ${formatBytes(limits.maxRequestBytes)} (maxRequestBytes of service '${mux.service}')`),
      );
    },
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.on('end', () => client.end());
  socket.on('close', () => client.disconnect());
  socket.on('error', (error) => log.debug({ client: client.id, err: error.message }, 'client socket error'));
  return client;
}
