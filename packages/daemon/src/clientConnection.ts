import type { Socket } from 'node:net';
import { CLIENT_PID_METHOD, ErrorCodes, INPUT_ENDED_METHOD, LineReader, decodeMessage, encodeMessage, errorResponse, failureResponses, isJsonObject, sniffRequestId } from '@muxd/protocol';
import type { ClientHandle, Peer } from '@muxd/engine';
import type { Logger } from './logs.js';
import { formatBytes } from '@muxd/config';


/** Where a connection's client joins: a service's engine. */
export interface ClientTarget {
  /** The service's name, for error messages. */
  readonly service: string;
  /** Joins the engine as one more client, sending to it through `peer`. */
  connect(peer: Peer): ClientHandle;
  /** The client said which process it is (`muxd/clientPid`, mux-proxy's first line): once per connection, a plausible pid only. */
  onClientPid?(pid: number): void;
}

/** Linux's largest pid_max (2^22); macOS's is far lower. */
const MAX_PID = 4_194_304;

export interface ClientLimits {
  maxRequestBytes: number;
  /** Bytes queued toward a client that does not read before it is cut off. */
  maxClientBuffer: number;
}

/**
 * Connects one data-socket client to a service's engine: NDJSON in (bounded lines, parse
 * errors answered), JSON out. An end of input without `muxd/inputEnded`
 * first means the client is gone. A client that stops reading is disconnected
 * once its queue passes `maxClientBuffer`, so it can never hold up the
 * child's reader or the other clients.
 */
export function attachClientSocket(socket: Socket, target: ClientTarget, limits: ClientLimits, log: Logger): ClientHandle {
  let handle: ClientHandle | undefined;
  const peer: Peer = {
    send(message) {
      if (socket.destroyed || !socket.writable) return;
      if (socket.writableLength > limits.maxClientBuffer) {
        log.warn({ client: handle?.id, queued: socket.writableLength }, `client is not reading (over ${formatBytes(limits.maxClientBuffer)} queued): disconnected`);
        socket.destroy();
        return;
      }
      const line = encodeMessage(message);
      if (line === undefined) {
        log.error({ client: handle?.id }, 'a message for the client could not be serialized: dropped');
        return;
      }
      socket.write(line);
    },
    close() {
      if (!socket.destroyed) socket.end();
    },
  };
  const client = target.connect(peer);
  /** The client said it will send nothing more (mux-proxy does when its stdin closes). */
  let inputEnded = false;
  let pidTold = false;
  handle = client;
  const reader = new LineReader({
    maxLineBytes: limits.maxRequestBytes,
    onLine(line) {
      const decoded = decodeMessage(line);
      if (!decoded.ok) {
        const { failure } = decoded;
        log.warn({ client: client.id, bytes: line.length, code: failure.code }, `message from client refused: ${failure.message}`);
        const owed = failureResponses(failure);
        if (owed) peer.send(owed);
        // An answer of the client's that cannot be taken reaches the server as an error in its place.
        for (const id of failure.answers) client.receive(errorResponse(id, failure.code, `The client's answer was refused by muxd: ${failure.message}`));
        return;
      }
      const message = decoded.message;
      if (isJsonObject(message) && message['method'] === INPUT_ENDED_METHOD && !('id' in message)) {
        inputEnded = true;
        client.end();
        return;
      }
      if (isJsonObject(message) && message['method'] === CLIENT_PID_METHOD && !('id' in message)) {
        // muxd's own message, never the server's: taken once, anything else in it ignored.
        const params = message['params'];
        const pid = isJsonObject(params) ? params['pid'] : undefined;
        if (!pidTold && typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 1 && pid <= MAX_PID) target.onClientPid?.(pid);
        pidTold = true;
        return;
      }
      client.receive(message, line.length);
    },
    onOverflow(overflow) {
      const id = sniffRequestId(overflow);
      log.warn({ client: client.id, bytes: overflow.bytes, id }, 'message from client over maxRequestBytes: discarded');
      peer.send(
        errorResponse(id, ErrorCodes.RequestTooLarge, `Message too large: over ${formatBytes(limits.maxRequestBytes)} (maxRequestBytes of service '${target.service}')`),
      );
    },
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.on('end', () => {
    if (inputEnded) return;
    // Ended without saying so: the client is gone, so its requests are cancelled now.
    client.disconnect('client went away');
    socket.destroy();
  });
  socket.on('close', () => client.disconnect());
  socket.on('error', (error) => log.debug({ client: client.id, err: error.message }, 'client socket error'));
  return client;
}
