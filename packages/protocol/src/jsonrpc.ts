/**
 * JSON-RPC 2.0 message shapes as they travel between MCP clients, muxd and
 * MCP servers. Only the envelope is typed: muxd routes on method names and a
 * few well-known params, and passes everything else through untouched.
 */

/** A JSON-RPC id. Its JSON type (number or string) is part of its identity. */
export type JsonRpcId = string | number;

export type JsonObject = { [key: string]: unknown };

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: JsonObject;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: JsonObject;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcSuccess {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: JsonObject;
}

export interface JsonRpcFailure {
  jsonrpc: '2.0';
  /** `null` only when the request's id could not be read. */
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/** What a parsed JSON value is, judged by its shape alone (never by its id). */
export const MessageKind = {
  Request: 'request',
  Notification: 'notification',
  Response: 'response',
  Invalid: 'invalid',
} as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * Classifies one JSON value as a JSON-RPC request, notification or response.
 * `params`, when present, must be an object (MCP never uses positional params).
 */
export function classifyMessage(value: unknown): MessageKind {
  if (!isObject(value) || value['jsonrpc'] !== '2.0') return MessageKind.Invalid;
  const method = value['method'];
  if (typeof method === 'string') {
    const params = value['params'];
    if (params !== undefined && !isObject(params)) return MessageKind.Invalid;
    if (!('id' in value)) return MessageKind.Notification;
    return isId(value['id']) ? MessageKind.Request : MessageKind.Invalid;
  }
  if (method !== undefined) return MessageKind.Invalid;
  const hasResult = 'result' in value;
  const hasError = 'error' in value;
  if (hasResult === hasError) return MessageKind.Invalid;
  if (hasError) {
    const error = value['error'];
    if (!isObject(error) || typeof error['code'] !== 'number') return MessageKind.Invalid;
    return isId(value['id']) || value['id'] === null ? MessageKind.Response : MessageKind.Invalid;
  }
  return isId(value['id']) && isObject(value['result']) ? MessageKind.Response : MessageKind.Invalid;
}

export function isRequest(value: unknown): value is JsonRpcRequest {
  return classifyMessage(value) === MessageKind.Request;
}

export function isNotification(value: unknown): value is JsonRpcNotification {
  return classifyMessage(value) === MessageKind.Notification;
}

export function isResponse(value: unknown): value is JsonRpcResponse {
  return classifyMessage(value) === MessageKind.Response;
}

export function isFailure(message: JsonRpcResponse): message is JsonRpcFailure {
  return 'error' in message;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return isObject(value);
}

/** Builds an error response. `data` is left out when undefined. */
export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcFailure {
  const error: JsonRpcErrorObject = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: '2.0', id, error };
}

export function successResponse(id: JsonRpcId, result: JsonObject): JsonRpcSuccess {
  return { jsonrpc: '2.0', id, result };
}

/**
 * The response under another id, written as `{"jsonrpc","id","result"|"error"}`
 * in that order whatever order it came in: mux-proxy finds response ids
 * from a line's first bytes.
 */
export function withResponseId(response: JsonRpcResponse, id: JsonRpcId): JsonRpcResponse {
  return isFailure(response) ? { jsonrpc: '2.0', id, error: response.error } : { jsonrpc: '2.0', id, result: response.result };
}

/** The id of a malformed request, to answer it by; null for anything else (a response's id is not its sender's). */
export function requestIdOf(message: unknown): JsonRpcId | null {
  if (!isObject(message) || typeof message['method'] !== 'string') return null;
  const id = message['id'];
  return isId(id) ? id : null;
}
