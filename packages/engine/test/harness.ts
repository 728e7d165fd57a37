/**
 * In-memory peers for driving a `Mux` in unit tests: a client that records
 * everything muxd sends it, and a scripted upstream that records what muxd
 * sends the server and lets the test answer as the server would.
 */
import type { TestContext } from 'node:test';
import type {
  JsonObject,
  JsonRpcErrorObject,
  JsonRpcFailure,
  JsonRpcId,
  JsonRpcMessage,
  JsonRpcNotification,
  JsonRpcRequest,
  JsonRpcResponse,
  JsonRpcSuccess,
} from '@muxd/protocol';
import { Mux } from '../src/index.js';
import type { ClientHandle, Clock, MuxOptions, Peer, Timer, UpstreamHandle } from '../src/index.js';

/** What a peer is handed: one message or one batch. */
export type Sent = JsonRpcMessage | JsonRpcMessage[];

/** Lets promise callbacks inside the engine run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock a test moves by hand (`advance`), so that no engine test sleeps:
 * timers fire in order of their due time as time passes them.
 */
export class ManualClock implements Clock {
  #now = 0;
  #nextId = 0;
  readonly #timers = new Map<number, { due: number; ms: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  elapsed(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): Timer & { id: number } {
    const id = this.#nextId++;
    this.#timers.set(id, { due: this.#now + ms, ms, callback });
    return {
      id,
      refresh: () => {
        const timer = this.#timers.get(id);
        if (timer) timer.due = this.#now + timer.ms;
      },
    };
  }

  clearTimeout(timer: Timer): void {
    this.#timers.delete((timer as Timer & { id: number }).id);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      let next: [number, { due: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].due <= until && (!next || entry[1].due < next[1].due)) next = entry;
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].due;
      next[1].callback();
    }
    this.#now = until;
  }
}

export function isRequestMessage(message: JsonRpcMessage): message is JsonRpcRequest {
  return 'method' in message && 'id' in message;
}

export function isNotificationMessage(message: JsonRpcMessage): message is JsonRpcNotification {
  return 'method' in message && !('id' in message);
}

export function isResponseMessage(message: JsonRpcMessage): message is JsonRpcResponse {
  return !('method' in message);
}

/** The result of a success response; fails the test on an error response. */
export function resultOf(response: JsonRpcResponse | undefined): JsonObject {
  if (!response) throw new Error('no response');
  if ('error' in response) throw new Error(`expected a result, got error ${JSON.stringify(response.error)}`);
  return (response as JsonRpcSuccess).result;
}

/** The error of an error response; fails the test on a success response. */
export function errorOf(response: JsonRpcResponse | undefined): JsonRpcFailure['error'] {
  if (!response) throw new Error('no response');
  if (!('error' in response)) throw new Error(`expected an error, got result ${JSON.stringify(response.result)}`);
  return response.error;
}

/** Server initialize result used unless a test gives its own. */
export const INIT_RESULT: JsonObject = {
  protocolVersion: '2025-06-18',
  capabilities: {
    tools: { listChanged: true },
    prompts: { listChanged: true },
    resources: { subscribe: true, listChanged: true },
    logging: {},
  },
  serverInfo: { name: 'fake-server', version: '1.0.0' },
  instructions: 'Use the tools.',
};

export const CLIENT_INFO: JsonObject = { name: 'test-client', version: '0.0.1' };

function messagesOf(sent: Sent[]): JsonRpcMessage[] {
  return sent.filter((entry): entry is JsonRpcMessage => !Array.isArray(entry));
}

/** Something that tracks its own message list and can be queried by shape. */
abstract class Recorder {
  abstract get received(): Sent[];

  /** Single messages (batches excluded). */
  get messages(): JsonRpcMessage[] {
    return messagesOf(this.received);
  }

  /** Requests received, optionally only those of `method`. */
  requests(method?: string): JsonRpcRequest[] {
    return this.messages.filter(isRequestMessage).filter((message) => method === undefined || message.method === method);
  }

  notifications(method?: string): JsonRpcNotification[] {
    return this.messages.filter(isNotificationMessage).filter((message) => method === undefined || message.method === method);
  }

  responses(): JsonRpcResponse[] {
    return this.messages.filter(isResponseMessage);
  }

  /** Responses whose id is exactly `id`, JSON type included (1 is not "1"). */
  responsesTo(id: JsonRpcId | null): JsonRpcResponse[] {
    return this.responses().filter((response) => response.id === id);
  }

  /** The one response to `id`; fails when there is none or more than one. */
  responseTo(id: JsonRpcId | null): JsonRpcResponse {
    const found = this.responsesTo(id);
    if (found.length !== 1) {
      throw new Error(`expected exactly one response to ${JSON.stringify(id)}, got ${found.length}: ${JSON.stringify(this.received)}`);
    }
    return found[0]!;
  }

  /** The one request of `method`; fails when there is none or more than one. */
  request(method: string): JsonRpcRequest {
    const found = this.requests(method);
    if (found.length !== 1) throw new Error(`expected exactly one '${method}' request, got ${found.length}`);
    return found[0]!;
  }
}

/** A downstream client: records what muxd sends it, sends what the test says. */
export class FakeClient extends Recorder implements Peer {
  /** Sends and the close, in the order they happened. */
  readonly events: Array<{ type: 'send'; message: Sent } | { type: 'close'; reason: string }> = [];
  closedReason: string | undefined;
  readonly handle: ClientHandle;

  constructor(mux: Mux) {
    super();
    this.handle = mux.connectClient(this);
  }

  // Peer (muxd's side)
  send(message: Sent): void {
    this.events.push({ type: 'send', message: structuredClone(message) });
  }

  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.events.push({ type: 'close', reason });
  }

  override get received(): Sent[] {
    const out: Sent[] = [];
    for (const event of this.events) if (event.type === 'send') out.push(event.message);
    return out;
  }

  /** Batches (arrays) received. */
  get batches(): JsonRpcMessage[][] {
    return this.received.filter((entry): entry is JsonRpcMessage[] => Array.isArray(entry));
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Forgets what was received so far. */
  clear(): void {
    this.events.length = 0;
  }

  // The client's side
  raw(value: unknown): void {
    this.handle.receive(value);
  }

  call(id: JsonRpcId, method: string, params?: JsonObject): void {
    const message: JsonRpcRequest = { jsonrpc: '2.0', id, method };
    if (params !== undefined) message.params = params;
    this.handle.receive(message);
  }

  notify(method: string, params?: JsonObject): void {
    const message: JsonRpcNotification = { jsonrpc: '2.0', method };
    if (params !== undefined) message.params = params;
    this.handle.receive(message);
  }

  respond(id: JsonRpcId, result: JsonObject): void {
    this.handle.receive({ jsonrpc: '2.0', id, result });
  }

  respondError(id: JsonRpcId, code: number, message: string): void {
    this.handle.receive({ jsonrpc: '2.0', id, error: { code, message } });
  }

  initialize(id: JsonRpcId = 0, capabilities: JsonObject = {}, clientInfo: JsonObject = CLIENT_INFO): void {
    this.call(id, 'initialize', { protocolVersion: '2025-06-18', capabilities, clientInfo });
  }
}

/** The child server: records what muxd sends upstream, answers as scripted by the test. */
export class FakeUpstream extends Recorder implements Peer {
  readonly sent: Sent[] = [];
  closedReason: string | undefined;
  readonly handle: UpstreamHandle;
  readonly #answered = new Set<JsonRpcId>();

  constructor(mux: Mux) {
    super();
    this.handle = mux.attachUpstream(this);
  }

  /** While set, every send is refused with this error (a child whose stdin is full). */
  refusing: JsonRpcErrorObject | undefined;

  // Peer (muxd's side)
  send(message: Sent): JsonRpcErrorObject | void {
    if (this.refusing) return this.refusing;
    this.sent.push(structuredClone(message));
  }

  close(reason: string): void {
    this.closedReason ??= reason;
  }

  override get received(): Sent[] {
    return this.sent;
  }

  /** Requests not answered by this fake yet. */
  unanswered(method?: string): JsonRpcRequest[] {
    return this.requests(method).filter((request) => !this.#answered.has(request.id));
  }

  /** The method names of everything muxd sent, in order (responses show as `response`). */
  methods(): string[] {
    return this.sent.map((entry) => (Array.isArray(entry) ? 'batch' : 'method' in entry ? entry.method : 'response'));
  }

  // The server's side
  respond(request: JsonRpcRequest | JsonRpcId, result: JsonObject = {}): void {
    const id = typeof request === 'object' ? request.id : request;
    this.#answered.add(id);
    this.handle.receive({ jsonrpc: '2.0', id, result });
  }

  fail(request: JsonRpcRequest | JsonRpcId, code: number, message: string): void {
    const id = typeof request === 'object' ? request.id : request;
    this.#answered.add(id);
    this.handle.receive({ jsonrpc: '2.0', id, error: { code, message } });
  }

  /** Answers the one unanswered initialize. */
  completeInitialize(result: JsonObject = INIT_RESULT): void {
    const pending = this.unanswered('initialize');
    if (pending.length !== 1) throw new Error(`expected one unanswered initialize, got ${pending.length}`);
    this.respond(pending[0]!, result);
  }

  /** Answers every unanswered request of `method` with `result`. */
  respondAll(method: string, result: JsonObject = {}): void {
    for (const request of this.unanswered(method)) this.respond(request, result);
  }

  notify(method: string, params?: JsonObject): void {
    const message: JsonRpcNotification = { jsonrpc: '2.0', method };
    if (params !== undefined) message.params = params;
    this.handle.receive(message);
  }

  /** A server->client request (sampling, elicitation, roots, ping). */
  ask(id: JsonRpcId, method: string, params?: JsonObject): void {
    const message: JsonRpcRequest = { jsonrpc: '2.0', id, method };
    if (params !== undefined) message.params = params;
    this.handle.receive(message);
  }
}

export interface Harness {
  mux: Mux;
  /** The child currently attached. */
  upstream: FakeUpstream;
  /** Connects a client without initializing it. */
  connect(): FakeClient;
  /** Connects a client and completes its initialize (answering the upstream handshake if needed). */
  ready(capabilities?: JsonObject): Promise<FakeClient>;
  /** The child exits (`closed`) and a new one is attached. Returns the new child. */
  restart(reason?: string): FakeUpstream;
}

/**
 * A Mux with a fake child attached. Everything is released when the test
 * ends: clients disconnected (dropping their timers), the child closed.
 */
export function createHarness(t: TestContext, options: Partial<MuxOptions> = {}): Harness {
  const mux = new Mux({ service: 'test', ...options });
  const clients: FakeClient[] = [];
  const harness: Harness = {
    mux,
    upstream: new FakeUpstream(mux),
    connect() {
      const client = new FakeClient(mux);
      clients.push(client);
      return client;
    },
    async ready(capabilities = {}) {
      const client = harness.connect();
      client.initialize(0, capabilities);
      if (harness.upstream.unanswered('initialize').length > 0) harness.upstream.completeInitialize();
      await tick();
      resultOf(client.responseTo(0));
      client.clear();
      return client;
    },
    restart(reason = 'child exited') {
      harness.upstream.handle.closed(reason);
      harness.upstream = new FakeUpstream(mux);
      return harness.upstream;
    },
  };
  t.after(() => {
    mux.closeAllClients('test finished');
    for (const client of clients) client.handle.disconnect('test finished');
    harness.upstream.handle.closed('test finished');
  });
  return harness;
}
