import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The session cookie's name. */
export const SESSION_COOKIE = 'muxd_session';

/** How long a login code may be used, ms. */
export const LOGIN_CODE_TTL_MS = 60_000;
/** A session unused this long ends, ms (12 h). */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** Sessions kept at once; a new login evicts the least recently used. */
export const MAX_SESSIONS = 32;
/** Login codes outstanding at once; minting another drops the oldest. */
const MAX_LOGIN_CODES = 16;

/** A browser logged in to the dashboard. */
export interface DashboardSession {
  /** The token POSTs must carry in `X-CSRF-Token` (synchronizer token pattern). */
  readonly csrfToken: string;
  readonly createdAt: number;
  lastSeen: number;
}

export interface DashboardAuthOptions {
  /** ms since the epoch; `Date.now` by default (tests move time). */
  now?: () => number;
}

/**
 * The dashboard's logins: one-time codes minted over the control socket
 * (`dashboard/login`, so only who can reach muxd's socket can log in), each
 * exchanged once for a session cookie, and the sessions themselves. Codes
 * and cookies are 32 random bytes; only their SHA-256 digests are kept, so
 * lookups reveal nothing through timing and a heap dump holds no cookie.
 */
export class DashboardAuth {
  readonly #now: () => number;
  /** digest of a code -> when it expires */
  readonly #codes = new Map<string, number>();
  /** digest of a cookie value -> its session; iteration order is least recently used first */
  readonly #sessions = new Map<string, DashboardSession>();

  constructor(options: DashboardAuthOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  get sessionCount(): number {
    this.#prune();
    return this.#sessions.size;
  }

  /** A new single-use login code, valid for `LOGIN_CODE_TTL_MS`. */
  mintLoginCode(): { code: string; expiresAt: number } {
    this.#prune();
    while (this.#codes.size >= MAX_LOGIN_CODES) this.#codes.delete(this.#codes.keys().next().value as string);
    const code = randomBytes(32).toString('base64url');
    const expiresAt = this.#now() + LOGIN_CODE_TTL_MS;
    this.#codes.set(digest(code), expiresAt);
    return { code, expiresAt };
  }

  /**
   * Exchanges a login code for a session: the code is spent whether or not it
   * was still valid. Returns the cookie value and the session, or undefined
   * for an unknown, used or expired code.
   */
  redeem(code: string): { cookie: string; session: DashboardSession } | undefined {
    const key = digest(code);
    const expiresAt = this.#codes.get(key);
    this.#codes.delete(key);
    const now = this.#now();
    if (expiresAt === undefined || expiresAt < now) return undefined;
    this.#prune();
    while (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value as string);
    const cookie = randomBytes(32).toString('base64url');
    const session: DashboardSession = { csrfToken: randomBytes(32).toString('base64url'), createdAt: now, lastSeen: now };
    this.#sessions.set(digest(cookie), session);
    return { cookie, session };
  }

  /** The session a request's `Cookie` header names (and marks it used), or undefined. */
  session(cookieHeader: string | undefined): DashboardSession | undefined {
    const value = cookieValue(cookieHeader, SESSION_COOKIE);
    if (value === undefined) return undefined;
    const key = digest(value);
    const session = this.#sessions.get(key);
    if (!session) return undefined;
    const now = this.#now();
    this.#sessions.delete(key);
    if (now - session.lastSeen > SESSION_IDLE_MS) return undefined;
    session.lastSeen = now;
    // Re-inserted: the map stays ordered by last use, so eviction drops the stalest.
    this.#sessions.set(key, session);
    return session;
  }

  /** Ends the session a `Cookie` header names, if any. */
  logout(cookieHeader: string | undefined): void {
    const value = cookieValue(cookieHeader, SESSION_COOKIE);
    if (value !== undefined) this.#sessions.delete(digest(value));
  }

  #prune(): void {
    const now = this.#now();
    for (const [key, expiresAt] of this.#codes) if (expiresAt < now) this.#codes.delete(key);
    for (const [key, session] of this.#sessions) if (now - session.lastSeen > SESSION_IDLE_MS) this.#sessions.delete(key);
  }
}

/** The `Set-Cookie` value of a session: HttpOnly, SameSite=Strict, the whole origin; no `Secure` (the front is plain http on loopback). */
export function sessionCookieHeader(cookie: string): string {
  return `${SESSION_COOKIE}=${cookie}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_IDLE_MS / 1000}`;
}

/** The `Set-Cookie` value that removes the session cookie. */
export function clearedCookieHeader(): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}

/** True when `given` is `expected`, compared in constant time. */
export function csrfTokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

/** The value of cookie `name` in a `Cookie` header; undefined when absent or not a plausible token. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (/^[A-Za-z0-9_-]{16,128}$/.test(value)) return value;
  }
  return undefined;
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
