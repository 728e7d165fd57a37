const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export interface LineReaderOptions {
  /** Largest line accepted, in bytes, not counting the newline. */
  maxLineBytes: number;
  /** Called with each complete line, without its `\n` (and trailing `\r`). Empty lines are skipped. */
  onLine: (line: Buffer) => void;
  /**
   * Called once for each line that grew past `maxLineBytes`, as soon as it
   * does; the rest of that line is then discarded up to its newline.
   */
  onOverflow: (bytesSeen: number) => void;
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
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#discarding = newline === -1;
        this.#options.onOverflow(seen);
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
