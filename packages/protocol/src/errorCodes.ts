/**
 * JSON-RPC error codes muxd sends. The standard ones come first; muxd's own
 * live in the implementation-defined range -32000..-32099, where -32000 and
 * -32001 keep the meaning the MCP TypeScript SDK gives them.
 */
export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,

  /** The connection or the service went away before an answer came. */
  ConnectionClosed: -32000,
  /** No answer within the service's `requestTimeout`. */
  RequestTimeout: -32001,

  /** The child exited while the request was in flight; muxd restarts it. */
  UpstreamExited: -32030,
  /** The service is stopped or errored and cannot take requests. */
  ServiceUnavailable: -32031,
  /** The line is larger than the service's `maxRequestBytes`. */
  RequestTooLarge: -32032,
  /** The client already has `maxInflight` requests waiting. */
  TooManyRequests: -32033,
  /** The service already has `maxClients` clients. */
  TooManyClients: -32034,
  /** The client reused an id that is still in flight. */
  DuplicateRequestId: -32035,
  /** The server asked for sampling, elicitation or roots and no client can answer. */
  NoCapableClient: -32036,
  /** The child did not answer the initialize handshake. */
  UpstreamInitializeFailed: -32037,
  /** The server's answer is larger than the service's `maxResponseBytes`. */
  ResponseTooLarge: -32038,
  /** Writing the request would put more than the service's `maxChildBuffer` in wait for the child's stdin. */
  ChildBufferFull: -32039,
  /** The message nests arrays and objects deeper than `MAX_JSON_DEPTH`. */
  NestedTooDeep: -32040,
  /** Control protocol: a local failure; `data.code` holds its `MuxError` code. */
  LocalFailure: -32050,
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
