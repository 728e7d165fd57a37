// Per-service metrics: what muxd counts of real requests through mux-proxy,
// read back through the control socket (`metrics`), `muxctl ls --json` and
// the Prometheus text at GET /metrics on the HTTP front.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { EmptyResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { ListResult, MetricsResult, ServiceMetrics } from '@muxd/protocol';
import { RawClient, everythingServer, startMuxd, waitFor } from './harness.js';
import { postMessage } from './httpPost.js';

const muxd = await startMuxd(
  { after },
  { everything: everythingServer({ requestTimeout: '4s' }), limited: everythingServer({ maxClients: 1 }) },
  { http: { listen: '127.0.0.1:0' } },
);
const base = (muxd.daemonLog().find((entry) => entry.msg === 'HTTP front listening')?.['url'] ?? '') as string;
const port = Number(new URL(base).port);
const token = readFileSync(join(muxd.home, 'http-token'), 'utf8').trim();

/** Asks the control socket, as muxctl does: `hello`, then `metrics`. */
async function metrics(name?: string, service = name ?? 'everything'): Promise<ServiceMetrics> {
  const control = await RawClient.connect({ after }, muxd.controlSocket);
  control.send({ jsonrpc: '2.0', id: 1, method: 'hello', params: { client: 'e2e', version: '0', protocol: 1 } });
  await control.waitFor('hello answer', (message) => message['id'] === 1);
  control.send({ jsonrpc: '2.0', id: 2, method: 'metrics', params: name === undefined ? {} : { name } });
  const answer = await control.waitFor('metrics answer', (message) => message['id'] === 2);
  control.socket.destroy();
  assert.equal(answer['error'], undefined, JSON.stringify(answer['error']));
  const result = answer['result'] as MetricsResult;
  const found = result.services.find((entry) => entry.name === service);
  assert.ok(found, 'metrics lists the service');
  return found;
}

function scrape(headers: Record<string, string>): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', headers: { Host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('tool calls, errors and timeouts are counted by method and tool, with latencies and the client that made them', async (t) => {
  const { client, callText } = await muxd.connect(t, 'everything', { name: 'metrics-e2e' });
  for (let index = 0; index < 5; index++) assert.equal(await callText('echo', { message: `hi ${index}` }), `Echo: hi ${index}`);
  // An unknown method: the server answers with a JSON-RPC error.
  await assert.rejects(client.request({ method: 'no/such/method', params: {} }, EmptyResultSchema));
  // Slower than the service's 4 s requestTimeout: muxd gives up on it.
  await assert.rejects(client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 8, steps: 1 } }), /timed out/);

  const service = await metrics('everything');
  assert.equal(service.byTool['echo']?.requests, 5);
  assert.equal(service.byTool['echo']?.errors, 0);
  assert.notEqual(service.byTool['echo']?.p50Ms, null);
  assert.equal(service.byTool['trigger-long-running-operation']?.timeouts, 1);
  assert.equal(service.byMethod['tools/call']?.requests, 6);
  assert.equal(service.byMethod['no/such/method']?.errors, 1);
  // A timeout is counted apart from the errors.
  assert.equal(service.errors, 1);
  assert.equal(service.timeouts, 1);
  assert.ok(service.requests >= 7);
  assert.notEqual(service.latency.sinceStart.p50Ms, null);
  assert.notEqual(service.latency.lastMinute.p99Ms, null);
  assert.ok(service.ratePerS > 0);
  const me = service.sessions.clients.find((session) => session.clientName === 'metrics-e2e');
  assert.ok(me, `sessions list the client by its initialize name: ${JSON.stringify(service.sessions.clients)}`);
  assert.equal(me.transport, 'socket');
  assert.equal(me.clientVersion, '1.0.0');
  assert.ok(service.sessions.total >= 1);

  const run = await muxd.muxctl(['ls', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const row = run.json<ListResult>().services.find((entry) => entry.name === 'everything');
  assert.ok(row?.metrics, 'ls --json rows carry a metrics summary');
  assert.equal(row.metrics.timeouts, 1);
  assert.ok(row.metrics.requests >= 7);
  assert.notEqual(row.metrics.p50Ms, null);

  const wide = await muxd.muxctl(['ls', '--wide']);
  assert.equal(wide.code, 0, wide.stderr);
  assert.match(wide.stdout.split('\n')[0] ?? '', /REQ\/S\s+P50\s+P99\s+ERRORS/);
  assert.match(wide.stdout, /everything .*1 \+1 timeout/);
  const narrow = await muxd.muxctl(['ls']);
  assert.doesNotMatch(narrow.stdout, /REQ\/S/);
  const described = await muxd.muxctl(['describe', 'everything']);
  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stdout, /by tool\s+echo: 5 \(0 failed\)/);
  assert.match(described.stdout, /client\s+metrics-e2e 1\.0\.0 over mux-proxy/);
  const describedJson = await muxd.muxctl(['describe', 'everything', '--json']);
  assert.equal(describedJson.json<{ metrics: ServiceMetrics }>().metrics.byTool['echo']?.requests, 5);

  await client.close();
  await waitFor('the session to end', async () => !(await metrics('everything')).sessions.clients.some((session) => session.clientName === 'metrics-e2e'));
});

test('GET /metrics answers the Prometheus text with the token, and refuses without it', async (t) => {
  const { callText } = await muxd.connect(t, 'everything', { name: 'scraped' });
  await callText('echo', { message: 'scrape me' });
  const refused = await scrape({});
  assert.equal(refused.status, 401);
  assert.doesNotMatch(refused.body, /muxd_/);
  const wrong = await scrape({ Authorization: 'Bearer not-the-token' });
  assert.equal(wrong.status, 401);
  const scraped = await scrape({ Authorization: `Bearer ${token}` });
  assert.equal(scraped.status, 200);
  assert.match(scraped.type, /^text\/plain/);
  const echoes = (await metrics('everything')).byTool['echo']?.requests;
  assert.ok(scraped.body.includes(`muxd_tool_calls_total{service="everything",tool="echo"} ${echoes}`), scraped.body);
  assert.match(scraped.body, /# TYPE muxd_request_duration_seconds histogram/);
  assert.match(scraped.body, /muxd_request_duration_seconds_bucket\{service="everything",le="\+Inf"\} \d+/);
  assert.match(scraped.body, /muxd_requests_total\{service="everything",method="tools\/call"\} \d+/);
  assert.match(scraped.body, /muxd_sessions\{service="everything",transport="socket"\} [1-9]/);
});

test('a client sending 10,000 distinct method names does not grow the label set past its bound', async (t) => {
  const raw = await RawClient.connect(t, muxd.socketPath('everything'));
  await raw.initialize();
  const before = await metrics('everything');
  const sent = 10_000;
  for (let index = 0; index < sent; index++) raw.send({ jsonrpc: '2.0', id: index, method: `hostile/${index}`, params: {} });
  await waitFor('every hostile request answered', () => raw.messages.filter((message) => typeof message['id'] === 'number').length >= sent, 60_000);
  const service = await metrics('everything');
  const labels = Object.keys(service.byMethod);
  assert.ok(labels.length <= 201, `${labels.length} method labels`);
  assert.ok((service.byMethod['other']?.requests ?? 0) >= sent - 200);
  assert.equal(service.requests - before.requests, sent);
  const scraped = await scrape({ Authorization: `Bearer ${token}` });
  const series = scraped.body.split('\n').filter((line) => line.startsWith('muxd_requests_total{'));
  assert.ok(series.length <= 201, `${series.length} muxd_requests_total series`);
});

test('HTTP sessions the service refuses (over maxClients) are not left among who is connected', async (t) => {
  const { client } = await muxd.connect(t, 'limited', { name: 'the-one' });
  await client.ping();
  const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'refused', version: '1' } } };
  for (let attempt = 0; attempt < 5; attempt++) {
    const { answer } = await postMessage(`${base}/mcp/limited`, token, initialize);
    assert.match(JSON.stringify(answer?.['error']), /too many clients/, 'the service refuses a second client');
  }
  const limited = await metrics('limited');
  assert.equal(limited.sessions.now, 1, JSON.stringify(limited.sessions));
  assert.deepEqual(limited.sessions.clients.map((session) => session.clientName), ['the-one']);
  assert.equal(limited.sessions.total, 6);
});
