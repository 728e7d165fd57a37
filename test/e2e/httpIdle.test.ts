// HTTP sessions their hosts never end: Claude Code's `mcp list` and `-p`, the
// SDK and mcp-remote all leave them open. They must not be counted as
// clients in use, nor keep a lazy service's child up; when one speaks again,
// it is served.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { everythingServer, startMuxd, waitFor } from './harness.js';
import { postMessage } from './httpPost.js';
import type { PostResult } from './httpPost.js';

const muxd = await startMuxd(
  { after },
  { everything: everythingServer({ lazy: true, idleTimeout: '1s' }) },
  { http: { listen: '127.0.0.1:0', sessionIdleAfter: '1s' } },
);
const base = String(muxd.daemonLog().find((entry) => entry.msg === 'HTTP front listening')?.['url']);
const token = readFileSync(join(muxd.home, 'http-token'), 'utf8').trim();

interface Row {
  name: string;
  status: string;
  pids: number[];
  clients: number;
  idleClients: number;
}

async function row(): Promise<Row> {
  const ls = (await muxd.muxctl(['ls', '--json'])).json<{ services: Row[] }>();
  return ls.services.find((candidate) => candidate.name === 'everything') as Row;
}

/** One POST to the service's endpoint. */
function post(message: object, session?: string): Promise<PostResult> {
  return postMessage(`${base}/mcp/everything`, token, message, session);
}

test('sessions left open are counted idle, apart from clients in use; they keep no child up; one that speaks again is served', { timeout: 60_000 }, async (t) => {
  const sessions: string[] = [];
  for (let n = 0; n < 3; n++) {
    const { session } = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: `left-open-${n}`, version: '1' } } });
    assert.ok(session);
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session);
    const { answer } = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, session);
    assert.ok(answer?.['result'], 'served while in use');
    sessions.push(session);
  }
  const proxy = await muxd.connect(t, 'everything', { name: 'in use' });
  assert.equal((await row()).pids.length, 1);

  const idle = await waitFor('the sessions left open to count as idle', async () => {
    const current = await row();
    return current.idleClients === 3 ? current : undefined;
  }, 15_000);
  assert.equal(idle.clients, 1, 'only the mux-proxy client is in use');
  assert.match((await muxd.muxctl(['ls'])).stdout, /1 \(\+3 idle\)/);

  // The client in use leaves: only idle sessions remain, and the lazy service stops its child.
  await proxy.close();
  const stopped = await waitFor('the child to stop for lack of clients in use', async () => {
    const current = await row();
    return current.pids.length === 0 ? current : undefined;
  }, 15_000);
  assert.equal(stopped.status, 'idle');
  assert.equal(stopped.idleClients, 3, 'the sessions are still there');

  // One of them speaks again: the child starts and answers it, in the same session.
  const { answer } = await post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { message: 'back' } } }, sessions[0]);
  assert.deepEqual((answer?.['result'] as { content: unknown[] } | undefined)?.content, [{ type: 'text', text: 'Echo: back' }]);
  assert.equal((await row()).pids.length, 1, 'the child is up again');
});
