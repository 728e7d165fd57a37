import type { ServerResponse } from 'node:http';
import { ErrorCodes, MessageKind, classifyMessage, describeId, encodeMessage, errorResponse, isJsonObject } from '@muxd/protocol';
import type { JsonRpcId, JsonRpcMessage, JsonRpcRequest, JsonRpcResponse } from '@muxd/protocol';
import type { ClientHandle, Peer } from '@muxd/engine';
import type { Logger } from '../logs.js';
import { EventLog } from './eventLog.js';
import type { LoggedEvent } from './eventLog.js';
import { SseStream } from './sseStream.js';

/** Clients of this version or later expect priming events (an id with empty data) and `retry` (SEP-1699). */
const PRIMING_VERSION = '2025-11-25';
/** Milliseconds a client should wait before reconnecting a stream muxd closed. */
const RETRY_MS = 1000;
const KEEP_ALIVE_MS = 15_000;
/** Events kept per session for resumption and for a GET stream not open yet. */
const MAX_LOGGED_EVENTS = 1024;
const GET_STREAM = 'g';
/**
 * How long a POST's answer may take and still go back as plain JSON. An
 * answer within it, with nothing else for its request, is one JSON body
 * (no SSE framing, no priming event); past it, or as soon as a progress
 * notice, a server request or a log line must go through, the POST turns
 * into an SSE stream, resumable with Last-Event-ID.
 */
const JSON_WINDOW_MS = 100;

/** One POST that carried requests: its answers go back on its own stream (or, for initialize, as JSON). */
interface Exchange {
  /** Its stream's name in event ids. */
  readonly key: string;
  /** Requests not answered yet: key -> the client's id. */
  readonly waiting: Map<string, JsonRpcId>;
  /** Progress tokens of its requests, by key. */
  readonly tokens: string[];
  /** JSON mode: the answers gathered, and the response they go in; undefined once it is a stream. */
  json: { responses: JsonRpcResponse[]; res: ServerResponse } | undefined;
  /** A POST that may still turn into a stream (initialize never does). */
  readonly upgradable: boolean;
  /** Ends the JSON window. */
  jsonTimer: ReturnType<typeof setTimeout> | undefined;
  /** The open connection; undefined once it dropped (the client may resume it with a GET). */
  stream: SseStream | undefined;
  done: boolean;
}

export interface HttpSessionOptions {
  /** The `Mcp-Session-Id`. */
  id: string;
  service: string;
  /** Joins the service's engine as one more client; undefined when the service refuses. */
  connect: (peer: Peer) => ClientHandle | undefined;
  /** Bytes queued toward a client, per stream and for what it has not read yet. */
  maxBufferBytes: number;
  log: Logger;
  /** Called once when the session ends (DELETE, engine close, a failed initialize). */
  onEnd: (session: HttpSession) => void;
}

/**
 * One Streamable HTTP session: one client of the service's `Mux`, like a
 * socket connection. Its answers go back on the POST that carried the
 * request; progress goes to the stream of the request that asked for it;
 * server requests and log messages prefer the newest open POST stream, other
 * notifications the GET stream, and wait in a bounded log when neither is
 * open. Every stream can be resumed with `Last-Event-ID`.
 */
export class HttpSession {
  readonly id: string;
  readonly service: string;
  readonly #options: HttpSessionOptions;
  #handle!: ClientHandle;
  #ended = false;
  /** The protocol version the client asked for in its initialize. */
  #clientVersion = '';
  /** Marked idle by the front's sweep; any request or stream makes it active again. */
  #idle = false;
  #get: SseStream | undefined;
  /** Sequence number of the last GET-stream event written to an open GET stream. */
  #getDelivered = 0;
  readonly #exchanges = new Map<string, Exchange>();
  readonly #byRequest = new Map<string, Exchange>();
  readonly #byToken = new Map<string, Exchange>();
  #nextExchange = 1;
  /** The exchange whose messages are being handed to the engine (for answers without an id). */
  #current: Exchange | undefined;
  readonly #events: EventLog;
  #lastActive = Date.now();

  private constructor(options: HttpSessionOptions) {
    this.id = options.id;
    this.service = options.service;
    this.#options = options;
    this.#events = new EventLog({ maxEvents: MAX_LOGGED_EVENTS, maxBytes: options.maxBufferBytes, onEvict: (event) => this.#evicted(event) });
  }

  /** Connects a new session to its service; undefined when the service refuses another client. */
  static open(options: HttpSessionOptions): HttpSession | undefined {
    const session = new HttpSession(options);
    const peer: Peer = {
      send: (message) => {
        for (const member of Array.isArray(message) ? message : [message]) session.#route(member);
      },
      close: (reason) => session.#end(reason),
    };
    const handle = options.connect(peer);
    if (!handle) return undefined;
    session.#handle = handle;
    return session;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** When the session last did anything, or undefined while a stream is open or a request in flight. */
  get idleSince(): number | undefined {
    if (this.#get && !this.#get.closed) return undefined;
    for (const exchange of this.#exchanges.values()) if (!exchange.done || exchange.stream) return undefined;
    return this.#lastActive;
  }

  /** Handles the POST that created the session: its answer goes back as JSON, with the session id when it succeeded. */
  initialize(request: JsonRpcRequest, res: ServerResponse, bytes = 0): void {
    const version = request.params?.['protocolVersion'];
    this.#clientVersion = typeof version === 'string' ? version : '';
    const exchange = this.#register([request], { responses: [], res });
    res.once('close', () => {
      if (!exchange.done) this.terminate('the client left before its initialize was answered');
    });
    this.#deliver(exchange, [request], bytes);
  }

  /**
   * Handles a POST of an initialized session: notifications and responses
   * only get 202; requests get their answers as one JSON body when they come
   * at once with nothing else, or else on an SSE stream that ends after them.
   * A request id already in flight in this session is refused here, since
   * answers are routed by id.
   */
  post(messages: unknown[], res: ServerResponse, bytes = 0): void {
    this.#touch();
    const share = Math.ceil(bytes / messages.length);
    if (!messages.some((message) => classifyMessage(message) === MessageKind.Request)) {
      for (const message of messages) this.#handle.receive(message, share);
      res.writeHead(202).end();
      return;
    }
    const refused: JsonRpcResponse[] = [];
    const accepted: unknown[] = [];
    const seen = new Set<string>();
    for (const message of messages) {
      if (classifyMessage(message) === MessageKind.Request) {
        const { id } = message as JsonRpcRequest;
        const key = keyOf(id);
        if (this.#byRequest.has(key) || seen.has(key)) {
          refused.push(errorResponse(id, ErrorCodes.DuplicateRequestId, `Request id ${describeId(id)} is already in flight`));
          continue;
        }
        seen.add(key);
      }
      accepted.push(message);
    }
    // Plain JSON unless the answer takes long or something else must go through first (#toStream).
    const exchange = this.#register(accepted, { responses: refused, res }, true);
    exchange.jsonTimer = setTimeout(() => this.#toStream(exchange), JSON_WINDOW_MS);
    exchange.jsonTimer.unref();
    this.#deliver(exchange, accepted, share);
  }

  /**
   * Handles a GET: a new standalone stream (replacing an open one, and
   * carrying what waited for it), or, with `Last-Event-ID`, the rest of the
   * stream that id belongs to. False when the id names no stream of this
   * session.
   */
  openStream(res: ServerResponse, lastEventId: string | undefined): boolean {
    this.#touch();
    const from = lastEventId === undefined ? undefined : EventLog.parseId(lastEventId);
    if (lastEventId !== undefined && !from) return false;
    if (!from || from.stream === GET_STREAM) {
      this.#get?.end();
      const stream = this.#openStream(res, (closed) => {
        if (this.#get === closed) this.#get = undefined;
      });
      this.#get = stream;
      if (!from && this.#primes) stream.send(this.#events.mark(GET_STREAM).id, '', RETRY_MS);
      for (const event of this.#events.after(GET_STREAM, from ? from.seq : this.#getDelivered)) {
        stream.send(`${GET_STREAM}_${event.seq}`, event.data);
        this.#getDelivered = Math.max(this.#getDelivered, event.seq);
      }
      return true;
    }
    const exchange = this.#exchanges.get(from.stream);
    if (!exchange || exchange.json) return false;
    exchange.stream?.end();
    const stream = this.#openStream(res, (closed) => {
      if (exchange.stream === closed) exchange.stream = undefined;
    });
    for (const event of this.#events.after(exchange.key, from.seq)) stream.send(`${exchange.key}_${event.seq}`, event.data);
    if (exchange.done) {
      stream.end();
      this.#forget(exchange);
    } else {
      exchange.stream = stream;
    }
    return true;
  }

  /** Ends the session from the HTTP side (DELETE, idle, failed initialize): the engine releases everything it owned. */
  terminate(reason: string): void {
    if (this.#ended) return;
    this.#handle.disconnect(reason);
    this.#end(reason);
  }

  get #primes(): boolean {
    return this.#clientVersion >= PRIMING_VERSION;
  }

  #touch(): void {
    this.#lastActive = Date.now();
    if (this.#idle) {
      this.#idle = false;
      this.#handle.setIdle(false);
    }
  }

  /** Counts the session as idle (its host left it without ending it) until it does something again. */
  markIdle(): void {
    if (this.#idle || this.#ended) return;
    this.#idle = true;
    this.#handle.setIdle(true);
  }

  #register(messages: unknown[], json: Exchange['json'], upgradable = false): Exchange {
    const exchange: Exchange = { key: `p${this.#nextExchange++}`, waiting: new Map(), tokens: [], json, upgradable, jsonTimer: undefined, stream: undefined, done: false };
    for (const message of messages) {
      if (classifyMessage(message) !== MessageKind.Request) continue;
      const request = message as JsonRpcRequest;
      const key = keyOf(request.id);
      exchange.waiting.set(key, request.id);
      this.#byRequest.set(key, exchange);
      const meta = request.params?.['_meta'];
      const token = isJsonObject(meta) ? meta['progressToken'] : undefined;
      if (typeof token === 'string' || typeof token === 'number') {
        exchange.tokens.push(keyOf(token));
        this.#byToken.set(keyOf(token), exchange);
      }
    }
    this.#exchanges.set(exchange.key, exchange);
    return exchange;
  }

  /** Hands messages to the engine; it may answer some before this returns. */
  #deliver(exchange: Exchange, messages: unknown[], bytesEach: number): void {
    this.#current = exchange;
    try {
      for (const message of messages) {
        if (this.#ended) break;
        this.#handle.receive(message, bytesEach);
      }
    } finally {
      this.#current = undefined;
    }
    if (exchange.waiting.size === 0 && !exchange.done) this.#complete(exchange);
  }

  #openStream(res: ServerResponse, onClose: (stream: SseStream) => void): SseStream {
    return new SseStream(res, {
      maxBufferBytes: this.#options.maxBufferBytes,
      keepAliveMs: KEEP_ALIVE_MS,
      headers: { 'Mcp-Session-Id': this.id },
      onClose: (stream) => {
        this.#touch();
        onClose(stream);
      },
    });
  }

  /** Where the engine's messages for this client go. */
  #route(message: JsonRpcMessage): void {
    if (this.#ended) return;
    const data = serialize(message);
    if (data === '') {
      this.#options.log.error({ session: this.id }, 'a message for the HTTP client could not be serialized: dropped');
      return;
    }
    const kind = classifyMessage(message);
    if (kind === MessageKind.Response) {
      const { id } = message as JsonRpcResponse;
      const exchange = id === null ? this.#current : this.#byRequest.get(keyOf(id));
      if (exchange) {
        this.#answer(exchange, message as JsonRpcResponse, data);
        return;
      }
      this.#toGetStream(data);
      return;
    }
    const method = (message as { method: string }).method;
    if (method === 'notifications/progress') {
      const token = (message as { params?: Record<string, unknown> }).params?.['progressToken'];
      const exchange = typeof token === 'string' || typeof token === 'number' ? this.#byToken.get(keyOf(token)) : undefined;
      if (exchange && !exchange.done && (!exchange.json || exchange.upgradable)) {
        this.#write(exchange, data);
        return;
      }
    }
    // A server request or a log line most likely belongs to the client's newest request.
    const post = this.#newestOpenExchange();
    if (post && (kind === MessageKind.Request || method === 'notifications/message' || !this.#get)) {
      this.#write(post, data);
      return;
    }
    this.#toGetStream(data);
  }

  #answer(exchange: Exchange, response: JsonRpcResponse, data: string): void {
    const key = response.id === null ? undefined : keyOf(response.id);
    if (exchange.json) exchange.json.responses.push(response);
    else this.#write(exchange, data);
    if (key !== undefined && exchange.waiting.delete(key)) this.#byRequest.delete(key);
    if (exchange.waiting.size === 0 && this.#current !== exchange) this.#complete(exchange);
  }

  /** All of an exchange's requests are answered: end its stream (or send its JSON). */
  #complete(exchange: Exchange): void {
    exchange.done = true;
    // Idle time counts from the end of the last exchange, not its start.
    this.#touch();
    if (exchange.jsonTimer) clearTimeout(exchange.jsonTimer);
    for (const token of exchange.tokens) if (this.#byToken.get(token) === exchange) this.#byToken.delete(token);
    if (exchange.json && exchange.upgradable) {
      this.#exchanges.delete(exchange.key);
      const { responses, res } = exchange.json;
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Mcp-Session-Id': this.id }).end(serialize(responses.length === 1 ? responses[0] : responses));
      }
      return;
    }
    if (exchange.json) {
      this.#exchanges.delete(exchange.key);
      const { responses, res } = exchange.json;
      const first = responses[0];
      const succeeded = first !== undefined && !('error' in first);
      if (!res.headersSent && !res.destroyed) {
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        if (succeeded) headers['Mcp-Session-Id'] = this.id;
        res.writeHead(200, headers).end(serialize(responses.length === 1 ? first : responses));
      }
      if (!succeeded) this.terminate('initialize failed');
      return;
    }
    if (exchange.stream) {
      exchange.stream.end();
      this.#forget(exchange);
    }
    // Otherwise its connection dropped: the answers wait in the log for a GET with Last-Event-ID.
  }

  #forget(exchange: Exchange): void {
    this.#exchanges.delete(exchange.key);
    this.#events.drop(exchange.key);
  }

  /** A POST still in JSON mode becomes an SSE stream: what it gathered goes first, in order. */
  #toStream(exchange: Exchange): void {
    if (!exchange.json || !exchange.upgradable || exchange.done) return;
    if (exchange.jsonTimer) clearTimeout(exchange.jsonTimer);
    const { res, responses } = exchange.json;
    exchange.json = undefined;
    // A client that already left can resume what it is owed with Last-Event-ID, as from any dropped stream.
    if (!res.destroyed) {
      exchange.stream = this.#openStream(res, (stream) => {
        if (exchange.stream === stream) exchange.stream = undefined;
      });
      if (this.#primes) exchange.stream.send(this.#events.mark(exchange.key).id, '', RETRY_MS);
    }
    for (const response of responses) this.#write(exchange, serialize(response));
  }

  #write(exchange: Exchange, data: string): void {
    if (exchange.json && exchange.upgradable) this.#toStream(exchange);
    const { id } = this.#events.append(exchange.key, data);
    exchange.stream?.send(id, data);
  }

  #toGetStream(data: string): void {
    const { id, seq } = this.#events.append(GET_STREAM, data);
    if (this.#get && !this.#get.closed) {
      this.#get.send(id, data);
      this.#getDelivered = seq;
    }
  }

  #newestOpenExchange(): Exchange | undefined {
    let newest: Exchange | undefined;
    for (const exchange of this.#exchanges.values()) {
      if (exchange.done) continue;
      const open = exchange.stream ? !exchange.stream.closed : exchange.upgradable && exchange.json !== undefined && !exchange.json.res.destroyed;
      if (open) newest = exchange;
    }
    return newest;
  }

  #evicted(event: LoggedEvent): void {
    if (event.stream === GET_STREAM) {
      if (event.seq > this.#getDelivered) this.#options.log.warn({ session: this.id, service: this.service }, 'HTTP client has no open GET stream and too much waiting for it: oldest message dropped');
      return;
    }
    const exchange = this.#exchanges.get(event.stream);
    if (!exchange || exchange.stream) return;
    this.#options.log.warn({ session: this.id, service: this.service }, 'HTTP client did not resume a dropped stream in time: oldest message dropped');
    if (exchange.done && !this.#events.has(exchange.key)) this.#exchanges.delete(exchange.key);
  }

  /** Ends every stream; requests still waiting are answered with an error first. */
  #end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#options.log.debug({ session: this.id, service: this.service, reason }, 'HTTP session ended');
    for (const exchange of this.#exchanges.values()) {
      if (exchange.jsonTimer) clearTimeout(exchange.jsonTimer);
      if (exchange.json && exchange.upgradable) {
        const { res, responses } = exchange.json;
        const answers = [...responses, ...[...exchange.waiting.values()].map((id) => errorResponse(id, ErrorCodes.ConnectionClosed, `Session ended: ${reason}`))];
        if (!exchange.done && !res.headersSent && !res.destroyed) {
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(serialize(answers.length === 1 ? answers[0] : answers));
        }
        continue;
      }
      if (exchange.json) {
        const { res } = exchange.json;
        if (!exchange.done && !res.headersSent && !res.destroyed) {
          res.writeHead(503, { 'Content-Type': 'application/json' }).end(serialize(errorResponse(null, ErrorCodes.ConnectionClosed, `Session ended: ${reason}`)));
        }
        continue;
      }
      for (const id of exchange.waiting.values()) {
        exchange.stream?.send(undefined, serialize(errorResponse(id, ErrorCodes.ConnectionClosed, `Session ended: ${reason}`)));
      }
      exchange.stream?.end();
    }
    this.#get?.end();
    this.#exchanges.clear();
    this.#byRequest.clear();
    this.#byToken.clear();
    this.#options.onEnd(this);
  }
}

/** A map key for an id or token that keeps its JSON type (1 and "1" differ). */
function keyOf(id: JsonRpcId): string {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}

/** A message as the JSON of one SSE event or body; '' when it cannot be serialized. */
function serialize(message: unknown): string {
  return encodeMessage(message)?.slice(0, -1) ?? '';
}
