/**
 * The two messages muxd's data sockets add to MCP. mux-proxy sends it when
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
