import { ErrorCodes, LATEST_PROTOCOL_VERSION, errorResponse, isJsonObject, negotiateVersion, successResponse } from '@muxd/protocol';
import type { JsonObject, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from '@muxd/protocol';
import { ClientPhase } from './clientSession.js';
import type { ClientSession } from './clientSession.js';
import type { MuxContext } from './muxContext.js';
import type { RootsUnion } from './rootsUnion.js';
import { initializeResultFor } from './versionAdapter.js';

/** Where the one upstream session stands. */
export const UpstreamState = {
  /** No child attached (not started, restarting, or stopped). */
  Down: 'down',
  /** Child attached; the handshake waits for a first client's initialize. */
  Connected: 'connected',
  Initializing: 'initializing',
  Ready: 'ready',
  /** The handshake failed: this child can't be used; the supervisor replaces it. */
  Failed: 'failed',
} as const;
export type UpstreamState = (typeof UpstreamState)[keyof typeof UpstreamState];

/** What muxd declares upstream: everything it can route to some client. */
const UPSTREAM_CAPABILITIES: JsonObject = {
  roots: { listChanged: true },
  sampling: {},
  elicitation: {},
};

/** Longest `clientInfo` string muxd passes on to the server. */
const CLIENT_INFO_CHARS = 256;

export interface HandshakeHooks {
  /** The child answered initialize: what waited may go, and what it lost is restored. */
  onReady(): void;
  /** After a restart the server answered differently (capabilities, info, instructions): clients are told its lists changed. */
  onServerChanged(notifications: JsonRpcNotification[]): void;
  /** The child failed its handshake and cannot be used. */
  onFailure(reason: string): void;
}

/**
 * One `initialize` per child, shared by every client: the first client's
 * initialize starts it, concurrent ones wait for it, later ones are
 * answered from the cached result, each in its own protocol version; after
 * a restart the same handshake is replayed. A child that ends or fails
 * before it is ready fails the clients waiting for it at once.
 */
export class Handshake {
  readonly #ctx: MuxContext;
  readonly #roots: RootsUnion;
  readonly #hooks: HandshakeHooks;
  readonly #timeoutMs: number;
  #state: UpstreamState = UpstreamState.Down;
  /** What muxd sends upstream, built from the first client's initialize and replayed after restarts. */
  #params: JsonObject | undefined;
  #result: JsonObject | undefined;
  /** Why the last child never became ready; cleared by a handshake that succeeds. */
  #startFailure: string | undefined;
  /** Counts handshakes, so that the end of one replaced by a new child's is ignored. */
  #attempt = 0;

  constructor(ctx: MuxContext, roots: RootsUnion, timeoutMs: number, hooks: HandshakeHooks) {
    this.#ctx = ctx;
    this.#roots = roots;
    this.#timeoutMs = timeoutMs;
    this.#hooks = hooks;
  }

  get state(): UpstreamState {
    return this.#state;
  }

  /** The cached initialize result, once a handshake has succeeded. */
  get result(): JsonObject | undefined {
    return this.#result;
  }

  /** A client's initialize. `unavailable` says why the service cannot serve, if it cannot. */
  clientInitialize(client: ClientSession, request: JsonRpcRequest, unavailable: string | undefined): void {
    if (client.phase !== ClientPhase.New) {
      this.#ctx.reply(client, errorResponse(request.id, ErrorCodes.InvalidRequest, 'initialize was already sent on this connection'));
      return;
    }
    if (unavailable !== undefined) {
      this.#ctx.reply(client, errorResponse(request.id, ErrorCodes.ServiceUnavailable, unavailable));
      return;
    }
    const params = request.params ?? {};
    const handshake = upstreamInitializeParams(params);
    if (typeof handshake === 'string') {
      this.#ctx.reply(client, errorResponse(request.id, ErrorCodes.InvalidParams, handshake));
      return;
    }
    const capabilities = params['capabilities'];
    client.capabilities = isJsonObject(capabilities) ? capabilities : {};
    const clientInfo = params['clientInfo'];
    if (isJsonObject(clientInfo)) client.clientInfo = clientInfo;
    client.initializeId = request.id;
    // upstreamInitializeParams checked it is a date string.
    client.requestedVersion = params['protocolVersion'] as string;
    client.phase = ClientPhase.Initializing;
    if (this.#state === UpstreamState.Ready && this.#result) {
      this.#complete(client);
      return;
    }
    if (this.#state === UpstreamState.Failed || (this.#state === UpstreamState.Down && this.#startFailure !== undefined)) {
      // The last child never became ready and the next has not started: say why now, not after the backoff.
      const why = this.#startFailure ?? `Service '${this.#ctx.service}' failed its initialize handshake`;
      this.#fail(client, errorResponse(request.id, ErrorCodes.UpstreamInitializeFailed, `${why}; muxd is restarting it`));
      return;
    }
    this.#params ??= handshake;
    this.#start();
  }

  /** A new child is attached: its handshake starts as soon as some client has asked for one. */
  attached(): void {
    this.#state = UpstreamState.Connected;
    this.#start();
  }

  /**
   * The child is gone. When it ended on its own (or muxd had to replace it)
   * before it was ready, the clients waiting for it learn why at once.
   */
  upstreamGone(reason: string, failed: boolean, stderrTail: string | undefined): void {
    const neverReady = failed && this.#state !== UpstreamState.Ready;
    this.#state = UpstreamState.Down;
    if (!neverReady) return;
    this.#startFailure = `Service '${this.#ctx.service}' ended before it answered initialize (${reason})${stderrTail ? `; its stderr ended with: ${stderrTail}` : ''}`;
    this.failWaiting(ErrorCodes.UpstreamInitializeFailed, this.#startFailure);
  }

  /** Fails every client waiting for the handshake. */
  failWaiting(code: number, reason: string): void {
    for (const client of this.#ctx.clients.values()) {
      if (client.phase === ClientPhase.Initializing && client.initializeId !== undefined) this.#fail(client, errorResponse(client.initializeId, code, reason));
    }
  }

  #start(): void {
    if (this.#state !== UpstreamState.Connected || !this.#params) return;
    this.#state = UpstreamState.Initializing;
    const attempt = ++this.#attempt;
    const previous = this.#result;
    this.#ctx.request('initialize', this.#params, { timeoutMs: this.#timeoutMs }).then(
      (result) => {
        if (attempt !== this.#attempt || this.#state !== UpstreamState.Initializing) return;
        this.#state = UpstreamState.Ready;
        this.#result = result;
        this.#startFailure = undefined;
        this.#ctx.sendUpstream({ jsonrpc: '2.0', method: 'notifications/initialized' });
        this.#ctx.log.info({ server: result['serverInfo'], protocolVersion: result['protocolVersion'] }, 'upstream initialized');
        this.#hooks.onReady();
        for (const client of this.#ctx.clients.values()) if (client.phase === ClientPhase.Initializing) this.#complete(client);
        if (previous && !sameServer(previous, result)) this.#hooks.onServerChanged(listChanges(result));
      },
      (error: unknown) => {
        // A replaced child's handshake fails as it goes; that says nothing about the new child's.
        if (attempt !== this.#attempt || this.#state !== UpstreamState.Initializing) return;
        const message = (error as { message?: unknown })?.message ?? String(error);
        const reason = `Service '${this.#ctx.service}' failed its initialize handshake: ${String(message)}`;
        this.#ctx.log.error({ err: message }, 'upstream initialize failed');
        this.#state = UpstreamState.Failed;
        this.#startFailure = reason;
        this.failWaiting(ErrorCodes.UpstreamInitializeFailed, reason);
        this.#hooks.onFailure(reason);
      },
    );
  }

  /** Answers a client's initialize from the cached result, in the version it negotiates. */
  #complete(client: ClientSession): void {
    const id = client.initializeId;
    if (id === undefined || !this.#result) return;
    client.initializeId = undefined;
    client.phase = ClientPhase.Ready;
    const serverVersion = String(this.#result['protocolVersion'] ?? LATEST_PROTOCOL_VERSION);
    const version = negotiateVersion(client.requestedVersion ?? serverVersion, serverVersion);
    this.#ctx.reply(client, successResponse(id, initializeResultFor(this.#result, version)));
    client.protocolVersion = version;
    this.#roots.clientReady(client);
    this.#ctx.closeIfDrained(client);
  }

  #fail(client: ClientSession, response: JsonRpcResponse): void {
    client.initializeId = undefined;
    client.phase = ClientPhase.New;
    this.#ctx.reply(client, response);
    this.#ctx.closeIfDrained(client);
  }
}

/**
 * The initialize muxd sends upstream, and replays after every restart,
 * built from the fields of a client's initialize that it checked: never the
 * client's params as they came. Returns why the params are unusable instead.
 */
export function upstreamInitializeParams(params: JsonObject): JsonObject | string {
  const version = params['protocolVersion'];
  if (typeof version !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(version)) {
    return `initialize needs params.protocolVersion as a date string such as "2025-06-18", got ${typeof version === 'string' ? JSON.stringify(version.slice(0, 40)) : typeof version}`;
  }
  const info = isJsonObject(params['clientInfo']) ? params['clientInfo'] : {};
  const clientInfo: JsonObject = {};
  for (const key of ['name', 'version', 'title']) {
    const value = info[key];
    if (typeof value === 'string') clientInfo[key] = value.slice(0, CLIENT_INFO_CHARS);
  }
  clientInfo['name'] ??= 'muxd';
  clientInfo['version'] ??= '0';
  // The server speaks the newest version muxd knows; each client gets its own (versionAdapter.ts).
  return { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: UPSTREAM_CAPABILITIES, clientInfo };
}

function sameServer(a: JsonObject, b: JsonObject): boolean {
  return (
    JSON.stringify([a['capabilities'], a['serverInfo'], a['instructions']]) ===
    JSON.stringify([b['capabilities'], b['serverInfo'], b['instructions']])
  );
}

const LIST_CHANGED = [
  ['tools', 'notifications/tools/list_changed'],
  ['prompts', 'notifications/prompts/list_changed'],
  ['resources', 'notifications/resources/list_changed'],
] as const;

/** The list_changed notices for every list a server's capabilities say it has. */
function listChanges(result: JsonObject): JsonRpcNotification[] {
  const capabilities = isJsonObject(result['capabilities']) ? result['capabilities'] : {};
  return LIST_CHANGED.filter(([capability]) => capabilities[capability] !== undefined).map(([, method]) => ({ jsonrpc: '2.0', method }));
}
