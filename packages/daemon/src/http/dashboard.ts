import type { IncomingMessage, ServerResponse } from 'node:http';
import { isMuxError, MuxErrorCodes } from '@muxd/protocol';
import type { ActionResult, HistoryResult, ListResult, LogsResult, MetricsResult } from '@muxd/protocol';
import type { Logger } from '../logs.js';
import { DashboardAssets, DASHBOARD_SECURITY_HEADERS } from './dashboardAssets.js';
import { DashboardAuth, csrfTokenMatches, sessionCookieHeader } from './dashboardAuth.js';
import type { DashboardSession } from './dashboardAuth.js';
import { DashboardEvents } from './dashboardEvents.js';

/** The header a dashboard POST carries its session's CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

/** What the dashboard asks of muxd: the control socket's own handlers, so both answer alike. */
export interface DashboardHandlers {
  list(): Promise<ListResult>;
  metrics(name: string | undefined): Promise<MetricsResult>;
  history(name: string | undefined, limit: number): HistoryResult;
  logs(name: string | undefined, lines: number): LogsResult;
  startService(name: string): Promise<ActionResult>;
  stopService(name: string): Promise<ActionResult>;
  restartService(name: string): Promise<ActionResult>;
}

export interface DashboardOptions {
  handlers: DashboardHandlers;
  auth: DashboardAuth;
  log: Logger;
  /** What the page says about muxd itself. */
  daemon: { version: string; pid: number; startedAt: number };
  assets?: DashboardAssets;
}

const ACTIONS = { start: 'starting', stop: 'stopping', restart: 'restarting' } as const;
type Action = keyof typeof ACTIONS;

const SERVICE_ROUTE = /^\/dashboard\/services\/([^/]+)\/(history|logs|start|stop|restart)$/;
const STATIC_ROUTE = /^\/dashboard\/static\/([A-Za-z0-9._-]+)$/;
const MAX_LOG_LINES = 1000;
const MAX_HISTORY = 500;
/** Resource samples per service in each state event: the last 10 minutes (5 s apart), not metrics' hour, as it goes out every second. */
const STATE_SAMPLES = 120;

/**
 * The web dashboard on the HTTP front: `/login?t=<code>` trades a one-time
 * code (from `dashboard/login` on the control socket) for a session cookie,
 * `/` is the page, `/dashboard/*` its static files, its JSON and its event
 * stream. Reads need the cookie; actions (POST) need the cookie, the front's
 * own `Origin` and the session's CSRF token in `X-CSRF-Token`.
 */
export class Dashboard {
  readonly #options: DashboardOptions;
  readonly #assets: DashboardAssets;
  readonly #events: DashboardEvents;
  /** Actions under way from the dashboard, by service: shown as the service's status until they end. */
  readonly #pending = new Map<string, (typeof ACTIONS)[Action]>();

  constructor(options: DashboardOptions) {
    this.#options = options;
    this.#assets = options.assets ?? new DashboardAssets();
    this.#events = new DashboardEvents({
      state: () => this.#state(),
      onError: (error) => options.log.warn({ err: error.message }, 'dashboard: cannot read the state'),
    });
  }

  /** True for the paths the dashboard answers: `/`, `/login` and `/dashboard/...`. */
  static owns(pathname: string): boolean {
    return pathname === '/' || pathname === '/login' || pathname.startsWith('/dashboard/');
  }

  /** Something changed (a child started or exited): pages hear of it now rather than at the next tick. */
  changed(): void {
    this.#events.changed();
  }

  /** Ends every event stream. Idempotent. */
  close(): void {
    this.#events.close();
  }

  /** Answers one request for a path `owns` accepted; Host and Origin were checked by the front. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (req.method === 'POST') {
      req.resume();
      await this.#post(req, res, path);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, POST');
      json(res, 405, { error: 'Method not allowed' });
      return;
    }
    const file = STATIC_ROUTE.exec(path)?.[1];
    if (file !== undefined) {
      if (this.#assets.has(file)) this.#assets.serve(res, file);
      else json(res, 404, { error: `Not found: no dashboard file ${JSON.stringify(file)}` });
      return;
    }
    if (path === '/login') {
      this.#login(res, url.searchParams.get('t'));
      return;
    }
    const session = this.#options.auth.session(req.headers.cookie);
    if (path === '/') {
      if (session) this.#assets.serve(res, 'index.html');
      else this.#assets.serve(res, 'login.html', 401);
      return;
    }
    if (!session) {
      json(res, 403, { error: 'Forbidden: not logged in to the dashboard (run muxctl dashboard for a login link)' });
      return;
    }
    if (path === '/dashboard/session') {
      json(res, 200, { csrfToken: session.csrfToken, csrfHeader: 'X-CSRF-Token' });
      return;
    }
    if (path === '/dashboard/events' && req.method === 'GET') {
      if (!this.#events.open(res)) json(res, 503, { error: 'Too many dashboard pages open: close some and reload' });
      return;
    }
    const route = SERVICE_ROUTE.exec(path);
    const name = route?.[1] === undefined ? undefined : decodeName(route[1]);
    if (!route || name === undefined || (route[2] !== 'history' && route[2] !== 'logs')) {
      json(res, 404, { error: 'Not found' });
      return;
    }
    await this.#answer(res, async () => {
      if (route[2] === 'history') return this.#options.handlers.history(name, countParam(url, 'limit', 50, MAX_HISTORY));
      return this.#options.handlers.logs(name, countParam(url, 'lines', 200, MAX_LOG_LINES));
    });
  }

  #login(res: ServerResponse, code: string | null): void {
    const login = code === null || code.length > 256 ? undefined : this.#options.auth.redeem(code);
    if (!login) {
      this.#options.log.warn({}, 'dashboard: a login code was refused (unknown, used or expired)');
      this.#assets.serve(res, 'login.html', 403);
      return;
    }
    this.#options.log.info({}, 'dashboard: logged in');
    // 303 to `/`: the code leaves the address bar and the history.
    res.writeHead(303, { ...DASHBOARD_SECURITY_HEADERS, Location: '/', 'Set-Cookie': sessionCookieHeader(login.cookie) }).end();
  }

  async #post(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = SERVICE_ROUTE.exec(path);
    const action = route?.[2];
    if (!route || (action !== 'start' && action !== 'stop' && action !== 'restart')) {
      json(res, 404, { error: 'Not found: actions are POST /dashboard/services/<name>/(start|stop|restart)' });
      return;
    }
    const refusal = this.#refusal(req, this.#options.auth.session(req.headers.cookie));
    if (refusal) {
      this.#options.log.warn({ action, reason: refusal }, 'dashboard: action refused');
      json(res, 403, { error: `Forbidden: ${refusal}` });
      return;
    }
    const name = route[1] === undefined ? undefined : decodeName(route[1]);
    if (name === undefined || name === 'all') {
      json(res, 404, { error: 'Not found: name one service' });
      return;
    }
    const under = this.#pending.get(name);
    if (under) {
      json(res, 409, { error: `'${name}' is ${under} already: wait for it to finish` });
      return;
    }
    this.#options.log.info({ service: name, action }, 'dashboard: action');
    this.#pending.set(name, ACTIONS[action]);
    this.#events.changed();
    try {
      const { handlers } = this.#options;
      await this.#answer(res, () => (action === 'start' ? handlers.startService(name) : action === 'stop' ? handlers.stopService(name) : handlers.restartService(name)));
    } finally {
      this.#pending.delete(name);
      this.#events.changed();
    }
  }

  /** Why an action may not run, or undefined when it may. */
  #refusal(req: IncomingMessage, session: DashboardSession | undefined): string | undefined {
    if (!session) return 'not logged in to the dashboard (run muxctl dashboard for a login link)';
    const origin = req.headers.origin;
    if (origin === undefined || origin !== `http://${req.headers.host ?? ''}`) return 'actions must come from the dashboard page itself (Origin must be this front)';
    const token = req.headers[CSRF_HEADER];
    if (!csrfTokenMatches(Array.isArray(token) ? token[0] : token, session.csrfToken)) return 'missing or wrong X-CSRF-Token (reload the dashboard page)';
    return undefined;
  }

  /** Runs a handler and answers with its result, or with its error as a one-line JSON message. */
  async #answer(res: ServerResponse, run: () => Promise<unknown>): Promise<void> {
    try {
      json(res, 200, await run());
    } catch (error) {
      if (isMuxError(error) && error.code === MuxErrorCodes.ServiceUnknown) json(res, 404, { error: error.message });
      else json(res, 500, { error: (error as Error).message });
    }
  }

  async #state(): Promise<unknown> {
    const { handlers, daemon } = this.#options;
    const [list, metrics] = await Promise.all([handlers.list(), handlers.metrics(undefined).catch(() => undefined)]);
    return {
      at: Date.now(),
      daemon,
      summary: list.summary ?? null,
      services: list.services,
      metrics: metrics?.services.map((service) => ({ ...service, samples: service.samples.slice(-STATE_SAMPLES) })) ?? null,
      pending: Object.fromEntries(this.#pending),
    };
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...DASHBOARD_SECURITY_HEADERS, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

function decodeName(raw: string): string | undefined {
  try {
    const name = decodeURIComponent(raw);
    return name === '' || name.includes('/') ? undefined : name;
  } catch {
    return undefined;
  }
}

function countParam(url: URL, key: string, fallback: number, max: number): number {
  const value = Number(url.searchParams.get(key) ?? fallback);
  return Number.isInteger(value) && value > 0 ? Math.min(value, max) : fallback;
}
