// Protocol versions per client: hosts in the wild span 2024-11-05 to
// 2025-11-25, and some (Gemini CLI) reject a version they did not ask for.
// Clients at each version, in every order, share one child of the real
// server-everything, through mux-proxy and over the HTTP front; each is
// answered in its own version and served.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_BIN, everythingServer, startMuxd, waitFor } from './harness.js';
import { postMessage } from './httpPost.js';
import type { PostResult } from './httpPost.js';

const VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'];

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]));
}

const muxd = await startMuxd({ after }, { everything: everythingServer() }, { http: { listen: '127.0.0.1:0' } });
const base = String(muxd.daemonLog().find((entry) => entry.msg === 'HTTP front listening')?.['url']);
const token = readFileSync(join(muxd.home, 'http-token'), 'utf8').trim();

const initialize = (id: number, version: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: `client-${version}`, version: '1.0.0' } },
});
const echo = (id: number, message: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } });

/** A mux-proxy run as a host runs it, spoken to line by line. */
function proxy(): { send(message: object): void; answer(id: number): Promise<Record<string, unknown>>; close(): Promise<void> } {
  const child = spawn(process.execPath, [PROXY_BIN, 'everything'], { env: { ...process.env, ...muxd.env }, stdio: ['pipe', 'pipe', 'inherit'] });
  const received: Array<Record<string, unknown>> = [];
  let buffer = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    buffer += text;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      received.push(JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>);
      buffer = buffer.slice(newline + 1);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    send: (message) => child.stdin.write(JSON.stringify(message) + '\n'),
    answer: (id) => waitFor(`the proxy's answer to ${id}`, () => received.find((message) => message['id'] === id), 10_000),
    close: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

/** One POST to the service's endpoint. */
function post(message: object, session?: string): Promise<PostResult> {
  return postMessage(`${base}/mcp/everything`, token, message, session);
}

const text = (answer: Record<string, unknown> | undefined) => ((answer?.['result'] as { content?: Array<{ text?: string }> } | undefined)?.content?.[0]?.text);

async function childPid(): Promise<number> {
  const ls = (await muxd.muxctl(['ls', '--json'])).json<{ services: Array<{ name: string; pids: number[] }> }>();
  const pids = ls.services.find((row) => row.name === 'everything')?.pids ?? [];
  assert.equal(pids.length, 1, 'one child');
  return pids[0] as number;
}

describe('every order of protocol versions, one child', () => {
  test('through mux-proxy: each client is answered in its own version and served', { timeout: 180_000 }, async () => {
    let pid: number | undefined;
    for (const order of permutations(VERSIONS)) {
      const proxies = [];
      for (const [index, version] of order.entries()) {
        const client = proxy();
        proxies.push(client);
        client.send(initialize(1, version));
        const answer = await client.answer(1);
        assert.equal((answer['result'] as Record<string, unknown>)['protocolVersion'], version, `order ${order.join(' ')}: client ${index + 1}`);
        client.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      }
      // All four at once, each served by the same child.
      for (const [index, client] of proxies.entries()) client.send(echo(2, `v${index}`));
      for (const [index, client] of proxies.entries()) assert.equal(text(await client.answer(2)), `Echo: v${index}`);
      const now = await childPid();
      assert.equal(now, pid ?? now, 'the same child served every order');
      pid = now;
      await Promise.all(proxies.map((client) => client.close()));
    }
  });

  test('over the HTTP front: each session is answered in its own version and served', { timeout: 120_000 }, async () => {
    const pid = await childPid();
    for (const order of permutations(VERSIONS)) {
      const sessions: string[] = [];
      for (const [index, version] of order.entries()) {
        const { session, answer } = await post(initialize(1, version));
        assert.equal((answer?.['result'] as Record<string, unknown> | undefined)?.['protocolVersion'], version, `order ${order.join(' ')}: session ${index + 1}`);
        assert.ok(session);
        await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session);
        sessions.push(session);
      }
      const answers = await Promise.all(sessions.map((session, index) => post(echo(2, `h${index}`), session)));
      assert.deepEqual(answers.map(({ answer }) => text(answer)), sessions.map((_, index) => `Echo: h${index}`));
    }
    assert.equal(await childPid(), pid, 'the same child served every session');
  });
});
