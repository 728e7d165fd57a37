import type { Duplex } from 'node:stream';
import { ErrorCodes } from './errorCodes.js';
import { MessageKind, classifyMessage, errorResponse } from './jsonrpc.js';
import type { JsonObject, JsonRpcErrorObject, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from './jsonrpc.js';
import { LineReader } from './lineReader.js';
import { decodeMessage, encodeMessage, failureResponses } from './messageCodec.js';
import { MuxError } from './muxError.js';

/** A JSON-RPC error to send back as it is. */
export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }

  static from(error: JsonRpcErrorObject): RpcError {
    return new RpcError(error.code, error.message, error.data);
  }
}

export interface RpcConnectionOptions {
  /** Largest line accepted. Default 16 MiB. */
  maxLineBytes?: number;
  /** Answers a request; throw `RpcError` or `MuxError` for a clean error. */
  onRequest?: (method: string, params: JsonObject, connection: RpcConnection) => Promise<unknown> | unknown;
  onNotification?: (method: string, params: JsonObject) => void;
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Both ends of a small JSON-RPC connection over NDJSON (the control
 * socket). Every request settles exactly once: answered, timed out, or
 * rejected when the connection closes.
 */
export class RpcConnection {
  readonly #stream: Duplex;
  readonly #options: RpcConnectionOptions;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  readonly closed: Promise<void>;

  constructor(stream: Duplex, options: RpcConnectionOptions = {}) {
    this.#stream = stream;
    this.#options = options;
    const reader = new LineReader({
      maxLineBytes: options.maxLineBytes ?? 16 * 1024 * 1024,
      onLine: (line) => this.#onLine(line),
      onOverflow: () => this.#write(errorResponse(null, ErrorCodes.RequestTooLarge, 'Control message too large')),
    });
    stream.on('data', (chunk: Buffer) => reader.push(chunk));
    this.closed = new Promise((resolve) => {
      stream.once('close', () => {
        this.#onClose();
        resolve();
      });
    });
    stream.on('error', () => undefined);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Sends a request and resolves with its result; rejects with `RpcError` or a closed-connection error. */
  request<T>(method: string, params: object = {}, timeoutMs = 0): Promise<T> {
    if (this.#closed) return Promise.reject(new RpcError(ErrorCodes.ConnectionClosed, 'connection closed'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { resolve: resolve as (result: unknown) => void, reject, timer: undefined };
      if (timeoutMs > 0) {
        pending.timer = setTimeout(() => {
          this.#pending.delete(id);
          reject(new RpcError(ErrorCodes.RequestTimeout, `no answer to '${method}' within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.#pending.set(id, pending);
      this.#write({ jsonrpc: '2.0', id, method, params: params as JsonObject });
    });
  }

  notify(method: string, params: object = {}): void {
    this.#write({ jsonrpc: '2.0', method, params: params as JsonObject });
  }

  /** Ends the connection after pending writes. */
  close(): void {
    this.#stream.end();
  }

  destroy(): void {
    this.#stream.destroy();
  }

  #write(message: JsonRpcRequest | JsonRpcNotification | JsonRpcResponse): void {
    if (this.#closed || this.#stream.destroyed || !this.#stream.writable) return;
    const line = encodeMessage(message);
    if (line !== undefined) this.#stream.write(line);
  }

  #onLine(line: Buffer): void {
    const decoded = decodeMessage(line);
    if (!decoded.ok) {
      const owed = failureResponses(decoded.failure);
      if (owed && !Array.isArray(owed)) this.#write(owed);
      return;
    }
    const message = decoded.message;
    switch (classifyMessage(message)) {
      case MessageKind.Response: {
        const response = message as JsonRpcResponse;
        const pending = typeof response.id === 'number' ? this.#pending.get(response.id) : undefined;
        if (!pending || typeof response.id !== 'number') return;
        this.#pending.delete(response.id);
        if (pending.timer) clearTimeout(pending.timer);
        if ('error' in response) pending.reject(RpcError.from(response.error));
        else pending.resolve(response.result);
        return;
      }
      case MessageKind.Request:
        void this.#answer(message as JsonRpcRequest);
        return;
      case MessageKind.Notification: {
        const notification = message as JsonRpcNotification;
        this.#options.onNotification?.(notification.method, notification.params ?? {});
        return;
      }
      default:
        this.#write(errorResponse(null, ErrorCodes.InvalidRequest, 'Invalid JSON-RPC message'));
    }
  }

  async #answer(request: JsonRpcRequest): Promise<void> {
    const handler = this.#options.onRequest;
    if (!handler) {
      this.#write(errorResponse(request.id, ErrorCodes.MethodNotFound, `Unknown method '${request.method}'`));
      return;
    }
    try {
      const result = await handler(request.method, request.params ?? {}, this);
      this.#write({ jsonrpc: '2.0', id: request.id, result: (result ?? {}) as JsonObject });
    } catch (error) {
      if (error instanceof RpcError) {
        this.#write(errorResponse(request.id, error.code, error.message, error.data));
      } else if (error instanceof MuxError) {
        this.#write(errorResponse(request.id, ErrorCodes.LocalFailure, error.message, { code: error.code }));
      } else {
        this.#write(errorResponse(request.id, ErrorCodes.InternalError, `Internal error: ${(error as Error).message}`));
      }
    }
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) {
      if (pending.timer) clearTimeout(pending.timer);
      pending.reject(new RpcError(ErrorCodes.ConnectionClosed, 'connection to muxd closed'));
    }
    this.#pending.clear();
  }
}
