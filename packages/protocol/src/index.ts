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
  requestIdOf,
  successResponse,
  withResponseId,
} from './jsonrpc.js';
export { ErrorCodes } from './errorCodes.js';
export { LATEST_PROTOCOL_VERSION, PROTOCOL_VERSIONS, isKnownProtocolVersion, negotiateVersion } from './protocolVersions.js';
export type { ProtocolVersion } from './protocolVersions.js';
export type { ErrorCode } from './errorCodes.js';
export { EDGE_BYTES, LineReader, sniffRequestId, sniffResponseId } from './lineReader.js';
export { MAX_JSON_DEPTH, decodeMessage, describeId, encodeMessage, failureResponses, isExactNumberId, nestsDeeperThan } from './messageCodec.js';
export type { DecodeFailure, DecodeResult } from './messageCodec.js';
export type { LineReaderOptions, Overflow } from './lineReader.js';
export { MuxError, MuxErrorCodes, isMuxError } from './muxError.js';
export type { MuxErrorCode } from './muxError.js';
export { SERVICE_NAME_PATTERN, SOCKET_PATH_LIMIT, resolvePaths, serviceSocketPath } from './paths.js';
export type { MuxPaths } from './paths.js';
export { RpcConnection, RpcError } from './rpcConnection.js';
export type { RpcConnectionOptions } from './rpcConnection.js';
export { CONTROL_PROTOCOL_VERSION, ControlMethods, LOG_LINE_NOTIFICATION, UPDATE_PROGRESS_NOTIFICATION } from './control.js';
export type {
  ActionResult,
  AdhocParams,
  AdhocResult,
  CallCounts,
  ControlMethod,
  ControlParams,
  ControlParamsArg,
  ControlResult,
  CrashRecord,
  DaemonStatus,
  DashboardLoginResult,
  DescribeResult,
  EmptyParams,
  EmptyResult,
  ExitRecord,
  HealthResult,
  HelloParams,
  HelloResult,
  HistoryParams,
  HistoryResult,
  LastCrash,
  ListResult,
  ListSummary,
  LogsFollowParams,
  LogsParams,
  LogsResult,
  LatencySummary,
  MemoryKind,
  MetricsParams,
  MetricsResult,
  NameParams,
  ReloadParams,
  ReloadResult,
  ResourceSample,
  RestartInfo,
  RowMetrics,
  RunRecord,
  ServiceMetrics,
  ServiceRow,
  SessionInfo,
  ShutdownResult,
  UnwrappedPackage,
  UpdateParams,
  UpdateResult,
} from './control.js';
export { CLIENT_PID_METHOD, INPUT_ENDED_LINE, INPUT_ENDED_METHOD, SHUTDOWN_LINE, SHUTDOWN_METHOD, clientPidLine } from './wire.js';
