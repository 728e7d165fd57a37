/** Stable codes for muxd's local failures; the CLI maps them to messages and exit codes. */
export const MuxErrorCodes = {
  SocketPathTooLong: 'MUX_SOCKET_PATH_TOO_LONG',
  SocketInUse: 'MUX_SOCKET_IN_USE',
  UnsafeDirectory: 'MUX_UNSAFE_DIRECTORY',
  DaemonRunning: 'MUX_DAEMON_RUNNING',
  DaemonNotRunning: 'MUX_DAEMON_NOT_RUNNING',
  ConfigInvalid: 'MUX_CONFIG_INVALID',
  ConfigNotFound: 'MUX_CONFIG_NOT_FOUND',
  /** The config defines no services: refused by `reload` (and `config check`) unless allowed. */
  ConfigEmpty: 'MUX_CONFIG_EMPTY',
  ServiceUnknown: 'MUX_SERVICE_UNKNOWN',
  HttpListenFailed: 'MUX_HTTP_LISTEN_FAILED',
  /** Something needs the HTTP front (the dashboard) and the config has no `http` block. */
  HttpOff: 'MUX_HTTP_OFF',
} as const;
export type MuxErrorCode = (typeof MuxErrorCodes)[keyof typeof MuxErrorCodes];

/** A local failure with a stable `code` and a message meant for the user. */
export class MuxError extends Error {
  readonly code: MuxErrorCode;

  constructor(code: MuxErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MuxError';
    this.code = code;
  }
}

export function isMuxError(error: unknown): error is MuxError {
  return error instanceof MuxError;
}
