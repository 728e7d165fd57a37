import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DashboardAuth, LOGIN_CODE_TTL_MS, MAX_SESSIONS, SESSION_COOKIE, SESSION_IDLE_MS, csrfTokenMatches, sessionCookieHeader } from '../src/http/dashboardAuth.js';

/** An auth whose clock the test moves. */
function authWithClock(): { auth: DashboardAuth; advance: (ms: number) => void } {
  let now = 1_000_000;
  return { auth: new DashboardAuth({ now: () => now }), advance: (ms) => (now += ms) };
}

const cookieOf = (value: string) => `other=1; ${SESSION_COOKIE}=${value}`;

describe('dashboard logins', () => {
  test('a code is 32 random bytes and logs in exactly once', () => {
    const { auth } = authWithClock();
    const { code } = auth.mintLoginCode();
    assert.match(code, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(auth.mintLoginCode().code, code);
    const login = auth.redeem(code);
    assert.ok(login, 'the first use logs in');
    assert.equal(auth.redeem(code), undefined, 'the second use is refused');
    assert.equal(auth.redeem('not-a-code'), undefined);
    assert.equal(auth.session(cookieOf(login.cookie)), login.session);
    assert.notEqual(login.session.csrfToken, login.cookie);
  });

  test('a code expires after 60 s', () => {
    const { auth, advance } = authWithClock();
    const fresh = auth.mintLoginCode();
    const stale = auth.mintLoginCode();
    advance(LOGIN_CODE_TTL_MS - 1);
    assert.ok(auth.redeem(fresh.code));
    advance(2);
    assert.equal(auth.redeem(stale.code), undefined);
  });

  test('a session ends after 12 h unused, and use keeps it alive', () => {
    const { auth, advance } = authWithClock();
    const used = auth.redeem(auth.mintLoginCode().code);
    const unused = auth.redeem(auth.mintLoginCode().code);
    assert.ok(used && unused);
    advance(SESSION_IDLE_MS - 1000);
    assert.ok(auth.session(cookieOf(used.cookie)));
    advance(2000);
    assert.ok(auth.session(cookieOf(used.cookie)), 'used within the last 12 h');
    assert.equal(auth.session(cookieOf(unused.cookie)), undefined, 'idle for over 12 h');
  });

  test(`at most ${MAX_SESSIONS} sessions: the least recently used goes first`, () => {
    const { auth, advance } = authWithClock();
    const logins = Array.from({ length: MAX_SESSIONS }, () => {
      advance(1);
      return auth.redeem(auth.mintLoginCode().code);
    });
    const first = logins[0];
    const second = logins[1];
    assert.ok(first && second);
    advance(1);
    assert.ok(auth.session(cookieOf(first.cookie)), 'the oldest is used again');
    assert.ok(auth.redeem(auth.mintLoginCode().code));
    assert.equal(auth.sessionCount, MAX_SESSIONS);
    assert.ok(auth.session(cookieOf(first.cookie)), 'recently used: kept');
    assert.equal(auth.session(cookieOf(second.cookie)), undefined, 'least recently used: evicted');
  });

  test('logout ends the session; hostile cookie headers find none', () => {
    const { auth } = authWithClock();
    const login = auth.redeem(auth.mintLoginCode().code);
    assert.ok(login);
    auth.logout(cookieOf(login.cookie));
    assert.equal(auth.session(cookieOf(login.cookie)), undefined);
    for (const header of [undefined, '', `${SESSION_COOKIE}=`, `${SESSION_COOKIE}=<script>`, `${SESSION_COOKIE}=${'a'.repeat(9000)}`, 'garbage;;;=']) {
      assert.equal(auth.session(header), undefined);
    }
  });

  test('the cookie is HttpOnly and SameSite=Strict on the whole origin; CSRF tokens compare exactly', () => {
    const header = sessionCookieHeader('abc');
    assert.match(header, /^muxd_session=abc; /);
    assert.match(header, /; HttpOnly/);
    assert.match(header, /; SameSite=Strict/);
    assert.match(header, /; Path=\//);
    assert.doesNotMatch(header, /Secure/);
    assert.ok(csrfTokenMatches('token', 'token'));
    assert.equal(csrfTokenMatches('token ', 'token'), false);
    assert.equal(csrfTokenMatches(undefined, 'token'), false);
  });
});
