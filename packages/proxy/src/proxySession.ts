/**
 * One host session of mux-proxy. While muxd is up it copies bytes between
 * the host's stdio and the service's socket unchanged, only glancing at each
 * line to know which requests await an answer. If muxd dies it answers those
 * requests with an error (never sending them twice), reaches muxd again
 * through its `Connector`, replays the session's initialize, subscriptions
 * and log level, and carries on: the host does not notice.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { LineReader } from '@muxd/protocol/lineReader';
import { INPUT_ENDED_LINE } from '@muxd/protocol/wire';
import { encodeMessage } from '@muxd/protocol/messageCodec';
import { ErrorCodes } from '@muxd/protocol/errorCodes';
import { ResponseScanner, SessionState, isShutdown, responseId } from './sessionState.js';

/** Host lines may be large (file contents); muxd enforces the service's own limit. */
const MAX_HOST_LINE = 256 * 1024 * 1024;
/** Default for `ProxySessionOptions.reconnectMs`. */
const RECONNECT_MS = 60_000;
const NEWLINE = Buffer.from('\n');

/** How a session reaches muxd: the socket of its service, starting muxd when needed. */
export interface Connector {
  /** What the session is connected to, for messages: the service name, or the ad-hoc command. */
  readonly label: string;
  /**
   * The first connection: starts muxd when it is not running, and registers
   * an ad-hoc command with it. Rejects with the one-line reason the session
   * cannot start.
   */
  connect(): Promise<Duplex>;
  /**
   * One attempt to reach muxd again after it went away, starting it within
   * `timeoutMs`. Rejects with a `FatalConnectError` when trying again cannot
   * help; with anything else, the session tries again.
   */
  reconnect(timeoutMs: number): Promise<Duplex>;
}

/** A `Connector.reconnect` failure that trying again cannot mend; its message says why. */
export class FatalConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FatalConnectError';
  }
}

/** The host's side: what it writes to the proxy, where its answers go, and where the proxy's own messages go. */
export interface ProxyStdio {
  input: Readable;
  /** Belongs to the protocol: only muxd's bytes and the proxy's error answers are written here. */
  output: Writable;
  /** One-line messages, each starting `mux-proxy: `. */
  error: Writable;
}

export interface ProxySessionOptions {
  /** How long to keep trying to reach muxd again after it went away, ms. Default 60000. */
  reconnectMs?: number;
}

/**
 * How a session ended, every write to the host delivered:
 * - `host-ended`: the host closed its input and muxd answered what was in flight (exit 0);
 * - `muxd-shutdown`: muxd shut down on purpose while the host was still there;
 * - `failed`: muxd could not be reached or no longer has the service; `message` was written to the error stream;
 * - `destroyed`: `destroy()` was called.
 */
export type ProxyOutcome =
  | { reason: 'host-ended' }
  | { reason: 'muxd-shutdown' }
  | { reason: 'failed'; message: string }
  | { reason: 'destroyed' };

export class ProxySession {
  readonly #stdio: ProxyStdio;
  readonly #connector: Connector;
  readonly #reconnectMs: number;
  readonly #state = new SessionState();

  #socket: Duplex | undefined;
  #hostEnded = false;
  /** muxd said it is shutting down on purpose: leave with it instead of restarting it. */
  #daemonLeaving = false;
  #running = false;
  #finished = false;
  #resolveOutcome: (outcome: ProxyOutcome) => void = () => undefined;
  readonly #outcome = new Promise<ProxyOutcome>((resolve) => (this.#resolveOutcome = resolve));
  /** The wait between reconnect attempts, to cut short on `destroy()`. */
  #retryTimer: { timer: ReturnType<typeof setTimeout>; wake: () => void } | undefined;

  /** Writes to the host's streams whose callbacks have not come yet: exit waits for none. */
  #unflushed = 0;
  #onFlushed: (() => void) | undefined;
  readonly #flushedOne = (): void => {
    if (--this.#unflushed === 0) this.#onFlushed?.();
  };

  // ---- host -> muxd: raw bytes while connected; whole lines while not.
  /** Complete host lines waiting for a connection. */
  #waiting: Buffer[] = [];
  /** Forwarding host bytes as they come (false: as whole lines, until connected at a line boundary). */
  #rawInput = false;
  readonly #hostLines: LineReader;

  // ---- muxd -> host: raw bytes, scanned for response ids; whole lines while replaying.
  /** Answers to the replay's own requests, to drop. */
  #replayIds = new Set<string>();
  readonly #scanner: ResponseScanner;
  readonly #replayLines: LineReader;

  constructor(stdio: ProxyStdio, connector: Connector, options: ProxySessionOptions = {}) {
    this.#stdio = stdio;
    this.#connector = connector;
    this.#reconnectMs = options.reconnectMs ?? RECONNECT_MS;
    this.#hostLines = new LineReader({
      maxLineBytes: MAX_HOST_LINE,
      onLine: (line) => {
        this.#state.fromHost(line);
        if (this.#rawInput) return;
        if (this.#socket) {
          this.#socket.write(line);
          this.#socket.write(NEWLINE);
        } else {
          this.#waiting.push(Buffer.from(line), NEWLINE);
        }
      },
      onOverflow: ({ bytes }) => this.#log(`dropped a ${bytes}-byte message from the host`),
    });
    this.#scanner = new ResponseScanner({
      onResponse: (id) => this.#state.answered(id),
      onShutdown: () => {
        this.#daemonLeaving = true;
      },
    });
    this.#replayLines = new LineReader({
      maxLineBytes: MAX_HOST_LINE,
      onLine: (line) => {
        const head = line.subarray(0, 200).toString('utf8');
        if (isShutdown(head)) this.#daemonLeaving = true;
        const id = responseId(head);
        if (typeof id === 'string' && this.#replayIds.delete(id)) return;
        if (id !== undefined) this.#state.answered(id);
        this.#toHost(line);
        this.#toHost(NEWLINE);
      },
      onOverflow: () => undefined,
    });
  }

  /**
   * Reads the host's input and connects to muxd. Resolves once the session
   * is over and everything written to the host has been delivered, so the
   * caller may exit at once. Call it once.
   */
  run(): Promise<ProxyOutcome> {
    if (this.#running) throw new Error('ProxySession.run() called twice');
    this.#running = true;
    this.#stdio.input.on('data', this.#onInput);
    this.#stdio.input.once('end', this.#onInputEnd);
    this.#connector.connect().then(
      (connection) => {
        if (this.#finished) connection.destroy();
        else this.#attach(connection, false);
      },
      (error: unknown) => void this.#finish({ reason: 'failed', message: errorMessage(error) }),
    );
    return this.#outcome;
  }

  /** Ends the session now: drops the connection and stops reading and reconnecting. Idempotent. */
  destroy(): void {
    void this.#finish({ reason: 'destroyed' });
  }

  readonly #onInput = (chunk: Buffer): void => {
    if (this.#rawInput && this.#socket) this.#socket.write(chunk);
    this.#hostLines.push(chunk);
    if (!this.#rawInput && this.#socket && this.#hostLines.bufferedBytes === 0) this.#rawInput = true;
  };

  readonly #onInputEnd = (): void => {
    // Tell muxd the host is done, so it answers what is in flight before closing.
    this.#hostEnded = true;
    this.#socket?.end(INPUT_ENDED_LINE);
  };

  /** Starts using a connection: replays the session on a reconnect, then sends what waited. */
  #attach(connection: Duplex, reconnecting: boolean): void {
    this.#socket = connection;
    if (reconnecting) {
      const replay = this.#state.replay();
      this.#replayIds = replay.ids;
      if (replay.lines) connection.write(replay.lines);
    }
    for (const buffer of this.#waiting) connection.write(buffer);
    this.#waiting = [];
    if (this.#hostLines.bufferedBytes === 0) this.#rawInput = true;
    if (this.#hostEnded) connection.end(INPUT_ENDED_LINE);
    connection.on('data', (chunk: Buffer) => {
      if (this.#replayIds.size > 0 || this.#replayLines.bufferedBytes > 0) {
        this.#replayLines.push(chunk);
      } else {
        this.#toHost(chunk);
        this.#scanner.push(chunk);
      }
    });
    connection.on('error', () => undefined);
    connection.once('close', () => {
      if (this.#socket !== connection) return;
      this.#socket = undefined;
      if (this.#hostEnded) {
        void this.#finish({ reason: 'host-ended' });
      } else if (this.#daemonLeaving) {
        this.#log('muxd shut down');
        void this.#finish({ reason: 'muxd-shutdown' });
      } else {
        void this.#reconnect();
      }
    });
  }

  /** muxd went away unexpectedly: fail what was in flight, then rebuild the session on a new muxd. */
  async #reconnect(): Promise<void> {
    const label = this.#connector.label;
    this.#rawInput = false;
    if (!this.#scanner.atLineStart) {
      // The half line ends here, for the host and for the scanner alike: the next connection's first answer is a line of its own.
      this.#toHost(NEWLINE);
      this.#scanner.push(NEWLINE);
    }
    for (const id of this.#state.takeInflight()) {
      const message = `muxd stopped while handling this request; it was not retried. muxd is restarting '${label}'`;
      this.#toHost(encodeMessage({ jsonrpc: '2.0', id, error: { code: ErrorCodes.ConnectionClosed, message } }) ?? '');
    }
    this.#log(`lost muxd; reconnecting to '${label}'`);
    const deadline = Date.now() + this.#reconnectMs;
    let delay = 100;
    while (Date.now() < deadline && !this.#finished) {
      let connection: Duplex;
      try {
        connection = await this.#connector.reconnect(Math.max(1000, deadline - Date.now()));
      } catch (error) {
        if (error instanceof FatalConnectError) return this.#finish({ reason: 'failed', message: error.message });
        await this.#pause(delay);
        delay = Math.min(delay * 2, 2000);
        continue;
      }
      if (this.#finished) {
        connection.destroy();
        return;
      }
      this.#attach(connection, true);
      this.#log(`reconnected to '${label}'`);
      return;
    }
    await this.#finish({ reason: 'failed', message: `could not reach muxd again within ${this.#reconnectMs / 1000} s; see muxctl daemon status` });
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#retryTimer = undefined;
        resolve();
      };
      this.#retryTimer = { timer: setTimeout(wake, ms), wake };
    });
  }

  /** Something for the host's output: counted until delivered, so that the end waits for it. */
  #toHost(chunk: Buffer | string): void {
    this.#unflushed++;
    this.#stdio.output.write(chunk, this.#flushedOne);
  }

  #log(message: string): void {
    this.#unflushed++;
    this.#stdio.error.write(`mux-proxy: ${message}\n`, this.#flushedOne);
  }

  /**
   * The one way a session ends: say why, stop reading and reconnecting, then
   * resolve the outcome once every write to the host has been delivered (a
   * pipe may still hold an error answer written just before).
   */
  async #finish(outcome: ProxyOutcome): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    if (outcome.reason === 'failed') this.#log(outcome.message);
    this.#stdio.input.off('data', this.#onInput);
    this.#stdio.input.off('end', this.#onInputEnd);
    this.#socket?.destroy();
    this.#socket = undefined;
    if (this.#retryTimer) {
      clearTimeout(this.#retryTimer.timer);
      this.#retryTimer.wake();
    }
    if (outcome.reason !== 'destroyed' && this.#unflushed > 0) {
      await new Promise<void>((resolve) => (this.#onFlushed = resolve));
    }
    this.#resolveOutcome(outcome);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
