/**
 * The messages muxd's data sockets add to MCP. mux-proxy sends this one when
 * its host closes stdin: "nothing more is coming; answer what is in flight,
 * then close". A connection that ends without it is a client that went
 * away (killed, crashed): muxd cancels its requests upstream at once.
 * Node-free constants, so the proxy can import it for nothing.
 */
export const INPUT_ENDED_METHOD = 'muxd/inputEnded';

/** The line mux-proxy writes, preceded by a newline to end any partial line. */
export const INPUT_ENDED_LINE = `\n{"jsonrpc":"2.0","method":"${INPUT_ENDED_METHOD}"}\n`;

/**
 * muxd sends this notification to every client before a deliberate
 * shutdown: mux-proxy then exits with it instead of starting it again.
 */
export const SHUTDOWN_METHOD = 'muxd/shutdown';
export const SHUTDOWN_LINE = `{"jsonrpc":"2.0","method":"${SHUTDOWN_METHOD}"}\n`;

/**
 * mux-proxy's first line on each data-socket connection: its process id,
 * so that `muxctl ls` can count the proxies' memory. muxd takes it from the
 * client's word (a pid that is not a live process of this user is simply
 * not counted) and never passes it on to the server. A client that does not
 * send it (an older mux-proxy) is a session whose process is not counted.
 */
export const CLIENT_PID_METHOD = 'muxd/clientPid';

/** The line mux-proxy writes first: `{"jsonrpc":"2.0","method":"muxd/clientPid","params":{"pid":N}}`. */
export function clientPidLine(pid: number): string {
  return `{"jsonrpc":"2.0","method":"${CLIENT_PID_METHOD}","params":{"pid":${pid}}}\n`;
}
