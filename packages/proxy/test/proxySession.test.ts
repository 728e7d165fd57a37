// ProxySession in-process: a real Unix socket server in an mkdtemp directory
// stands in for muxd, and in-memory streams for the host's stdio.
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { Duplex } from 'node:stream';
import { ErrorCodes } from '@muxd/protocol/errorCodes';
import { connectSocket } from '@muxd/runtime/socket';
import { INPUT_ENDED_LINE, SHUTDOWN_LINE } from '@muxd/protocol/wire';
import { FatalConnectError, ProxySession } from '../src/proxySession.js';
import type { Connector, ProxyOutcome } from '../src/proxySession.js';
import { REPLAY_ID_PREFIX } from '../src/sessionState.js';

/** Polls `condition` until it holds; fails naming `what` after 10 s. */
async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One connection accepted by the fake muxd: what the proxy sent, and a way to answer. */
class Peer {
  readonly socket: Socket;
  received = '';

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8').on('data', (text: string) => (this.received += text));
    socket.on('error', () => undefined);
  }

  /** Complete lines received, parsed (blank lines skipped). */
  messages(): Array<Record<string, unknown>> {
    return this.received
      .split('\n')
      .slice(0, -1)
      .filter((text) => text !== '')
      .map((text) => JSON.parse(text) as Record<string, unknown>);
  }

  async waitForMessages(count: number): Promise<Array<Record<string, unknown>>> {
    await until(`${count} messages at muxd`, () => this.messages().length >= count);
    return this.messages();
  }

  send(text: string): void {
    this.socket.write(text);
  }
}

/** A stand-in muxd: a Unix socket server that keeps every connection it accepts; `nextPeer` hands each out once. */
async function fakeMuxd(t: TestContext): Promise<{ path: string; peers: Peer[]; nextPeer(): Promise<Peer> }> {
  const dir = mkdtempSync(join(tmpdir(), 'mux-proxy-'));
  const path = join(dir, 'service.sock');
  const peers: Peer[] = [];
  // Half-open as muxd's are: the host's end of input still gets its answers.
  const server = createServer({ allowHalfOpen: true }, (socket) => peers.push(new Peer(socket)));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(() => {
    for (const peer of peers) peer.socket.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let taken = 0;
  return {
    path,
    peers,
    async nextPeer() {
      await until('a connection to muxd', () => peers.length > taken);
      return peers[taken++] as Peer;
    },
  };
}

/**
 * One of the host's streams, in memory: keeps every byte as it is written.
 * A held stream acknowledges no write until `open()`, as a full pipe would.
 */
class HostStream extends Writable {
  readonly #chunks: Buffer[] = [];
  #held: Array<() => void> | undefined;

  constructor(options: { held?: boolean } = {}) {
    super();
    this.#held = options.held ? [] : undefined;
  }

  get text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }

  /** Complete lines written, parsed (blank lines skipped). */
  messages(): Array<Record<string, unknown>> {
    return this.text
      .split('\n')
      .slice(0, -1)
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#chunks.push(chunk);
    if (this.#held) this.#held.push(callback);
    else callback();
  }

  open(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const callback of held) callback();
  }
}

/** The host's side of a session, in memory. */
class Host {
  readonly input = new PassThrough();
  readonly output: HostStream;
  readonly error = new HostStream();

  constructor(output = new HostStream()) {
    this.output = output;
  }

  get stdio(): { input: PassThrough; output: HostStream; error: HostStream } {
    return { input: this.input, output: this.output, error: this.error };
  }
}

/** A connector to the fake muxd's socket that counts its reconnects; `reconnect` can be replaced. */
function connectorTo(path: string): Connector & { reconnects: number; onReconnect: () => Promise<Duplex> } {
  const connector = {
    label: 'probe',
    reconnects: 0,
    onReconnect: (): Promise<Duplex> => connectSocket(path),
    connect: (): Promise<Duplex> => connectSocket(path),
    reconnect(): Promise<Duplex> {
      connector.reconnects++;
      return connector.onReconnect();
    },
  };
  return connector;
}

function startSession(t: TestContext, host: Host, connector: Connector): { outcome: Promise<ProxyOutcome>; settled: () => boolean } {
  const session = new ProxySession(host.stdio, connector, { reconnectMs: 10_000 });
  t.after(() => session.destroy());
  let settled = false;
  const outcome = session.run().finally(() => (settled = true));
  return { outcome, settled: () => settled };
}

const line = (message: object): string => JSON.stringify(message) + '\n';
const request = (id: number | string, method: string, params: object = {}): string => line({ jsonrpc: '2.0', id, method, params });
const answer = (id: number | string, result: object = {}): string => line({ jsonrpc: '2.0', id, result });
const initializeParams = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'host', version: '1' } };

describe('ProxySession', () => {
  test('passes bytes through unchanged both ways, and ends 0 once the host ends and muxd answered', async (t) => {
    const muxd = await fakeMuxd(t);
    const host = new Host();
    const { outcome } = startSession(t, host, connectorTo(muxd.path));

    // In pieces that split lines and characters, the first before muxd answers the connection.
    const fromHost = request(1, 'tools/call', { name: 'echo', arguments: { message: 'é'.repeat(50_000) } }) + '{"not json at all\n' + request('two', 'tools/list');
    const bytes = Buffer.from(fromHost);
    host.input.write(bytes.subarray(0, 4093));
    const peer = await muxd.nextPeer();
    for (let start = 4093; start < bytes.length; start += 4093) host.input.write(bytes.subarray(start, start + 4093));
    await until('the host bytes at muxd', () => peer.received.length >= fromHost.length);
    assert.ok(peer.received === fromHost, 'the host bytes reach muxd unchanged');

    const fromMuxd = answer(1, { content: [{ type: 'text', text: 'ü'.repeat(30_000) }] }) + line({ jsonrpc: '2.0', method: 'notifications/message', params: {} }) + 'garbage\n';
    const out = Buffer.from(fromMuxd);
    peer.socket.write(out.subarray(0, 10_001));
    peer.socket.write(out.subarray(10_001));
    await until('muxd bytes at the host', () => host.output.text.length >= fromMuxd.length);
    assert.ok(host.output.text === fromMuxd, 'muxd bytes reach the host unchanged');

    host.input.end();
    await until('the end of input at muxd', () => peer.received.endsWith(INPUT_ENDED_LINE));
    peer.send(answer('two', { tools: [] }));
    peer.socket.end();
    assert.deepEqual(await outcome, { reason: 'host-ended' });
    assert.ok(host.output.text === fromMuxd + answer('two', { tools: [] }), 'then the last answer');
    assert.equal(host.error.text, '');
  });

  test('when muxd goes, each request in flight gets one -32000 error and is never resent; the session is replayed on the new connection', async (t) => {
    const muxd = await fakeMuxd(t);
    const host = new Host();
    const connector = connectorTo(muxd.path);
    startSession(t, host, connector);
    const first = await muxd.nextPeer();

    host.input.write(request(0, 'initialize', initializeParams) + line({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    host.input.write(request(1, 'resources/subscribe', { uri: 'test://a' }) + request(2, 'logging/setLevel', { level: 'debug' }));
    await first.waitForMessages(4);
    first.send(answer(0, { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'probe', version: '1' } }) + answer(1) + answer(2));
    host.input.write(request(3, 'tools/call', { name: 'sleep' }) + request('four', 'tools/call', { name: 'sleep' }));
    await first.waitForMessages(6);
    await until('the answers at the host', () => host.output.messages().length === 3);

    // The next connection waits until the test lets it through, so that the host can write in between.
    let letThrough: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (letThrough = resolve));
    connector.onReconnect = async () => {
      await gate;
      return connectSocket(muxd.path);
    };
    first.socket.destroy();
    await until('the error answers', () => host.output.messages().length === 5);
    const errors = host.output.messages().slice(3);
    assert.deepEqual(
      errors.map((message) => [message['id'], (message['error'] as { code: number }).code]),
      [
        [3, ErrorCodes.ConnectionClosed],
        ['four', ErrorCodes.ConnectionClosed],
      ],
    );
    assert.match(String((errors[0]?.['error'] as { message: string }).message), /it was not retried/);
    assert.match(host.error.text, /lost muxd; reconnecting to 'probe'/);

    // Written while no muxd is there: it waits, and goes out after the replay.
    host.input.write(request(5, 'tools/list'));
    letThrough();
    const second = await muxd.nextPeer();
    const replayed = await second.waitForMessages(5);
    assert.deepEqual(
      replayed.map((message) => [message['method'], message['params']]),
      [
        ['initialize', initializeParams],
        ['notifications/initialized', undefined],
        ['resources/subscribe', { uri: 'test://a' }],
        ['logging/setLevel', { level: 'debug' }],
        ['tools/list', {}],
      ],
    );
    const replayIds = replayed.slice(0, 4).flatMap((message) => (message['id'] === undefined ? [] : [message['id'] as string]));
    assert.equal(replayIds.length, 3);
    assert.ok(replayIds.every((id) => id.startsWith(REPLAY_ID_PREFIX)));
    assert.equal(replayed[4]?.['id'], 5);
    assert.equal(connector.reconnects, 1);

    // The replay's answers are the proxy's own: the host never sees them. One chunk carries them and a host answer.
    second.send(replayIds.map((id) => answer(id)).join('') + answer(5, { tools: [] }));
    await until('the answer to 5', () => host.output.messages().length === 6);
    assert.deepEqual(host.output.messages()[5], { jsonrpc: '2.0', id: 5, result: { tools: [] } });
    await until('the reconnect message', () => /reconnected to 'probe'/.test(host.error.text));

    // Back to raw bytes: a later answer passes unchanged.
    host.input.write(request(6, 'tools/list'));
    await second.waitForMessages(6);
    second.send('{"jsonrpc":"2.0","id":6,"result":{"tools":[]}}\n');
    await until('the answer to 6', () => host.output.messages().length === 7);
    // Nothing in flight at the first muxd reached the second.
    assert.ok(second.messages().every((message) => message['id'] !== 3 && message['id'] !== 'four'));
  });

  test('a connection lost mid-line ends that line for the host before the error answers', async (t) => {
    const muxd = await fakeMuxd(t);
    const host = new Host();
    startSession(t, host, connectorTo(muxd.path));
    const first = await muxd.nextPeer();
    host.input.write(request(1, 'tools/call', { name: 'big' }));
    await first.waitForMessages(1);
    first.send('{"jsonrpc":"2.0","id":1,"res');
    await until('the partial answer', () => host.output.text.length > 0);
    first.socket.destroy();
    await until('the error answer', () => host.output.text.includes('-32000'));
    const lines = host.output.text.split('\n');
    assert.equal(lines[0], '{"jsonrpc":"2.0","id":1,"res');
    assert.deepEqual(JSON.parse(lines[1] as string), {
      jsonrpc: '2.0',
      id: 1,
      error: { code: ErrorCodes.ConnectionClosed, message: "muxd stopped while handling this request; it was not retried. muxd is restarting 'probe'" },
    });
    // On the new connection the first answer is read as an answer, so a second loss owes the host nothing for it.
    const second = await muxd.nextPeer();
    host.input.write(request(2, 'tools/list'));
    await second.waitForMessages(1);
    second.send(answer(2, { tools: [] }));
    // The first line is the half answer cut off above: only whole lines after it are messages.
    const aboutTwo = (): unknown[] => host.output.text.split('\n').slice(1, -1).map((text) => JSON.parse(text) as Record<string, unknown>).filter((message) => message['id'] === 2);
    await until('the answer to 2', () => aboutTwo().length > 0);
    second.socket.destroy();
    await muxd.nextPeer();
    await until('the session to reconnect', () => /reconnected to 'probe'/.test(host.error.text));
    assert.deepEqual(aboutTwo(), [{ jsonrpc: '2.0', id: 2, result: { tools: [] } }], 'answered once, and no error after it');
  });

  test("muxd's shutdown notice ends the session (exit 1) instead of reconnecting", async (t) => {
    const muxd = await fakeMuxd(t);
    const host = new Host();
    const connector = connectorTo(muxd.path);
    const { outcome } = startSession(t, host, connector);
    const peer = await muxd.nextPeer();
    host.input.write(request(1, 'tools/list'));
    await peer.waitForMessages(1);
    peer.send(SHUTDOWN_LINE);
    peer.socket.end();
    assert.deepEqual(await outcome, { reason: 'muxd-shutdown' });
    assert.equal(connector.reconnects, 0);
    assert.equal(host.error.text, 'mux-proxy: muxd shut down\n');
    assert.equal(host.output.text, SHUTDOWN_LINE, 'the notice reaches the host; nothing is made up');
  });

  test('an error answer written just before the end is delivered before the session ends', async (t) => {
    const muxd = await fakeMuxd(t);
    const output = new HostStream({ held: true });
    const host = new Host(output);
    const connector = connectorTo(muxd.path);
    connector.onReconnect = () => Promise.reject(new FatalConnectError("muxd is running but no longer has service 'probe'"));
    const { outcome, settled } = startSession(t, host, connector);
    const peer = await muxd.nextPeer();
    host.input.write(request(7, 'tools/call', { name: 'sleep' }));
    await peer.waitForMessages(1);
    peer.socket.destroy();

    await until('the session to give up', () => /no longer has service/.test(host.error.text));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled(), false, 'it waits while the host has not taken the error answer');
    output.open();
    assert.deepEqual(await outcome, { reason: 'failed', message: "muxd is running but no longer has service 'probe'" });
    assert.deepEqual(JSON.parse(output.text), {
      jsonrpc: '2.0',
      id: 7,
      error: { code: ErrorCodes.ConnectionClosed, message: "muxd stopped while handling this request; it was not retried. muxd is restarting 'probe'" },
    });
    assert.equal(host.error.text, "mux-proxy: lost muxd; reconnecting to 'probe'\nmux-proxy: muxd is running but no longer has service 'probe'\n");
  });

  test('a failed reconnect attempt is tried again; a first connection that fails ends the session with its reason', async (t) => {
    const muxd = await fakeMuxd(t);
    const host = new Host();
    const connector = connectorTo(muxd.path);
    let failures = 1;
    connector.onReconnect = () => (failures-- > 0 ? Promise.reject(new Error('ECONNREFUSED')) : connectSocket(muxd.path));
    startSession(t, host, connector);
    (await muxd.nextPeer()).socket.destroy();
    await muxd.nextPeer();
    assert.equal(connector.reconnects, 2);

    const other = new Host();
    const refused: Connector = { label: 'gone', connect: () => Promise.reject(new Error("muxd has no service 'gone'")), reconnect: () => assert.fail('not reconnecting') };
    const { outcome } = startSession(t, other, refused);
    assert.deepEqual(await outcome, { reason: 'failed', message: "muxd has no service 'gone'" });
    assert.equal(other.error.text, "mux-proxy: muxd has no service 'gone'\n");
    assert.equal(other.output.text, '');
  });
});
