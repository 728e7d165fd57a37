/**
 * One JSON-RPC 2.0 message as the MCP SDK's transports carry it: a request,
 * a notification or a response. Kept structural, so the SDK's own
 * `JSONRPCMessage` fits it and `InProcessTransport` can be handed to
 * `Client.connect` without importing anything from muxd.
 */
export type JsonRpcMessage = { jsonrpc: '2.0'; [key: string]: unknown };
