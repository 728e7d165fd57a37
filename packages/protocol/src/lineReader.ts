const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
/** How much of each end of an oversized line `onOverflow` gets to look at. */
export const EDGE_BYTES = 1024;

export interface LineReaderOptions {
  /** Largest line accepted, in bytes, not counting the newline. */
  maxLineBytes: number;
  /** Called with each complete line, without its `\n` (and trailing `\r`). Empty lines are skipped. */
  onLine: (line: Buffer) => void;
  /**
   * Called once for each line longer than `maxLineBytes`, when its newline
   * arrives. The line itself is discarded as it streams in; only its size,
   * first bytes and last bytes (up to `EDGE_BYTES` each) are kept.
   */
  onOverflow: (overflow: Overflow) => void;
}

/** What is known of a discarded oversized line. */
export interface Overflow {
  bytes: number;
  head: Buffer;
  tail: Buffer;
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
  /** Set while skipping the rest of an oversized line. */
  #discarding: { bytes: number; head: Buffer; tail: Buffer } | undefined;

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
      const piece = chunk.subarray(start, end);
      if (this.#discarding) {
        this.#discard(piece);
      } else if (this.#pendingBytes + piece.length > this.#options.maxLineBytes) {
        const head = firstBytes([...this.#pending, piece]);
        this.#discarding = { bytes: this.#pendingBytes, head, tail: lastBytes(this.#pending) };
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#discard(piece);
      } else if (newline === -1) {
        this.#pending.push(piece);
        this.#pendingBytes += piece.length;
        return;
      } else {
        this.#emit(piece);
      }
      if (newline === -1) return;
      if (this.#discarding) {
        const overflow = this.#discarding;
        this.#discarding = undefined;
        this.#options.onOverflow({ ...overflow, tail: stripCarriageReturn(overflow.tail) });
      }
      start = end + 1;
    }
  }

  #discard(piece: Buffer): void {
    const state = this.#discarding as { bytes: number; head: Buffer; tail: Buffer };
    state.bytes += piece.length;
    // Copied: a view would keep the whole chunk alive while the line streams on, and in the report.
    state.tail = piece.length >= EDGE_BYTES ? Buffer.from(piece.subarray(piece.length - EDGE_BYTES)) : lastBytes([state.tail, piece]);
  }

  #emit(tail: Buffer): void {
    let line = tail;
    if (this.#pending.length > 0) {
      this.#pending.push(tail);
      line = Buffer.concat(this.#pending, this.#pendingBytes + tail.length);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    line = stripCarriageReturn(line);
    if (line.length > 0) this.#options.onLine(line);
  }
}

function stripCarriageReturn(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN ? line.subarray(0, line.length - 1) : line;
}

/** The first `EDGE_BYTES` of some buffers, copied. */
function firstBytes(buffers: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  for (const buffer of buffers) {
    if (length >= EDGE_BYTES) break;
    const part = buffer.subarray(0, EDGE_BYTES - length);
    parts.push(part);
    length += part.length;
  }
  return Buffer.concat(parts);
}

/** The last `EDGE_BYTES` of some buffers, copied so the originals can go. */
function lastBytes(buffers: Buffer[]): Buffer {
  const joined = Buffer.concat(buffers);
  return Buffer.from(joined.subarray(Math.max(0, joined.length - EDGE_BYTES)));
}

/**
 * Finds the id of a request too large to parse from its first and last
 * bytes, so its sender gets an error it can match instead of waiting for a
 * timeout. Trusted only where the id is a top-level member: before
 * `"params"` at the start (`{"jsonrpc":"2.0","id":1,...`), or closing the
 * object at the end (the MCP TypeScript SDK writes `...,"id":1}`).
 * Returns null when unsure.
 */
export function sniffRequestId(overflow: Pick<Overflow, 'head' | 'tail'>): string | number | null {
  const text = overflow.head.toString('utf8');
  const paramsAt = text.indexOf('"params"');
  const envelope = paramsAt === -1 ? text : text.slice(0, paramsAt);
  const leading = /^\s*\{(?:[^{}[\]]*?,)?\s*"id"\s*:\s*(-?\d+(?:\.\d+)?|"(?:[^"\\]|\\.)*")\s*[,}]/.exec(envelope);
  const trailing = /[,{]\s*"id"\s*:\s*(-?\d+(?:\.\d+)?|"(?:[^"\\]|\\.)*")\s*\}\s*$/.exec(overflow.tail.toString('utf8'));
  const found = leading?.[1] ?? trailing?.[1];
  if (!found) return null;
  try {
    const id: unknown = JSON.parse(found);
    return typeof id === 'string' || typeof id === 'number' ? id : null;
  } catch {
    return null;
  }
}

/**
 * Finds the id of a response too large to parse (a server's answer over
 * `maxResponseBytes`), so that the request it answers fails at once instead
 * of timing out. Trusted only when the members before the first nested
 * value show a response: they end with `"result":` or `"error":` and hold
 * no `"method"` (`{"result":{...` as the MCP TypeScript SDK writes it, or
 * `{"jsonrpc":"2.0","id":1,"result":{...`). The id is then read as
 * `sniffRequestId` reads it. Returns null when unsure.
 */
export function sniffResponseId(overflow: Pick<Overflow, 'head' | 'tail'>): string | number | null {
  const text = overflow.head.toString('utf8').trimStart();
  if (!text.startsWith('{')) return null;
  const nested = text.slice(1).search(/[{[]/);
  if (nested === -1) return null;
  const envelope = text.slice(0, nested + 1);
  if (!/"(?:result|error)"\s*:\s*$/.test(envelope) || /"method"\s*:/.test(envelope)) return null;
  return sniffRequestId(overflow);
}
