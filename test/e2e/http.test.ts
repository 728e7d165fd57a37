// The Streamable HTTP front: an HTTP session is one more client of the same
// engine as mux-proxy clients, behind a bearer token, Host/Origin checks and
// size limits.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { everythingServer, fixtureServer, startMuxd, toolText, within } from './harness.js';
import type { Scope } from './harness.js';

const muxd = await startMuxd(
  { after },
  // probe stays off HTTP; session is used by one test alone, to count its clients.
  { everything: everythingServer(), probe: fixtureServer('probe', { http: false }), session: fixtureServer('probe') },
  { http: { listen: '127.0.0.1:0', maxBodyBytes: '64KiB' } },
);
const base = (muxd.daemonLog().find((entry) => entry.msg === 'HTTP front listening')?.['url'] ?? '') as string;
const endpoint = `${base}/mcp/everything`;
const port = Number(new URL(base).port);
const token = readFileSync(join(muxd.home, 'http-token'), 'utf8').trim();

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 'init',
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw-http', version: '1.0.0' } },
};

/** An SDK client over Streamable HTTP with the token; closed by `scope`'s after hook. */
async function httpClient(scope: Scope, options: { sampling?: boolean } = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport; errors: Error[] }> {
  const client = new Client({ name: 'http-e2e', version: '1.0.0' }, { capabilities: options.sampling ? { sampling: {} } : {} });
  const errors: Error[] = [];
  client.onerror = (error) => errors.push(error);
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  scope.after(() => client.close());
  await within(client.connect(transport), 15_000, 'the HTTP client to initialize');
  return { client, transport, errors };
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with exactly these headers (node:http: fetch will not send a foreign Host). */
function send(method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { Host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const auth = { Authorization: `Bearer ${token}` };
const postHeaders = { ...auth, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

/** Initializes a raw session of `service`; returns its id. */
async function rawSession(service = 'everything'): Promise<string> {
  const res = await send('POST', `/mcp/${service}`, postHeaders, JSON.stringify(INITIALIZE));
  assert.equal(res.status, 200, res.body);
  const id = res.headers['mcp-session-id'];
  assert.equal(typeof id, 'string');
  const initialized = await send('POST', `/mcp/${service}`, { ...postHeaders, 'Mcp-Session-Id': id as string }, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  assert.equal(initialized.status, 202);
  return id as string;
}

async function clientsOf(service: string): Promise<number | undefined> {
  const ls = (await muxd.muxctl(['ls', '--json'])).json<{ services: Array<{ name: string; clients: number }> }>();
  return ls.services.find((row) => row.name === service)?.clients;
}

/** Reads SSE events from a response until `stop` says so; resolves with them. */
function readEvents(res: IncomingMessage, stop: (events: Array<{ id?: string; data: string }>) => boolean): Promise<Array<{ id?: string; data: string }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ id?: string; data: string }> = [];
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: { id?: string; data: string } = { data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) event.id = line.slice(4);
          else if (line.startsWith('data: ')) event.data += line.slice(6);
        }
        if (block.startsWith(':')) continue;
        events.push(event);
        if (stop(events)) {
          resolve(events);
          return;
        }
      }
    });
    res.on('end', () => resolve(events));
    res.on('error', reject);
  });
}

describe('HTTP sessions share the engine', () => {
  test('an SDK Streamable HTTP client and a mux-proxy client share one server-everything child', { timeout: 30_000 }, async (t) => {
    const proxied = await muxd.connect(t, 'everything', { name: 'proxy-client' });
    const { client, transport, errors } = await httpClient(t);
    assert.match(transport.sessionId ?? '', /^[0-9a-f-]{36}$/);
    const tools = await client.listTools();
    assert.ok(tools.tools.some((tool) => tool.name === 'echo'));
    const answer = (await client.callTool({ name: 'echo', arguments: { message: 'over http' } })) as CallToolResult;
    assert.equal(toolText(answer), 'Echo: over http');
    assert.equal(await proxied.callText('echo', { message: 'over the socket' }), 'Echo: over the socket');
    assert.equal(muxd.childPids('everything').length, 1, 'one child served both clients');
    const ls = (await muxd.muxctl(['ls', '--json'])).json<{ services: Array<{ name: string; clients: number }> }>();
    assert.equal(ls.services.find((row) => row.name === 'everything')?.clients, 2);
    assert.deepEqual(errors, []);
  });

  test('progress notifications reach the HTTP client that asked for them', { timeout: 30_000 }, async (t) => {
    const { client } = await httpClient(t);
    const seen: Progress[] = [];
    const result = (await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      undefined,
      { onprogress: (progress) => seen.push(progress) },
    )) as CallToolResult;
    assert.match(toolText(result), /Steps: 3\./);
    assert.deepEqual(seen.map((p) => [p.progress, p.total]), [[1, 3], [2, 3], [3, 3]]);
  });

  test("a server's sampling request reaches the HTTP client and its answer goes back", { timeout: 30_000 }, async (t) => {
    const { client } = await httpClient(t, { sampling: true });
    client.setRequestHandler(CreateMessageRequestSchema, () => ({
      role: 'assistant',
      content: { type: 'text', text: 'sampled over http' },
      model: 'test-model',
    }));
    const result = (await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hello', maxTokens: 10 } })) as CallToolResult;
    assert.match(toolText(result), /sampled over http/);
  });

  test('DELETE ends the session: its engine client is gone and the id is unknown after', { timeout: 30_000 }, async () => {
    assert.equal(await clientsOf('session'), 0);
    const id = await rawSession('session');
    assert.equal(await clientsOf('session'), 1, 'the session is one client of the service');
    const deleted = await send('DELETE', '/mcp/session', { ...auth, 'Mcp-Session-Id': id });
    assert.equal(deleted.status, 200);
    assert.equal(await clientsOf('session'), 0, 'DELETE disconnected it');
    const again = await send('POST', '/mcp/session', { ...postHeaders, 'Mcp-Session-Id': id }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }));
    assert.equal(again.status, 404);
  });

  test('an answer that comes at once with nothing else is plain JSON; one with progress is an SSE stream', { timeout: 30_000 }, async () => {
    const id = await rawSession();
    const headers = { ...postHeaders, 'Mcp-Session-Id': id };
    const quick = await send('POST', '/mcp/everything', headers, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'plain' } } }));
    assert.equal(quick.status, 200);
    assert.match(String(quick.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(quick.body), { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'Echo: plain' }] } });
    const call = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 }, _meta: { progressToken: 'p' } } };
    const streamed = await send('POST', '/mcp/everything', headers, JSON.stringify(call));
    assert.equal(streamed.headers['content-type'], 'text/event-stream');
    const messages = streamed.body.split('\n').filter((line) => line.startsWith('data: ') && line.length > 6).map((line) => JSON.parse(line.slice(6)) as { id?: number; method?: string });
    assert.ok(messages.some((message) => message.method === 'notifications/progress'), 'progress went through');
    assert.equal(messages.at(-1)?.id, 2, 'the answer ends the stream');
  });

  test('a dropped POST stream is resumed with GET and Last-Event-ID, answer included', { timeout: 30_000 }, async () => {
    const id = await rawSession();
    const call = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 0.5, steps: 2 } } };
    const lastId = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/mcp/everything', headers: { ...postHeaders, Host: `127.0.0.1:${port}`, 'Mcp-Session-Id': id } },
        (res) => {
          assert.equal(res.headers['content-type'], 'text/event-stream');
          // The priming event (an id, no data) comes first; then the client drops the connection.
          void readEvents(res, (events) => events.length >= 1).then((events) => {
            assert.equal(events[0]?.data, '');
            req.destroy();
            resolve(events[0]?.id as string);
          }, reject);
        },
      );
      req.on('error', () => undefined);
      req.end(JSON.stringify(call));
    });
    assert.match(lastId, /^p\d+_\d+$/);
    const resumed = await new Promise<Array<{ id?: string; data: string }>>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'GET', path: '/mcp/everything', headers: { ...auth, Host: `127.0.0.1:${port}`, Accept: 'text/event-stream', 'Mcp-Session-Id': id, 'Last-Event-ID': lastId } },
        (res) => {
          assert.equal(res.statusCode, 200);
          readEvents(res, () => false).then(resolve, reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
    const answer = resumed.map((event) => JSON.parse(event.data) as { id?: number; result?: { content: Array<{ text: string }> } }).find((message) => message.id === 7);
    assert.match(answer?.result?.content[0]?.text ?? '', /Steps: 2\./);
  });
});

describe('security', () => {
  test('the token file is private and muxctl http token prints it', async () => {
    assert.equal(statSync(join(muxd.home, 'http-token')).mode & 0o777, 0o600);
    assert.ok(token.length >= 32);
    const run = await muxd.muxctl(['http', 'token']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), token);
    const url = await muxd.muxctl(['http', 'url', 'everything']);
    assert.equal(url.stdout.trim(), endpoint);
  });

  test('no token or a wrong one: 401', async () => {
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    const missing = await send('POST', '/mcp/everything', headers, JSON.stringify(INITIALIZE));
    assert.equal(missing.status, 401);
    assert.match(String(missing.headers['www-authenticate']), /^Bearer/);
    const wrong = await send('POST', '/mcp/everything', { ...headers, Authorization: `Bearer ${token.slice(0, -1)}x` }, JSON.stringify(INITIALIZE));
    assert.equal(wrong.status, 401);
    const basic = await send('POST', '/mcp/everything', { ...headers, Authorization: `Basic ${token}` }, JSON.stringify(INITIALIZE));
    assert.equal(basic.status, 401);
  });

  test('a foreign Host or Origin (DNS rebinding): 403, even with the token', async () => {
    const body = JSON.stringify(INITIALIZE);
    for (const headers of [
      { Host: 'evil.example.com' },
      { Host: `evil.example.com:${port}` },
      { Host: `localhost:${port + 1}` },
      { Origin: 'http://evil.example.com' },
      { Origin: 'null' },
    ]) {
      const res = await send('POST', '/mcp/everything', { ...postHeaders, ...headers }, body);
      assert.equal(res.status, 403, JSON.stringify(headers));
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
      const res = await send('POST', '/mcp/everything', { ...postHeaders, Host: host, Origin: `http://${host}` }, body);
      assert.equal(res.status, 200, host);
    }
  });

  test('a body over maxBodyBytes: 413 with -32032', async () => {
    const id = await rawSession();
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(100 * 1024) } } });
    const res = await send('POST', '/mcp/everything', { ...postHeaders, 'Mcp-Session-Id': id }, big);
    assert.equal(res.status, 413);
    assert.equal((JSON.parse(res.body) as { error: { code: number } }).error.code, -32032);
  });

  test('sessions: unknown 404, missing 400, unsupported MCP-Protocol-Version 400, unknown or opted-out service 404', async () => {
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.equal((await send('POST', '/mcp/everything', { ...postHeaders, 'Mcp-Session-Id': 'no-such-session' }, ping)).status, 404);
    assert.equal((await send('POST', '/mcp/everything', postHeaders, ping)).status, 400);
    const id = await rawSession();
    assert.equal((await send('POST', '/mcp/everything', { ...postHeaders, 'Mcp-Session-Id': id, 'MCP-Protocol-Version': '1999-01-01' }, ping)).status, 400);
    const ok = await send('POST', '/mcp/everything', { ...postHeaders, 'Mcp-Session-Id': id, 'MCP-Protocol-Version': '2025-06-18' }, ping);
    assert.equal(ok.status, 200);
    assert.match(ok.body, /"result":\{\}/);
    assert.equal((await send('POST', '/mcp/nothing-here', postHeaders, JSON.stringify(INITIALIZE))).status, 404);
    assert.equal((await send('POST', '/mcp/probe', postHeaders, JSON.stringify(INITIALIZE))).status, 404, 'http: false keeps a service off HTTP');
    assert.equal((await send('PUT', '/mcp/everything', auth)).status, 405);
  });
});
