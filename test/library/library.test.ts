/**
 * The library (`import { createMux, checkHealth } from 'muxd'`, the built
 * package) with real MCP servers as children and the real SDK client in
 * process: sharing, sockets, shutdown by AbortSignal, health checks.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { checkHealth, createMux } from 'muxd';
import type { MuxHost } from 'muxd';
import { ROOT, RawClient, everythingServer, memoryServer, toolText, waitFor } from '../e2e/harness.js';
import { isAlive, processGroup } from '../procfs.js';

let dir: string;
before(() => {
  assert.ok(existsSync(join(ROOT, 'packages/muxd/dist/index.js')), 'the muxd package is not built: run npm run build');
  dir = mkdtempSync(join(tmpdir(), 'muxd-library-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A memory server whose graph lives in this test's directory. */
function memory(name: string) {
  return memoryServer(join(dir, `${name}.jsonl`));
}

async function connectClient(mux: MuxHost, service: string, t: { after(fn: () => unknown): void }): Promise<Client> {
  const client = new Client({ name: `test-${service}`, version: '1.0.0' });
  await client.connect(mux.service(service).connect());
  t.after(() => client.close());
  return client;
}

describe('createMux', () => {
  it('runs two services in one process, each with its own child, through in-process clients', async (t) => {
    const mux = await createMux({ services: { memory: memory('two'), everything: everythingServer() } });
    t.after(() => mux.close());
    assert.deepEqual(mux.names, ['memory', 'everything']);
    const memoryClient = await connectClient(mux, 'memory', t);
    const everythingClient = await connectClient(mux, 'everything', t);
    const memoryTools = (await memoryClient.listTools()).tools.map((tool) => tool.name);
    assert.ok(memoryTools.includes('read_graph'), memoryTools.join(', '));
    const echo = await everythingClient.callTool({ name: 'echo', arguments: { message: 'through the library' } });
    assert.match(toolText(echo as never), /through the library/);
    const [memoryPid] = mux.service('memory').state().pids;
    const [everythingPid] = mux.service('everything').state().pids;
    assert.ok(memoryPid && everythingPid && memoryPid !== everythingPid);
    assert.equal(mux.service('memory').socketPath, undefined);
  });

  it('shares one child between a client on the socket and one in process', async (t) => {
    const mux = await createMux({ services: { memory: memory('shared') }, socketDir: join(dir, 'sockets-shared') });
    t.after(() => mux.close());
    const socketPath = mux.service('memory').socketPath;
    assert.equal(socketPath, join(dir, 'sockets-shared', 'memory.sock'));
    const inProcess = await connectClient(mux, 'memory', t);
    await inProcess.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'from-in-process', entityType: 'test', observations: [] }] } });
    const raw = await RawClient.connect(t, socketPath as string);
    await raw.initialize();
    raw.send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'read_graph', arguments: {} } });
    const answer = await raw.waitFor('read_graph', (message) => message['id'] === 7);
    assert.match(JSON.stringify(answer), /from-in-process/);
    const state = mux.service('memory').state();
    assert.equal(state.pids.length, 1);
    assert.equal(state.clients, 2);
  });

  it('stops every child and its process group when the signal is aborted', async () => {
    const controller = new AbortController();
    const mux = await createMux({
      services: { memory: memory('abort'), everything: everythingServer({ isolation: 'per-client' }) },
      signal: controller.signal,
    });
    const clients = [new Client({ name: 'a', version: '1' }), new Client({ name: 'b', version: '1' }), new Client({ name: 'c', version: '1' })];
    await clients[0]!.connect(mux.service('memory').connect());
    await clients[1]!.connect(mux.service('everything').connect());
    await clients[2]!.connect(mux.service('everything').connect());
    const pids = [...mux.service('memory').state().pids, ...mux.service('everything').state().pids];
    assert.equal(pids.length, 3, `one memory child and one everything child per client: ${pids.join(', ')}`);
    const groups = pids.flatMap((pid) => processGroup(pid));
    assert.ok(groups.length >= 3);
    const closedByServer = Promise.all(clients.map((client) => new Promise<void>((resolve) => (client.onclose = () => resolve()))));
    controller.abort();
    await mux.closed;
    for (const pid of groups) assert.equal(isAlive(pid), false, `pid ${pid} is still running`);
    await closedByServer;
    assert.equal(mux.service('memory').state().status, 'stopped');
  });

  it('refuses invalid options with a message naming the key, and starts nothing', async () => {
    await assert.rejects(
      createMux({ services: { memory: { command: 'node', args: 'server.js' } as never } }),
      (error: Error & { code?: string }) => error.code === 'MUX_CONFIG_INVALID' && /^createMux: services\.memory\.args: /.test(error.message),
    );
    await assert.rejects(createMux({ services: {} }), /createMux: services: give at least one service/);
    await assert.rejects(createMux({ services: { 'bad name': { command: 'node' } } }), /createMux: services\.bad name: service names use/);
  });

  it('refuses a service name it does not have, naming those it has', async (t) => {
    const mux = await createMux({ services: { memory: memory('names') } });
    t.after(() => mux.close());
    assert.throws(() => mux.service('nope'), /no service 'nope' \(configured: memory\)/);
  });

  it('throws the reason of a signal aborted before it starts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gave up'));
    await assert.rejects(createMux({ services: { memory: memory('early') }, signal: controller.signal }), /gave up/);
  });
});

describe('an in-process transport', () => {
  it('refuses to send once closed, and a second start', async (t) => {
    const mux = await createMux({ services: { memory: memory('transport') } });
    t.after(() => mux.close());
    const transport = mux.service('memory').connect();
    await transport.start();
    await assert.rejects(transport.start(), /already started/);
    let closes = 0;
    transport.onclose = () => closes++;
    await transport.close();
    await transport.close();
    assert.equal(closes, 1);
    await assert.rejects(transport.send({ jsonrpc: '2.0', method: 'ping', id: 1 }), /not connected to service 'memory'/);
  });
});

describe('checkHealth', () => {
  it('initializes and pings a live service, and reports a dead socket without throwing', async (t) => {
    const mux = await createMux({ services: { memory: memory('health') }, socketDir: join(dir, 'sockets-health') });
    t.after(() => mux.close());
    const socketPath = mux.service('memory').socketPath as string;
    const live = await checkHealth(socketPath, { timeoutMs: 10_000 });
    assert.equal(live.ok, true, live.error ?? '');
    assert.equal(live.serverInfo?.name, 'memory-server');
    assert.equal(typeof live.latencyMs, 'number');
    assert.equal(live.error, null);
    await mux.close();
    const dead = await checkHealth(socketPath, { timeoutMs: 10_000 });
    assert.equal(dead.ok, false);
    assert.equal(dead.latencyMs, null);
    assert.match(dead.error ?? '', /ENOENT/);
  });

  it('says aborted when its signal is', async () => {
    const result = await checkHealth(join(dir, 'none.sock'), { signal: AbortSignal.abort() });
    assert.deepEqual(result, { ok: false, latencyMs: null, serverInfo: null, error: 'aborted' });
  });
});

describe('a lazy service', () => {
  it('starts its child on the first in-process client', async (t) => {
    const mux = await createMux({ services: { memory: memory('lazy') } });
    t.after(() => mux.close());
    assert.equal(mux.service('memory').state().status, 'idle');
    assert.deepEqual(mux.service('memory').state().pids, []);
    await connectClient(mux, 'memory', t);
    await waitFor('the child', () => mux.service('memory').state().status === 'online');
    assert.equal(mux.service('memory').state().pids.length, 1);
  });
});
