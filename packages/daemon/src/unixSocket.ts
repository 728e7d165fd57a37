import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { MuxError, MuxErrorCodes, SOCKET_PATH_LIMIT } from '@muxd/protocol';

/**
 * Creates `dir` (and parents) if needed and makes sure only this user can
 * use it: owned by us, mode 0700, not a symlink. A directory owned by
 * someone else is refused rather than used.
 */
export function ensurePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) {
    throw new MuxError(MuxErrorCodes.UnsafeDirectory, `${dir} is not a directory (a symlink or file is in the way); remove it or set MUXD_HOME`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new MuxError(MuxErrorCodes.UnsafeDirectory, `${dir} belongs to uid ${stat.uid}, not to you (uid ${uid}); refusing to use it. Set MUXD_HOME to a directory of your own`);
  }
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** Throws a clear error when `path` would be silently truncated by the OS. */
export function checkSocketPathLength(path: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes >= SOCKET_PATH_LIMIT) {
    throw new MuxError(
      MuxErrorCodes.SocketPathTooLong,
      `socket path is ${bytes} bytes, over this OS's limit of ${SOCKET_PATH_LIMIT - 1}: ${path}. Use a shorter service name or set MUXD_HOME to a shorter directory`,
    );
  }
}

/** Resolves true when something accepts connections on `path`. */
export function probeSocket(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket = connect(path);
    const done = (alive: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Makes `path` free for a new socket: a stale socket (nothing answers a
 * connect probe) is removed; a live one, a non-socket file, or a socket
 * owned by another user is refused.
 */
export async function reclaimSocketPath(path: string): Promise<void> {
  checkSocketPathLength(path);
  let stat;
  try {
    stat = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stat.isSocket()) {
    throw new MuxError(MuxErrorCodes.SocketInUse, `${path} exists and is not a socket; remove it by hand`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new MuxError(MuxErrorCodes.UnsafeDirectory, `${path} belongs to uid ${stat.uid}, not to you; refusing to use it`);
  }
  if (await probeSocket(path)) {
    throw new MuxError(MuxErrorCodes.SocketInUse, `another process is serving ${path}`);
  }
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * Listens on a Unix socket at `path` with mode 0600, reclaiming a stale one.
 * Half-open connections are allowed so answers still flow after a client
 * closes its side.
 */
export async function listenUnix(path: string, onConnection: (socket: Socket) => void): Promise<Server> {
  await reclaimSocketPath(path);
  const server = createServer({ allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return server;
}

/**
 * Removes the socket file (no new clients) and closes `server`, waiting up
 * to `graceMs` for open connections to finish.
 */
export async function closeUnixServer(server: Server, path: string, graceMs = 2000): Promise<void> {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
