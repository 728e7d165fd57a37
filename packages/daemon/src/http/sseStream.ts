import type { ServerResponse } from 'node:http';

export interface SseStreamOptions {
  /** Bytes queued toward a reader that does not keep up before the stream is cut off. */
  maxBufferBytes: number;
  /** Milliseconds between keep-alive comments; 0 sends none. */
  keepAliveMs: number;
  /** Extra response headers (the session id). */
  headers: Record<string, string>;
  /** Called once when the stream ends, from either side. */
  onClose: (stream: SseStream) => void;
}

/**
 * One `text/event-stream` response. Writes never block the caller: a reader
 * more than `maxBufferBytes` behind is disconnected (the session keeps what
 * it missed for a resuming GET).
 */
export class SseStream {
  readonly #res: ServerResponse;
  readonly #maxBufferBytes: number;
  readonly #onClose: (stream: SseStream) => void;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(res: ServerResponse, options: SseStreamOptions) {
    this.#res = res;
    this.#maxBufferBytes = options.maxBufferBytes;
    this.#onClose = options.onClose;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      ...options.headers,
    });
    res.flushHeaders();
    res.once('close', () => this.#finish());
    if (options.keepAliveMs > 0) {
      this.#keepAlive = setInterval(() => this.#write(': keepalive\n\n'), options.keepAliveMs);
      this.#keepAlive.unref();
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Writes one event. `data` is one line of JSON, or '' for a priming event
   * (an id, and the reconnection delay in `retryMs`, with no message).
   */
  send(id: string | undefined, data: string, retryMs?: number): void {
    let text = data === '' ? '' : 'event: message\n';
    if (id !== undefined) text += `id: ${id}\n`;
    if (retryMs !== undefined) text += `retry: ${retryMs}\n`;
    text += `data: ${data}\n\n`;
    this.#write(text);
  }

  /** Ends the response after what was written. Idempotent. */
  end(): void {
    if (this.#closed) return;
    this.#res.end();
    this.#finish();
  }

  #write(text: string): void {
    if (this.#closed) return;
    if (this.#res.writableLength > this.#maxBufferBytes) {
      this.#res.destroy();
      this.#finish();
      return;
    }
    this.#res.write(text);
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#keepAlive) clearInterval(this.#keepAlive);
    this.#onClose(this);
  }
}
