// muxctl reload and the `http` block: the HTTP front opens, takes new
// limits, moves and closes without restarting muxd, and a port that cannot
// be bound changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ReloadResult } from '@muxd/protocol';
import { fixtureServer, startMuxd, toolText, within } from './harness.js';
import type { Muxd, MuxdOptions, Scope } from './harness.js';

const services = { probe: fixtureServer('probe') };

async function reload(muxd: Muxd, http: MuxdOptions['http']): Promise<ReloadResult> {
  muxd.writeConfig(services, http ? { http } : {});
  const run = await muxd.muxctl(['reload', '--json']);
  assert.equal(run.code, 0, run.stderr);
  return run.json<ReloadResult>();
}

async function httpClient(scope: Scope, muxd: Muxd, base: string): Promise<Client> {
  const token = readFileSync(join(muxd.home, 'http-token'), 'utf8').trim();
  const client = new Client({ name: 'reload-http', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp/probe`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  scope.after(() => client.close());
  await within(client.connect(transport), 15_000, 'the HTTP client to initialize');
  return client;
}

async function echo(client: Client, message: string): Promise<string> {
  return toolText((await client.callTool({ name: 'echo', arguments: { message } })) as CallToolResult);
}

/** Whether anything accepts a TCP connection at `base`. */
function listening(base: string): Promise<boolean> {
  const { hostname, port } = new URL(base);
  return fetch(`http://${hostname}:${port}/`).then(
    () => true,
    () => false,
  );
}

/** A port held by another listener for the test's duration. */
async function heldPort(scope: Scope): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scope.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('reload opens the HTTP front, gives it new limits without ending sessions, moves it, and closes it', { timeout: 60_000 }, async (t) => {
  const muxd = await startMuxd(t, services);

  const opened = await reload(muxd, { listen: '127.0.0.1:0' });
  const note = opened.notes.find((line) => line.startsWith('http:')) ?? '';
  const base = /^http: listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(note)?.[1];
  assert.ok(base, note);
  const url = await muxd.muxctl(['http', 'url']);
  assert.equal(url.stdout.trim(), base);
  const client = await httpClient(t, muxd, base);
  assert.equal(await echo(client, 'over http'), 'probe: over http');

  // Same address, a smaller body limit: the session carries on, and the limit holds at once.
  const retuned = await reload(muxd, { listen: '127.0.0.1:0', maxBodyBytes: '2KiB' });
  assert.ok(retuned.notes.includes(`http: new limits apply on ${base}; sessions carry on`), retuned.notes.join('\n'));
  assert.equal(await echo(client, 'still here'), 'probe: still here');
  await assert.rejects(echo(client, 'x'.repeat(4096)), /413|Payload Too Large|too large/i);

  // A new address: the front moves; sessions on the old one end.
  const port = await freePort();
  const moved = await reload(muxd, { listen: `127.0.0.1:${port}` });
  const movedTo = `http://127.0.0.1:${port}`;
  assert.ok(moved.notes.includes(`http: listening on ${movedTo}; sessions on ${base} ended (hosts start new ones)`), moved.notes.join('\n'));
  assert.equal(await listening(base), false, 'the old address is closed');
  const again = await httpClient(t, muxd, movedTo);
  assert.equal(await echo(again, 'moved'), 'probe: moved');

  // No http block: the front closes.
  const closed = await reload(muxd, undefined);
  assert.ok(closed.notes.includes('http: the HTTP front is closed'), closed.notes.join('\n'));
  assert.equal(await listening(movedTo), false);
});

test('a reload whose HTTP port is taken changes nothing, services included, and says why', { timeout: 30_000 }, async (t) => {
  const muxd = await startMuxd(t, services, { http: { listen: '127.0.0.1:0' } });
  const before = await muxd.muxctl(['http', 'url']);
  const base = before.stdout.trim();
  const client = await httpClient(t, muxd, base);

  const taken = await heldPort(t);
  muxd.writeConfig({ ...services, added: fixtureServer('probe') }, { http: { listen: `127.0.0.1:${taken}` } });
  const run = await muxd.muxctl(['reload']);
  assert.notEqual(run.code, 0);
  assert.deepEqual(run.stderrLines(), [`muxctl: cannot listen on 127.0.0.1:${taken} for HTTP: the port is in use`]);

  const ls = await muxd.muxctl(['ls', '--json']);
  assert.deepEqual(
    (JSON.parse(ls.stdout) as { services: Array<{ name: string }> }).services.map((row) => row.name),
    ['probe'],
    'the service the failed reload would have added is not there',
  );
  assert.equal((await muxd.muxctl(['http', 'url'])).stdout.trim(), base);
  assert.equal(await echo(client, 'undisturbed'), 'probe: undisturbed');
});
