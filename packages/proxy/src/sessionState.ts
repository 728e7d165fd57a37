/**
 * What mux-proxy remembers of its host's MCP session, so that it can
 * reconnect to a restarted muxd without the host noticing: the initialize
 * request, live resource subscriptions, the logging level, and which
 * requests are waiting for an answer (those get an error if muxd dies, and
 * are never sent twice).
 */

import { sniffRequestId } from '@muxd/protocol/lineReader';
import { decodeMessage, encodeMessage } from '@muxd/protocol/messageCodec';
import { SHUTDOWN_METHOD } from '@muxd/protocol/wire';

type Id = string | number;

/** Ids of the requests the proxy itself sends when replaying a session. */
export const REPLAY_ID_PREFIX = 'mux-proxy:';

const key = (id: Id): string => (typeof id === 'number' ? `n${id}` : `s${id}`);

export class SessionState {
  /** The host's initialize request, as sent. */
  initialize: Record<string, unknown> | undefined;
  initialized = false;
  readonly #subscriptions = new Set<string>();
  #logLevel: string | undefined;
  /** Requests from the host not answered yet: key -> id. */
  readonly #inflight = new Map<string, Id>();

  /**
   * Looks at one line from the host (already known to be a complete line).
   * Most lines are requests and notifications the session state does not
   * depend on; for those the method and id are read from the line's ends
   * (sniffEnvelope) instead of parsing a message that may be megabytes of
   * file content. Anything else, or anything unclear, is parsed.
   */
  fromHost(line: Buffer): void {
    const envelope = sniffEnvelope(line);
    if (envelope && !REPLAYED_METHODS.has(envelope.method)) {
      if (envelope.method === 'notifications/initialized') this.initialized = true;
      if (envelope.id !== undefined) this.#inflight.set(key(envelope.id), envelope.id);
      return;
    }
    // muxd answers a line it cannot take (bad JSON, nested too deep); the session state skips it.
    const decoded = decodeMessage(line);
    if (!decoded.ok) return;
    const message = decoded.message;
    for (const member of Array.isArray(message) ? message : [message]) this.#note(member);
  }

  #note(message: unknown): void {
    if (typeof message !== 'object' || message === null) return;
    const { id, method, params } = message as { id?: unknown; method?: unknown; params?: Record<string, unknown> };
    if (typeof method !== 'string') return;
    if (method === 'notifications/initialized') this.initialized = true;
    if (typeof id !== 'string' && typeof id !== 'number') return;
    this.#inflight.set(key(id), id);
    if (method === 'initialize') this.initialize = message as Record<string, unknown>;
    else if (method === 'resources/subscribe' && typeof params?.['uri'] === 'string') this.#subscriptions.add(params['uri']);
    else if (method === 'resources/unsubscribe' && typeof params?.['uri'] === 'string') this.#subscriptions.delete(params['uri']);
    else if (method === 'logging/setLevel' && typeof params?.['level'] === 'string') this.#logLevel = params['level'];
  }

  /** muxd answered `id`. */
  answered(id: Id): void {
    this.#inflight.delete(key(id));
  }

  /** Forgets and returns every request still waiting. */
  takeInflight(): Id[] {
    const ids = [...this.#inflight.values()];
    this.#inflight.clear();
    return ids;
  }

  /**
   * The lines that rebuild this session on a new connection, each request
   * under a proxy-owned id whose answer the proxy drops.
   */
  replay(): { lines: string; ids: Set<string> } {
    const ids = new Set<string>();
    let lines = '';
    const request = (suffix: string, method: string, params: unknown) => {
      const id = `${REPLAY_ID_PREFIX}${suffix}`;
      ids.add(id);
      lines += encodeMessage({ jsonrpc: '2.0', id, method, params }) ?? '';
    };
    if (!this.initialize) return { lines, ids };
    request('initialize', 'initialize', this.initialize['params'] ?? {});
    if (this.initialized) lines += '{"jsonrpc":"2.0","method":"notifications/initialized"}\n';
    let n = 0;
    for (const uri of this.#subscriptions) request(`subscribe:${n++}`, 'resources/subscribe', { uri });
    if (this.#logLevel !== undefined) request('setLevel', 'logging/setLevel', { level: this.#logLevel });
    return { lines, ids };
  }
}

/** Methods whose requests the replay rebuilds: always parsed in full. */
const REPLAYED_METHODS = new Set(['initialize', 'resources/subscribe', 'resources/unsubscribe', 'logging/setLevel']);

/** How much of each end of a line the sniffer reads. */
const SNIFF_HEAD = 512;
const SNIFF_TAIL = 128;
/** A top-level `"method":"..."` member, before any nested value. */
const METHOD_MEMBER = /^\s*\{[^{}[\]]*?"method"\s*:\s*"((?:[^"\\]|\\.)*)"/;

/**
 * The method and id of a request or notification, read without parsing:
 * the method from the members before the first nested value, the id as
 * `sniffRequestId` finds it (leading, or closing the object as the MCP SDK
 * writes it). Undefined when unsure, for the caller to parse the line.
 */
export function sniffEnvelope(line: Buffer): { method: string; id: Id | undefined } | undefined {
  const head = line.subarray(0, SNIFF_HEAD);
  const headText = head.toString('utf8');
  const method = METHOD_MEMBER.exec(headText)?.[1];
  if (method === undefined || method.includes('\\')) return undefined;
  if (method.startsWith('notifications/')) {
    // A notification has no id; one that carries a top-level id anyway is parsed.
    return /"id"\s*:/.test(headText) || line.length > SNIFF_HEAD ? undefined : { method, id: undefined };
  }
  const id = sniffRequestId({ head, tail: line.subarray(Math.max(0, line.length - SNIFF_TAIL)) });
  return id === null ? undefined : { method, id };
}

export interface ScannerEvents {
  onResponse: (id: Id) => void;
  /** muxd announced a deliberate shutdown. */
  onShutdown: () => void;
}

/**
 * Reads muxd's output without parsing it: muxd writes every response as
 * `{"jsonrpc":"2.0","id":<id>,"result"|"error"...`, so the first bytes of
 * each line tell a response's id (and muxd's shutdown notice).
 */
export class ResponseScanner {
  #head = '';
  /** True once the current line's head has been judged. */
  #judged = false;
  readonly #events: ScannerEvents;

  constructor(events: ScannerEvents) {
    this.#events = events;
  }

  /** True when no line is partly seen: a safe point to change how output is handled. */
  get atLineStart(): boolean {
    return this.#head === '' && !this.#judged;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.#judged) {
        if (end > start) this.#head += chunk.toString('utf8', start, Math.min(end, start + HEAD_CHARS));
        // A line's newline may come alone at the start of the next chunk: judge its head then.
        if (this.#head.length >= HEAD_CHARS || (newline !== -1 && this.#head !== '')) this.#judge();
      }
      if (newline === -1) return;
      this.#head = '';
      this.#judged = false;
      start = newline + 1;
    }
  }

  #judge(): void {
    this.#judged = true;
    const id = responseId(this.#head);
    if (id !== undefined) this.#events.onResponse(id);
    else if (isShutdown(this.#head)) this.#events.onShutdown();
  }
}

/** Enough of a line to hold muxd's response envelope with any reasonable id. */
const HEAD_CHARS = 200;
const RESPONSE_HEAD = /^\{"jsonrpc":"2\.0","id":(-?\d+(?:\.\d+)?|"(?:[^"\\]|\\.)*"),"(?:result|error)"/;

const SHUTDOWN_HEAD = `{"jsonrpc":"2.0","method":"${SHUTDOWN_METHOD}"`;

/** True for muxd's notice that it is shutting down on purpose. */
export function isShutdown(head: string): boolean {
  return head.startsWith(SHUTDOWN_HEAD);
}

/** The id of a response line as muxd writes it, from its first bytes. */
export function responseId(head: string): Id | undefined {
  const match = RESPONSE_HEAD.exec(head);
  if (!match?.[1]) return undefined;
  try {
    const id: unknown = JSON.parse(match[1]);
    return typeof id === 'string' || typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}
