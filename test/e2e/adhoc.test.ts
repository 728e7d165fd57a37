// mux-proxy -- COMMAND ARGS...: sharing a server that is not in muxd's config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { PROXY_BIN, ROOT, startMuxd, waitFor } from './harness.js';
import type { Muxd } from './harness.js';
import { allPids, readCmdline, readEnviron } from '../procfs.js';

const MEMORY = join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');

/** A host entry that runs the server through mux-proxy's zero-config form. */
async function adhocClient(t: { after(fn: () => unknown): void }, muxd: Muxd, env: Record<string, string>, envNames: string[]): Promise<Client> {
  const client = new Client({ name: 'adhoc-test', version: '1' });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [PROXY_BIN, '--env', envNames.join(','), '--', process.execPath, MEMORY],
    env: { ...(process.env as Record<string, string>), MUXD_HOME: muxd.home, ...env },
    cwd: muxd.home,
    stderr: 'pipe',
  });
  await client.connect(transport);
  t.after(() => client.close());
  return client;
}

/** Live processes running server-memory with MUXD_HOME = home, by the file they write. */
function memoryChildren(home: string): Map<number, string> {
  const found = new Map<number, string>();
  for (const pid of allPids()) {
    if (readCmdline(pid)?.[1] !== MEMORY) continue; // the server itself, not a proxy naming it
    const env = readEnviron(pid);
    if (!env?.includes(`MUXD_HOME=${home}`)) continue;
    found.set(pid, env.find((line) => line.startsWith('MEMORY_FILE_PATH=')) ?? '');
  }
  return found;
}

test('sessions with the same ad-hoc entry share one child; a different token gets its own', { timeout: 60_000 }, async (t) => {
  const muxd = await startMuxd(t, {});
  const fileA = join(muxd.home, 'a.jsonl');
  const sameA = { MEMORY_FILE_PATH: fileA, API_TOKEN: 'token-a' };
  const first = await adhocClient(t, muxd, sameA, ['MEMORY_FILE_PATH', 'API_TOKEN']);
  const second = await adhocClient(t, muxd, sameA, ['MEMORY_FILE_PATH', 'API_TOKEN']);
  await first.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'shared', entityType: 'x', observations: ['from first'] }] } });
  // One child, and it holds what the first session wrote.
  assert.match(JSON.stringify(await second.callTool({ name: 'read_graph', arguments: {} })), /from first/);
  assert.equal(memoryChildren(muxd.home).size, 1);

  const other = await adhocClient(t, muxd, { MEMORY_FILE_PATH: fileA, API_TOKEN: 'token-b' }, ['MEMORY_FILE_PATH', 'API_TOKEN']);
  await other.callTool({ name: 'read_graph', arguments: {} });
  await waitFor('a second child for the other token', () => memoryChildren(muxd.home).size === 2 || undefined);

  const ls = (await muxd.muxctl(['ls', '--json'])).json<{ services: Array<{ name: string; clients: number; status: string }> }>();
  const adhoc = ls.services.filter((service) => service.name.startsWith('adhoc-'));
  assert.equal(adhoc.length, 2, JSON.stringify(ls));
  assert.deepEqual(adhoc.map((service) => service.clients).sort(), [1, 2]);
  // The token is a secret: muxctl never shows it.
  const describe = await muxd.muxctl(['describe', adhoc[0]?.name ?? '', '--json']);
  assert.doesNotMatch(describe.stdout, /token-a|token-b/);
  assert.match(describe.stdout, /API_TOKEN/);
});

test('mux-proxy -- with a command that does not exist fails the session with a clear error', { timeout: 30_000 }, async (t) => {
  const muxd = await startMuxd(t, {});
  const client = new Client({ name: 'adhoc-missing', version: '1' });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [PROXY_BIN, '--', 'no-such-mcp-server-command'],
    env: { ...(process.env as Record<string, string>), MUXD_HOME: muxd.home },
    stderr: 'pipe',
  });
  t.after(() => client.close());
  await assert.rejects(client.connect(transport), /command not found: no-such-mcp-server-command/);
});
