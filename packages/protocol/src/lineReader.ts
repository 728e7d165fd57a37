const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
/** How much of an oversized line `onOverflow` gets to look at. */
export const HEAD_BYTES = 1024;

export interface LineReaderOptions {
  /** Largest line accepted, in bytes, not counting the newline. */
  maxLineBytes: number;
  /** Called with each complete line, without its `\n` (and trailing `\r`). Empty lines are skipped. */
  onLine: (line: Buffer) => void;
  /**
   * Called once for each line that grew past `maxLineBytes`, as soon as it
   * does, with the bytes seen so far and the line's first bytes (up to
   * `HEAD_BYTES`); the rest of that line is then discarded up to its newline.
   */
  onOverflow: (bytesSeen: number, head: Buffer) => void;
}

/**
 * Splits a byte stream into newline-delimited lines with a bound on each
 * line. Works on Buffers, so a UTF-8 character split across two chunks is
 * joined before anyone decodes it.
 */
export class LineReader {
  readonly #options: LineReaderOptions;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** True while skipping the rest of an oversized line. */
  #discarding = false;

  constructor(options: LineReaderOptions) {
    this.#options = options;
  }

  /** Bytes held for an incomplete line. */
  get bufferedBytes(): number {
    return this.#pendingBytes;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (this.#discarding) {
        if (newline === -1) return;
        this.#discarding = false;
      } else if (this.#pendingBytes + (end - start) > this.#options.maxLineBytes) {
        const seen = this.#pendingBytes + (end - start);
        const head = Buffer.concat([...this.#pending, chunk.subarray(start, start + HEAD_BYTES)]).subarray(0, HEAD_BYTES);
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#discarding = newline === -1;
        this.#options.onOverflow(seen, head);
      } else if (newline === -1) {
        this.#pending.push(chunk.subarray(start));
        this.#pendingBytes += chunk.length - start;
        return;
      } else {
        this.#emit(chunk.subarray(start, end));
      }
      start = end + 1;
    }
  }

  #emit(tail: Buffer): void {
    let line = tail;
    if (this.#pending.length > 0) {
      this.#pending.push(tail);
      line = Buffer.concat(this.#pending, this.#pendingBytes + tail.length);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    if (line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN) line = line.subarray(0, line.length - 1);
    if (line.length > 0) this.#options.onLine(line);
  }
}

/** Serializes one message (or batch) as an NDJSON line. */
export function encodeLine(message: unknown): string {
  return JSON.stringify(message) + '\n';
}

/**
 * Finds the id of a request from the first bytes of a line too large to
 * parse, so its sender gets an error it can match instead of waiting for a
 * timeout. Only an `"id"` member before `"params"` is trusted (SDKs write
 * jsonrpc, id, method, params in that order). Returns null when unsure.
 */
export function sniffRequestId(head: Buffer): string | number | null {
  const text = head.toString('utf8');
  const paramsAt = text.indexOf('"params"');
  const envelope = paramsAt === -1 ? text : text.slice(0, paramsAt);
  const match = /^\s*\{(?:[^{}[\]]*?,)?\s*"id"\s*:\s*(-?\d+(?:\.\d+)?|"(?:[^"\\]|\\.)*")\s*[,}]/.exec(envelope);
  if (!match?.[1]) return null;
  try {
    const id: unknown = JSON.parse(match[1]);
    return typeof id === 'string' || typeof id === 'number' ? id : null;
  } catch {
    return null;
  }
}
