import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCodes, MessageKind, MuxError, MuxErrorCodes, PROTOCOL_VERSIONS, classifyMessage, decodeMessage, encodeMessage, errorResponse, failureResponses, isKnownProtocolVersion } from '@muxd/protocol';
import type { JsonRpcRequest } from '@muxd/protocol';
import type { ClientHandle, Peer } from '@muxd/engine';
import { formatBytes, isLoopbackHost } from '@muxd/config';
import type { HttpConfig, ServiceConfig } from '@muxd/config';
import type { Logger } from '../logs.js';
import { Dashboard } from './dashboard.js';
import { HostPolicy } from './hostPolicy.js';
import { HttpSession } from './httpSession.js';
import { bearerToken, tokensEqual } from './httpToken.js';

/** The path prefix of every service: `/mcp/<service>`. */
export const MCP_PATH_PREFIX = '/mcp/';

/** Where the Prometheus text is served (with the same token as the services). */
export const METRICS_PATH = '/metrics';

/** What `GET /metrics` serves: Prometheus text, read at each scrape. */
export interface MetricsEndpoint {
  readonly contentType: string;
  text(): Promise<string>;
}

/** How often idle sessions are looked for. */
const SWEEP_MS = 60_000;
/** A body this far over the limit is not read to its end: the connection is cut. */
const DISCARD_LIMIT_BYTES = 64 * 1024 ** 2;

/** What the HTTP front needs of a service. */
export interface HttpTarget {
  readonly name: string;
  readonly config: ServiceConfig;
  /** Joins the service as one more client; undefined when it refuses one. */
  connectClient(peer: Peer): ClientHandle | undefined;
}

export interface HttpServerOptions {
  config: HttpConfig;
  /** The bearer token every request must carry. */
  token: string;
  /** Finds a service by name; undefined when there is none (or it is not served over HTTP). */
  lookup: (name: string) => HttpTarget | undefined;
  log: Logger;
  /** Served at `GET /metrics`; the path is a 404 without it. */
  metrics?: MetricsEndpoint;
  /** The web dashboard, served at `/`, `/login` and `/dashboard/*` (same Host and Origin checks, its own login). */
  dashboard?: Dashboard;
}

/**
 * The Streamable HTTP front (MCP 2025-03-26 .. 2025-11-25): one listener,
 * `/mcp/<service>` per service, each session one client of the service's
 * engine. Every request must name a loopback `Host` (DNS rebinding), carry
 * no foreign `Origin`, and present the bearer token.
 */
export class HttpServer {
  readonly #server: Server;
  #options: HttpServerOptions;
  readonly #policy: HostPolicy;
  readonly #sessions = new Map<string, HttpSession>();
  #sweep: ReturnType<typeof setInterval>;

  private constructor(server: Server, options: HttpServerOptions, port: number) {
    this.#server = server;
    this.#options = options;
    this.#policy = new HostPolicy(options.config.host, port);
    this.#sweep = this.#startSweep();
  }

  #startSweep(): ReturnType<typeof setInterval> {
    const { sessionIdleTimeoutMs, sessionIdleAfterMs } = this.#options.config;
    const shortest = Math.min(...[sessionIdleTimeoutMs, sessionIdleAfterMs].filter((ms) => ms > 0), SWEEP_MS);
    const sweep = setInterval(() => this.#sweepSessions(), Math.max(250, Math.min(SWEEP_MS, shortest / 4)));
    sweep.unref();
    return sweep;
  }

  get config(): HttpConfig {
    return this.#options.config;
  }

  /** True when `config` listens where this front does: it can take the new limits without a new listener. */
  listensAs(config: HttpConfig): boolean {
    return config.host === this.#options.config.host && config.port === this.#options.config.port;
  }

  /** Applies new limits (body size, session idle timeout) to the running front; sessions carry on. */
  reconfigure(config: HttpConfig): void {
    if (!this.listensAs(config)) throw new Error('reconfigure: the listen address changed; open a new front instead');
    this.#options = { ...this.#options, config };
    clearInterval(this.#sweep);
    this.#sweep = this.#startSweep();
  }

  /**
   * Listens on `config.host:config.port`. Throws `MUX_HTTP_LISTEN_FAILED`
   * when the address is taken or cannot be bound.
   */
  static async listen(options: HttpServerOptions): Promise<HttpServer> {
    const { host, port } = options.config;
    let front: HttpServer | undefined;
    const server = createServer((req, res) => {
      front?.handle(req, res).catch((error: unknown) => {
        if (req.destroyed) options.log.debug({ err: (error as Error).message }, 'HTTP request aborted by the client');
        else options.log.error({ err: (error as Error).message }, 'HTTP request failed');
        if (!res.headersSent) reply(res, 500, ErrorCodes.InternalError, 'Internal error');
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: NodeJS.ErrnoException) => {
      throw new MuxError(MuxErrorCodes.HttpListenFailed, `cannot listen on ${host}:${port} for HTTP: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}`, { cause: error });
    });
    front = new HttpServer(server, options, (server.address() as AddressInfo).port);
    if (!isLoopbackHost(host)) options.log.warn({ host, port: front.port }, 'HTTP front listens on a non-loopback address (http.allowNonLoopback): anyone who can reach it can try the token');
    options.log.info({ url: front.url }, 'HTTP front listening');
    return front;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** The base URL: services are at `<url>/mcp/<service>`. */
  get url(): string {
    const { host } = this.#options.config;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Stops listening and ends every session and connection. Idempotent. */
  async close(): Promise<void> {
    clearInterval(this.#sweep);
    for (const session of [...this.#sessions.values()]) session.terminate('muxd is shutting down');
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /** Handles one request; exported for the listener only. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Host and Origin first: a page that reached the port through DNS rebinding learns nothing.
    if (!this.#policy.hostAllowed(req.headers.host)) {
      reply(res, 403, ErrorCodes.ConnectionClosed, 'Forbidden: the Host header must name this machine (localhost, 127.0.0.1 or [::1]) and port');
      return;
    }
    if (!this.#policy.originAllowed(req.headers.origin)) {
      reply(res, 403, ErrorCodes.ConnectionClosed, 'Forbidden: requests from other origins are refused');
      return;
    }
    const dashboard = this.#options.dashboard;
    const url = dashboard ? parseUrl(req.url ?? '/') : undefined;
    if (dashboard && url && Dashboard.owns(url.pathname)) {
      await dashboard.handle(req, res, url);
      return;
    }
    const token = bearerToken(req.headers.authorization);
    if (token === undefined || !tokensEqual(token, this.#options.token)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="muxd"');
      reply(res, 401, ErrorCodes.ConnectionClosed, 'Unauthorized: send Authorization: Bearer <token> (muxctl http token prints it)');
      return;
    }
    const metrics = this.#options.metrics;
    if (metrics && (req.url ?? '/').split('?')[0] === METRICS_PATH) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        reply(res, 405, ErrorCodes.ConnectionClosed, 'Method not allowed: scrape /metrics with GET');
        return;
      }
      const text = await metrics.text();
      res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : text);
      return;
    }
    const target = this.#target(req.url ?? '/');
    if (!target) {
      reply(res, 404, ErrorCodes.ConnectionClosed, `Not found: services are at ${MCP_PATH_PREFIX}<service>`);
      return;
    }
    switch (req.method) {
      case 'POST':
        await this.#post(req, res, target);
        return;
      case 'GET':
        this.#get(req, res, target);
        return;
      case 'DELETE':
        this.#delete(req, res, target);
        return;
      default:
        res.setHeader('Allow', 'GET, POST, DELETE');
        reply(res, 405, ErrorCodes.ConnectionClosed, 'Method not allowed');
    }
  }

  #target(rawUrl: string): HttpTarget | undefined {
    let pathname: string;
    try {
      pathname = new URL(rawUrl, 'http://localhost').pathname;
    } catch {
      return undefined;
    }
    if (!pathname.startsWith(MCP_PATH_PREFIX)) return undefined;
    const name = pathname.slice(MCP_PATH_PREFIX.length).replace(/\/$/, '');
    if (name === '' || name.includes('/')) return undefined;
    let decoded: string;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      return undefined;
    }
    const target = this.#options.lookup(decoded);
    return target?.config.http ? target : undefined;
  }

  async #post(req: IncomingMessage, res: ServerResponse, target: HttpTarget): Promise<void> {
    if (!accepts(req, 'application/json') || !accepts(req, 'text/event-stream')) {
      reply(res, 406, ErrorCodes.ConnectionClosed, 'Not acceptable: the client must accept both application/json and text/event-stream');
      return;
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/json') {
      reply(res, 415, ErrorCodes.ConnectionClosed, 'Unsupported media type: Content-Type must be application/json');
      return;
    }
    const limit = Math.min(this.#options.config.maxBodyBytes, target.config.maxRequestBytes);
    const body = await readBody(req, limit);
    if (body === undefined) {
      this.#options.log.warn({ service: target.name, limit }, 'HTTP request body over the limit: refused');
      res.setHeader('Connection', 'close');
      reply(res, 413, ErrorCodes.RequestTooLarge, `Message too large: over ${formatBytes(limit)}`);
      return;
    }
    const decoded = decodeMessage(body);
    if (!decoded.ok) {
      const { failure } = decoded;
      this.#options.log.warn({ service: target.name, bytes: body.length, code: failure.code }, `HTTP request refused: ${failure.message}`);
      if (res.headersSent) res.end();
      else res.writeHead(400, { 'Content-Type': 'application/json' }).end(encodeMessage(failureResponses(failure) ?? errorResponse(null, failure.code, failure.message)));
      return;
    }
    const parsed = decoded.message;
    const messages = Array.isArray(parsed) ? parsed : [parsed];
    if (messages.length === 0 || messages.some((message) => classifyMessage(message) === MessageKind.Invalid)) {
      reply(res, 400, ErrorCodes.InvalidRequest, 'Invalid request: expected a JSON-RPC message or a non-empty batch of them');
      return;
    }
    const initialize = messages.find((message) => classifyMessage(message) === MessageKind.Request && (message as JsonRpcRequest).method === 'initialize');
    if (initialize) {
      if (messages.length > 1) {
        reply(res, 400, ErrorCodes.InvalidRequest, 'Invalid request: initialize must be sent alone');
        return;
      }
      if (req.headers['mcp-session-id'] !== undefined) {
        reply(res, 400, ErrorCodes.InvalidRequest, 'Invalid request: this session is already initialized (send initialize without Mcp-Session-Id to start a new one)');
        return;
      }
      const session = HttpSession.open({
        id: randomUUID(),
        service: target.name,
        connect: (peer) => target.connectClient(peer),
        maxBufferBytes: target.config.maxClientBuffer,
        log: this.#options.log,
        onEnd: (ended) => {
          if (this.#sessions.get(ended.id) === ended) this.#sessions.delete(ended.id);
        },
      });
      if (!session) {
        reply(res, 503, ErrorCodes.TooManyClients, `Service '${target.name}' cannot take another client now`);
        return;
      }
      this.#sessions.set(session.id, session);
      this.#options.log.debug({ service: target.name, session: session.id }, 'HTTP session started');
      session.initialize(initialize as JsonRpcRequest, res, body.length);
      return;
    }
    const session = this.#session(req, res, target);
    if (session) session.post(messages, res, body.length);
  }

  #get(req: IncomingMessage, res: ServerResponse, target: HttpTarget): void {
    if (!accepts(req, 'text/event-stream')) {
      reply(res, 406, ErrorCodes.ConnectionClosed, 'Not acceptable: the client must accept text/event-stream');
      return;
    }
    const session = this.#session(req, res, target);
    if (!session) return;
    const lastEventId = header(req, 'last-event-id');
    if (!session.openStream(res, lastEventId)) {
      reply(res, 400, ErrorCodes.InvalidRequest, `Unknown Last-Event-ID: ${JSON.stringify(lastEventId)}`);
    }
  }

  #delete(req: IncomingMessage, res: ServerResponse, target: HttpTarget): void {
    const session = this.#session(req, res, target);
    if (!session) return;
    session.terminate('the client ended the session (DELETE)');
    res.writeHead(200).end();
  }

  /**
   * The session a request names, checked: a missing id is 400, an unknown one
   * (or one of another service) 404, an unsupported `MCP-Protocol-Version` 400.
   * Answers the request itself when it returns undefined.
   */
  #session(req: IncomingMessage, res: ServerResponse, target: HttpTarget): HttpSession | undefined {
    const id = header(req, 'mcp-session-id');
    if (id === undefined) {
      reply(res, 400, ErrorCodes.ConnectionClosed, 'Bad request: Mcp-Session-Id header is required');
      return undefined;
    }
    const session = this.#sessions.get(id);
    if (!session || session.service !== target.name || session.ended) {
      reply(res, 404, ErrorCodes.ConnectionClosed, 'Session not found: initialize a new one');
      return undefined;
    }
    const version = header(req, 'mcp-protocol-version');
    if (version !== undefined && !isKnownProtocolVersion(version)) {
      reply(res, 400, ErrorCodes.ConnectionClosed, `Bad request: unsupported MCP-Protocol-Version ${JSON.stringify(version)} (supported: ${PROTOCOL_VERSIONS.join(', ')})`);
      return undefined;
    }
    return session;
  }

  /** Marks sessions silent for `sessionIdleAfter` idle, and ends those silent for `sessionIdleTimeout`. */
  #sweepSessions(): void {
    const { sessionIdleTimeoutMs: timeoutMs, sessionIdleAfterMs: idleAfterMs } = this.#options.config;
    const now = Date.now();
    for (const session of [...this.#sessions.values()]) {
      const since = session.idleSince;
      if (since === undefined) continue;
      if (timeoutMs > 0 && now - since > timeoutMs) {
        this.#options.log.info({ service: session.service, session: session.id, timeoutMs }, 'HTTP session idle: ended');
        session.terminate('idle HTTP session');
      } else if (idleAfterMs > 0 && now - since >= idleAfterMs) {
        session.markIdle();
      }
    }
  }
}

/** Answers with a JSON-RPC error object (id null) and an HTTP status. */
function reply(res: ServerResponse, status: number, code: number, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(encodeMessage(errorResponse(null, code, message)));
}

function parseUrl(raw: string): URL | undefined {
  try {
    return new URL(raw, 'http://localhost');
  } catch {
    return undefined;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function accepts(req: IncomingMessage, type: string): boolean {
  const accept = (req.headers.accept ?? '').toLowerCase();
  return accept.includes(type) || accept.includes('*/*');
}

/**
 * Reads a request body of at most `limit` bytes. Undefined when it is
 * larger: the rest is read and dropped (so the client sees the 413), up to
 * a point past which the connection is cut.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > limit;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (over) {
        chunks.length = 0;
        if (size > limit + DISCARD_LIMIT_BYTES) req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('the client closed the request before sending all of it'));
    });
  });
}
