export type {
  JsonObject,
  JsonRpcErrorObject,
  JsonRpcFailure,
  JsonRpcId,
  JsonRpcMessage,
  JsonRpcNotification,
  JsonRpcRequest,
  JsonRpcResponse,
  JsonRpcSuccess,
} from './jsonrpc.js';
export {
  MessageKind,
  classifyMessage,
  errorResponse,
  isFailure,
  isJsonObject,
  isNotification,
  isRequest,
  isResponse,
  successResponse,
} from './jsonrpc.js';
export { ErrorCodes } from './errorCodes.js';
export type { ErrorCode } from './errorCodes.js';
export { HEAD_BYTES, LineReader, encodeLine, sniffRequestId } from './lineReader.js';
export type { LineReaderOptions } from './lineReader.js';
export { MuxError, MuxErrorCodes, isMuxError } from './muxError.js';
export type { MuxErrorCode } from './muxError.js';
export { SERVICE_NAME_PATTERN, SOCKET_PATH_LIMIT, resolvePaths, serviceSocketPath } from './paths.js';
export type { MuxPaths } from './paths.js';
