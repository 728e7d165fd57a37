// The web dashboard in a real browser: headless Chromium from the OS, driven
// by playwright-core, against a real muxd serving server-everything on its
// HTTP front. Logs in with `muxctl dashboard --no-open --json`, watches the
// services table live, restarts the service from the page, sees a tool call
// counted, and checks what the login, cookie and CSRF rules refuse.
// Run with `npm run browser-e2e` (scripts/browser-e2e.mjs), or with the
// whole suite: without /usr/bin/chromium the browser part is skipped.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { everythingServer, runMuxctl, startMuxd, waitFor } from '../e2e/harness.js';

/** The OS's Chromium (Debian/Ubuntu package `chromium`). */
const CHROMIUM = process.env['MUXD_CHROMIUM'] ?? '/usr/bin/chromium';
// CI installs Chromium (.ci/run): there a missing browser fails the test instead of skipping it.
const missing = existsSync(CHROMIUM) || process.env['CI'] ? undefined : `${CHROMIUM} is missing: install the OS package (apt-get install chromium) to run the dashboard's browser test`;

interface Row {
  status: string;
  pids: string;
  requests: string;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to the front with exactly these headers (node:http, so Origin and Cookie are ours to set). */
function send(port: number, method: string, path: string, headers: Record<string, string>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { Host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The services table's row of `name`, as the page shows it. Code run in the
 * page is a string: tsx would wrap the functions of a callback in a helper
 * that exists only in Node.
 */
function row(page: Page, name: string): Promise<Row | undefined> {
  return page.evaluate(`(() => {
    const tr = [...document.querySelectorAll('#services tbody tr')].find((el) => el.dataset.service === ${JSON.stringify(name)});
    if (!tr) return undefined;
    const cell = (field) => tr.querySelector('td[data-field="' + field + '"]')?.textContent ?? '';
    return { status: cell('status'), pids: cell('pids'), requests: cell('requests') };
  })()`);
}

describe('muxctl dashboard without the HTTP front', () => {
  test('says in one line how to turn it on, and opens nothing', async (t) => {
    const muxd = await startMuxd(t, { everything: everythingServer() });
    const run = await runMuxctl(muxd.home, ['dashboard', '--no-open']);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, '');
    const lines = run.stderrLines();
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0] ?? '', /HTTP front, which is off: add http: \{ listen: 127\.0\.0\.1:7777 \} to .*, then: muxctl reload/);
  });
});

describe('the dashboard in a real browser', { skip: missing }, () => {
  let browser: Browser | undefined;
  after(async () => {
    await browser?.close();
  });

  test('log in, watch, restart, count a call, and refuse what must be refused', async (t) => {
    const muxd = await startMuxd(t, { everything: everythingServer({ lazy: false }) }, { http: { listen: '127.0.0.1:0' } });
    const base = (muxd.daemonLog().find((entry) => entry.msg === 'HTTP front listening')?.['url'] ?? '') as string;
    const port = Number(new URL(base).port);
    const bearer = readFileSync(join(muxd.home, 'http-token'), 'utf8').trim();

    const run = await runMuxctl(muxd.home, ['dashboard', '--no-open', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const login = run.json<{ url: string; expiresAt: number; opened: boolean }>();
    assert.equal(login.opened, false, '--no-open opens nothing');
    assert.ok(login.url.startsWith(`${base}/login?t=`), login.url);
    assert.ok(!login.url.includes(bearer), 'the bearer token is not in the login URL');

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    /** Waits for the page to show something; a timeout says what the page had shown and reported. */
    const see = async <T>(what: string, probe: () => Promise<T | undefined | false | null>, timeoutMs?: number): Promise<T> => {
      try {
        return await waitFor(what, probe, timeoutMs);
      } catch (error) {
        const table = await page.locator('#services').textContent().catch(() => '(no table)');
        throw new Error(`${(error as Error).message}\npage errors: ${JSON.stringify(pageErrors)}\ntable: ${table}\nconnection: ${await page.locator('#connection').textContent().catch(() => '')}`);
      }
    };

    // Logging in: the code is traded for a cookie, and leaves the address bar.
    const response = await page.goto(login.url);
    assert.equal(response?.status(), 200);
    assert.equal(page.url(), `${base}/`);
    const headers = response?.headers() ?? {};
    assert.equal(headers['content-security-policy']?.split(';')[0], "default-src 'self'");
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['referrer-policy'], 'no-referrer');
    const cookies = await context.cookies();
    const session = cookies.find((cookie) => cookie.name === 'muxd_session');
    assert.ok(session, `a session cookie was set: ${JSON.stringify(cookies.map((cookie) => cookie.name))}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(session.path, '/');
    assert.equal(await page.evaluate<string>('document.cookie'), '', 'the page script cannot read the cookie');

    // The service, live over the event stream.
    const online = await see('the page to show everything online', async () => {
      const shown = await row(page, 'everything');
      return shown?.status === 'online' && /^\d+$/.test(shown.pids) ? shown : undefined;
    });
    assert.ok(!(await page.content()).includes(bearer), 'the bearer token is not in the page');
    await see('the memory chart to be drawn', () => page.locator('#chart-memory canvas').count());
    await see('the log tail', async () => ((await page.locator('#log').textContent()) ?? '').includes('child started'));

    // Restart from the page: every status the cell shows is recorded.
    await page.evaluate(`(() => {
      const cell = document.querySelector('tr[data-service="everything"] td[data-field="status"]');
      const seen = (window.seenStatuses = []);
      new MutationObserver(() => seen.push(cell.textContent)).observe(cell, { childList: true, characterData: true, subtree: true });
    })()`);
    await page.click('tr[data-service="everything"] button[data-action="restart"]');
    const restarted = await see(
      'the page to show everything online with a new pid',
      async () => {
        const shown = await row(page, 'everything');
        return shown?.status === 'online' && /^\d+$/.test(shown.pids) && shown.pids !== online.pids ? shown : undefined;
      },
      20_000,
    );
    const seen = await page.evaluate<string[]>('window.seenStatuses');
    assert.ok(seen.some((status) => status === 'restarting' || status === 'starting'), `statuses shown: ${seen.join(', ')}`);
    const ls = (await runMuxctl(muxd.home, ['ls', '--json'])).json<{ services: Array<{ name: string; pids: number[]; restarts: number }> }>();
    const listed = ls.services.find((service) => service.name === 'everything');
    assert.deepEqual(listed?.pids.map(String), [restarted.pids], 'muxctl ls agrees with the page');
    const restartsAfterClick = listed?.restarts;
    await see('the timeline to show the manual restart', () => page.locator('#timeline li[data-reason="manual"]').count());

    // A tool call through mux-proxy is counted, and its client listed.
    const before = Number((await row(page, 'everything'))?.requests);
    assert.ok(Number.isInteger(before), `a request count is shown: ${before}`);
    const client = await muxd.connect(t, 'everything', { name: 'dashboard-e2e' });
    assert.equal(await client.callText('echo', { message: 'seen by the dashboard' }), 'Echo: seen by the dashboard');
    await see('the request count to rise', async () => Number((await row(page, 'everything'))?.requests) > before);
    await see('the client to be listed', async () => ((await page.locator('#clients').textContent()) ?? '').includes('dashboard-e2e'));

    const screenshot = process.env['MUXD_DASHBOARD_SCREENSHOT'];
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

    // Actions the front must refuse, and none of them restarts anything.
    const cookie = `muxd_session=${session.value}`;
    const csrf = await page.evaluate<string>(`fetch('/dashboard/session').then((res) => res.json()).then((body) => body.csrfToken)`);
    const path = '/dashboard/services/everything/restart';
    const origin = base;
    const refused = [
      ['no cookie', await send(port, 'POST', path, { Origin: origin, 'X-CSRF-Token': csrf })],
      ['a foreign origin', await send(port, 'POST', path, { Cookie: cookie, Origin: 'http://evil.example', 'X-CSRF-Token': csrf })],
      ['another loopback origin', await send(port, 'POST', path, { Cookie: cookie, Origin: 'http://127.0.0.1:1', 'X-CSRF-Token': csrf })],
      ['no origin', await send(port, 'POST', path, { Cookie: cookie, 'X-CSRF-Token': csrf })],
      ['no CSRF token', await send(port, 'POST', path, { Cookie: cookie, Origin: origin })],
      ['a wrong CSRF token', await send(port, 'POST', path, { Cookie: cookie, Origin: origin, 'X-CSRF-Token': `${csrf}x` })],
      ['the bearer token instead of the cookie', await send(port, 'POST', path, { Authorization: `Bearer ${bearer}`, Origin: origin, 'X-CSRF-Token': csrf })],
    ] as const;
    for (const [what, res] of refused) {
      assert.equal(res.status, 403, `${what}: ${res.body}`);
      assert.match(res.headers['content-type'] as string, /^application\/json/, what);
      assert.match(res.body, /Forbidden/, what);
    }
    for (const [what, readPath] of [['events', '/dashboard/events'], ['logs', '/dashboard/services/everything/logs?lines=200'], ['history', '/dashboard/services/everything/history'], ['session', '/dashboard/session']] as const) {
      assert.equal((await send(port, 'GET', readPath, {})).status, 403, `${what} without the cookie`);
    }
    const rebound = await send(port, 'GET', '/', { Cookie: cookie, Host: `evil.example:${port}` });
    assert.equal(rebound.status, 403, 'a foreign Host (DNS rebinding) gets nothing, even with the cookie');
    assert.doesNotMatch(rebound.body, /<html/);
    const logs = await send(port, 'GET', '/dashboard/services/everything/logs?lines=200', { Cookie: cookie });
    assert.equal(logs.status, 200, 'the same read with the cookie is answered');
    const now = (await runMuxctl(muxd.home, ['ls', '--json'])).json<{ services: Array<{ name: string; pids: number[]; restarts: number }> }>();
    const still = now.services.find((service) => service.name === 'everything');
    assert.deepEqual(still?.pids.map(String), [restarted.pids], 'no refused POST restarted the service');
    assert.equal(still?.restarts, restartsAfterClick);

    // A login code works once; without a session the page says how to get one.
    const stranger = await browser.newContext();
    const again = await (await stranger.newPage()).goto(login.url);
    assert.equal(again?.status(), 403, 'a used login code is refused');
    assert.match((await again?.text()) ?? '', /muxctl dashboard/);
    assert.deepEqual(await stranger.cookies(), [], 'and sets no cookie');
    const bare = await (await stranger.newPage()).goto(`${base}/`);
    assert.equal(bare?.status(), 401);
    assert.match((await bare?.text()) ?? '', /muxctl dashboard/);
    await stranger.close();

    assert.deepEqual(pageErrors, [], 'the page ran without errors (CSP included)');
  });
});
