/**
 * Connecting to a Unix socket as a promise: the one place muxctl, mux-proxy
 * and the launcher open muxd's sockets. Node built-ins only, so the proxy's
 * bundle stays small.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** Resolves the connected socket; rejects with the connect error (ENOENT, ECONNREFUSED, EACCES...). */
export function connectSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** True when something accepts connections on `path` (the connection is closed at once). */
export function canConnect(path: string): Promise<boolean> {
  return connectSocket(path).then(
    (socket) => {
      socket.destroy();
      return true;
    },
    () => false,
  );
}
