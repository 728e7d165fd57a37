import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { ErrorCodes, LineReader, decodeMessage, encodeMessage, errorResponse, failureResponses, sniffResponseId } from '@muxd/protocol';
import type { JsonRpcErrorObject } from '@muxd/protocol';
import type { Peer, UpstreamHandle } from '@muxd/engine';
import { formatBytes } from '@muxd/config';
import type { ServiceConfig } from '@muxd/config';
import type { Logger } from './logs.js';

/** Longest stderr line kept whole in the service log. */
const STDERR_LINE_BYTES = 64 * 1024;
/** How much of a child's stderr a client waiting for its handshake is shown. */
const STDERR_TAIL_LINES = 5;
const STDERR_TAIL_CHARS = 300;
/** How long a child may leave `maxChildBuffer` unread when health checks are off. */
const STALL_MS = 10_000;

export interface ChildStdoutOptions {
  /** The service's config as it is now (`maxResponseBytes`, the name for messages). */
  config: () => ServiceConfig;
  log: Logger;
  /** The engine's end of the current child; undefined until it spawned. */
  upstream: () => UpstreamHandle | undefined;
  /** The current child's stdin, for the errors owed to the server's own requests. */
  stdin: () => Peer | undefined;
}

/**
 * Reads a child's stdout: each line decoded and handed to the engine. A
 * non-JSON line is skipped; a message muxd refuses gets its error to the
 * server (its request) or to the request it answers; an answer over
 * `maxResponseBytes` fails its request at once rather than at its timeout.
 */
export function readChildStdout(options: ChildStdoutOptions): LineReader {
  const { config, log, upstream, stdin } = options;
  const maxLineBytes = config().maxResponseBytes;
  return new LineReader({
    maxLineBytes,
    onLine: (line) => {
      const decoded = decodeMessage(line);
      if (decoded.ok) {
        upstream()?.receive(decoded.message);
        return;
      }
      const { failure } = decoded;
      if (failure.code === ErrorCodes.ParseError) {
        log.warn({ line: preview(line) }, 'non-JSON line on the child\'s stdout: skipped');
        return;
      }
      log.error({ bytes: line.length, line: preview(line) }, `message on the child's stdout refused: ${failure.message}`);
      // The server's own requests get their errors back; an answer fails the request it answers.
      const owed = failureResponses(failure);
      if (owed) stdin()?.send(owed);
      for (const id of failure.answers) upstream()?.receive(errorResponse(id, failure.code, `The server's answer was refused by muxd: ${failure.message}`));
    },
    onOverflow: (overflow) => {
      const { maxResponseBytes: limit, name } = config();
      log.error({ bytes: overflow.bytes, limit }, 'line on the child\'s stdout is over maxResponseBytes: skipped');
      const id = sniffResponseId(overflow);
      if (typeof id === 'number') {
        upstream()?.receive(errorResponse(id, ErrorCodes.ResponseTooLarge, `Answer too large: ${formatBytes(overflow.bytes)}, over ${formatBytes(limit)} (maxResponseBytes of service '${name}')`));
      }
    },
  });
}

/**
 * The last few stderr lines of the current child (each cut to 300
 * characters), for clients of a handshake it never completed.
 */
export class StderrTail {
  #lines: string[] = [];

  add(line: string): void {
    this.#lines.push(line.length > STDERR_TAIL_CHARS ? `${line.slice(0, STDERR_TAIL_CHARS)}...` : line);
    if (this.#lines.length > STDERR_TAIL_LINES) this.#lines.shift();
  }

  clear(): void {
    this.#lines = [];
  }

  toString(): string {
    return this.#lines.join(' | ');
  }
}

/** Reads a child's stderr into the service log, line by line, keeping the tail in `tail`. */
export function readChildStderr(log: Logger, tail: StderrTail): LineReader {
  return new LineReader({
    maxLineBytes: STDERR_LINE_BYTES,
    onLine: (line) => {
      const text = line.toString('utf8');
      log.info({ stream: 'stderr' }, text);
      tail.add(text);
    },
    onOverflow: ({ bytes }) => log.warn({ stream: 'stderr', bytes }, 'stderr line over 64 KiB: skipped'),
  });
}

export interface ChildStdinOptions {
  /** The service's config as it is now (`maxChildBuffer`, `healthCheck.timeout`, the name for messages). */
  config: () => ServiceConfig;
  log: Logger;
  /** The child left its stdin full for the health-check timeout: `why` says so, for a restart (hung). */
  onStall: (why: string) => void;
}

/**
 * The engine's view of a child's stdin. What waits there is bounded by
 * `maxChildBuffer`: past it a message is refused (a request gets the error
 * back), and a child that leaves it full (no 'drain') for the health-check
 * timeout is reported through `onStall`.
 */
export class ChildStdin {
  readonly peer: Peer;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #options: ChildStdinOptions;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(child: ChildProcessWithoutNullStreams, options: ChildStdinOptions) {
    this.#child = child;
    this.#options = options;
    this.peer = {
      send: (message) => this.#send(message),
      close: () => child.stdin.end(),
    };
  }

  #send(message: unknown): JsonRpcErrorObject | undefined {
    const { stdin } = this.#child;
    const { log } = this.#options;
    if (!stdin.writable) return undefined;
    const line = encodeMessage(message);
    if (line === undefined) {
      log.error({}, 'a message for the child could not be serialized: dropped');
      return { code: ErrorCodes.InternalError, message: 'muxd could not serialize this request' };
    }
    const { maxChildBuffer: limit, name } = this.#options.config();
    const waiting = stdin.writableLength;
    if (waiting + Buffer.byteLength(line) > limit) {
      log.warn({ waiting, limit }, 'the child is not reading its stdin: message refused');
      this.#watchStall();
      return {
        code: ErrorCodes.ChildBufferFull,
        message: `Service '${name}' is not reading its input: ${formatBytes(waiting)} already waits for it, and this would pass ${formatBytes(limit)} (maxChildBuffer)`,
      };
    }
    stdin.write(line);
    return undefined;
  }

  #watchStall(): void {
    if (this.#stallTimer) return;
    const { stdin } = this.#child;
    const { healthCheck } = this.#options.config();
    const timeoutMs = healthCheck.timeoutMs > 0 ? healthCheck.timeoutMs : STALL_MS;
    const drained = () => this.dispose();
    stdin.once('drain', drained);
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      stdin.off('drain', drained);
      const why = `it left ${formatBytes(stdin.writableLength)} of input unread for ${timeoutMs} ms`;
      this.#options.log.error({ child: this.#child.pid, waiting: stdin.writableLength, timeoutMs }, `child is not reading its stdin: restarting it (hung)`);
      this.#options.onStall(why);
    }, timeoutMs);
    this.#stallTimer.unref();
  }

  /** Stops watching for a stall (the stdin drained, or the child is gone). */
  dispose(): void {
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }
}

function preview(line: Buffer): string {
  const text = line.subarray(0, 200).toString('utf8');
  return line.length > 200 ? `${text}...` : text;
}
