import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes } from '../src/errorCodes.js';
import { MuxError, MuxErrorCodes } from '../src/muxError.js';
import { RpcConnection, RpcError } from '../src/rpcConnection.js';
import type { RpcConnectionOptions } from '../src/rpcConnection.js';

/**
 * A real Unix socket in a temp directory: the server side wraps each
 * connection in an RpcConnection with `serverOptions`; returns a connected
 * client socket.
 */
async function listen(t: TestContext, serverOptions: RpcConnectionOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'muxd-rpc-'));
  const path = join(dir, 's.sock');
  const serverConnections: RpcConnection[] = [];
  const server = createServer((socket) => serverConnections.push(new RpcConnection(socket, serverOptions)));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const sockets: Socket[] = [];
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    for (const connection of serverConnections) connection.destroy();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  const connectRaw = async () => {
    const socket = connect(path);
    sockets.push(socket);
    await once(socket, 'connect');
    return socket;
  };
  return { serverConnections, connectRaw };
}

async function pair(t: TestContext, serverOptions: RpcConnectionOptions, clientOptions: RpcConnectionOptions = {}) {
  const { serverConnections, connectRaw } = await listen(t, serverOptions);
  const client = new RpcConnection(await connectRaw(), clientOptions);
  return { client, serverConnections };
}

/** Reads NDJSON lines from a raw socket. */
function lineCollector(socket: Socket) {
  const messages: unknown[] = [];
  let buffered = '';
  const waiters: Array<() => void> = [];
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => {
    buffered += text;
    let newline;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      messages.push(JSON.parse(buffered.slice(0, newline)));
      buffered = buffered.slice(newline + 1);
    }
    for (const wake of waiters.splice(0)) wake();
  });
  const next = async (count: number) => {
    while (messages.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    return messages.slice(0, count);
  };
  return { messages, next };
}

/** A promise and its resolve function. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('RpcConnection', () => {
  test('a request gets the handler\'s result', async (t) => {
    const seen: Array<[string, unknown]> = [];
    const { client } = await pair(t, {
      onRequest: (method, params) => {
        seen.push([method, params]);
        return { echoed: params };
      },
    });
    assert.deepEqual(await client.request('echo', { x: 1 }), { echoed: { x: 1 } });
    assert.deepEqual(seen, [['echo', { x: 1 }]]);
  });

  test('a handler that returns nothing answers with an empty object', async (t) => {
    const { client } = await pair(t, { onRequest: () => undefined });
    assert.deepEqual(await client.request('stop', {}), {});
  });

  test('concurrent requests answered out of order each settle with their own answer', async (t) => {
    const gates = new Map<number, ReturnType<typeof deferred<void>>>();
    for (const n of [1, 2, 3]) gates.set(n, deferred<void>());
    const { client } = await pair(t, {
      onRequest: async (_method, params) => {
        const n = params['n'] as number;
        await gates.get(n)?.promise;
        return { n };
      },
    });
    const answers = [1, 2, 3].map((n) => client.request<{ n: number }>('slow', { n }));
    for (const n of [3, 1, 2]) gates.get(n)?.resolve();
    assert.deepEqual(await Promise.all(answers), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  test('an RpcError thrown by the handler reaches the caller with its code, message and data', async (t) => {
    const { client } = await pair(t, {
      onRequest: () => {
        throw new RpcError(ErrorCodes.InvalidParams, 'name is required', { field: 'name' });
      },
    });
    await assert.rejects(client.request('start', {}), (error: unknown) => {
      assert.ok(error instanceof RpcError);
      assert.equal(error.code, ErrorCodes.InvalidParams);
      assert.equal(error.message, 'name is required');
      assert.deepEqual(error.data, { field: 'name' });
      return true;
    });
  });

  test('a MuxError becomes a LocalFailure error carrying the MuxError code', async (t) => {
    const { client } = await pair(t, {
      onRequest: () => {
        throw new MuxError(MuxErrorCodes.ServiceUnknown, "no service named 'nope'");
      },
    });
    await assert.rejects(client.request('start', { name: 'nope' }), (error: unknown) => {
      assert.ok(error instanceof RpcError);
      assert.equal(error.code, ErrorCodes.LocalFailure);
      assert.equal(error.message, "no service named 'nope'");
      assert.deepEqual(error.data, { code: 'MUX_SERVICE_UNKNOWN' });
      return true;
    });
  });

  test('any other exception becomes an internal error, async or not', async (t) => {
    const { client } = await pair(t, {
      onRequest: async (method) => {
        if (method === 'sync') throw new TypeError('boom');
        await Promise.resolve();
        throw new Error('late boom');
      },
    });
    await assert.rejects(client.request('sync'), { name: 'RpcError', code: ErrorCodes.InternalError, message: /boom/ });
    await assert.rejects(client.request('async'), { name: 'RpcError', code: ErrorCodes.InternalError, message: /late boom/ });
  });

  test('a connection without a request handler answers MethodNotFound', async (t) => {
    const { client } = await pair(t, {});
    await assert.rejects(client.request('anything'), { code: ErrorCodes.MethodNotFound, message: /anything/ });
  });

  test('notifications reach onNotification, and the server can call back to the client', async (t) => {
    const notified = deferred<[string, unknown]>();
    const { client } = await pair(
      t,
      {
        onNotification: (method, params) => notified.resolve([method, params]),
        onRequest: async (_method, _params, connection) => ({ fromClient: await connection.request('whoami') }),
      },
      { onRequest: () => ({ me: 'client' }) },
    );
    client.notify('logs/line', { line: 'x' });
    assert.deepEqual(await notified.promise, ['logs/line', { line: 'x' }]);
    assert.deepEqual(await client.request('ask'), { fromClient: { me: 'client' } });
  });

  test('pending requests are rejected when the connection closes, and later ones fail at once', async (t) => {
    const arrived = deferred<void>();
    const { client, serverConnections } = await pair(t, {
      onRequest: () => {
        arrived.resolve();
        return new Promise(() => undefined);
      },
    });
    const first = client.request('hang');
    const second = client.request('hang');
    await arrived.promise;
    serverConnections[0]?.destroy();
    for (const pending of [first, second]) {
      await assert.rejects(pending, (error: unknown) => {
        assert.ok(error instanceof RpcError);
        assert.equal(error.code, ErrorCodes.ConnectionClosed);
        assert.match(error.message, /closed/);
        return true;
      });
    }
    await client.closed;
    assert.equal(client.isClosed, true);
    await assert.rejects(client.request('again'), { code: ErrorCodes.ConnectionClosed });
  });

  test('a request times out with RequestTimeout, a late answer is ignored, and the connection keeps working', async (t) => {
    const late = deferred<void>();
    const { client } = await pair(t, {
      onRequest: async (method) => {
        if (method === 'slow') await late.promise;
        return { method };
      },
    });
    await assert.rejects(client.request('slow', {}, 20), (error: unknown) => {
      assert.ok(error instanceof RpcError);
      assert.equal(error.code, ErrorCodes.RequestTimeout);
      assert.match(error.message, /'slow' within 20 ms/);
      return true;
    });
    late.resolve();
    assert.deepEqual(await client.request('fast', {}, 1000), { method: 'fast' });
  });

  test('a request answered in time leaves no timer behind', async (t) => {
    const { client } = await pair(t, { onRequest: () => ({}) });
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timers();
    const answer = client.request('quick', {}, 60_000);
    assert.equal(timers(), before + 1, 'the request armed its timer');
    await answer;
    assert.equal(timers(), before, 'the timer was cleared with the answer');
  });

  test('a line that is not JSON gets a ParseError, a non-JSON-RPC value an InvalidRequest', async (t) => {
    const { connectRaw } = await listen(t, { onRequest: () => ({}) });
    const socket = await connectRaw();
    const received = lineCollector(socket);
    socket.write('{"jsonrpc":\n');
    socket.write('[1,2]\n');
    const [parse, invalid] = (await received.next(2)) as Array<{ id: unknown; error: { code: number } }>;
    assert.equal(parse?.id, null);
    assert.equal(parse?.error.code, ErrorCodes.ParseError);
    assert.equal(invalid?.id, null);
    assert.equal(invalid?.error.code, ErrorCodes.InvalidRequest);
  });

  test('an oversized line is refused with RequestTooLarge and the next request is still answered', async (t) => {
    const { connectRaw } = await listen(t, { maxLineBytes: 64, onRequest: () => ({ ok: true }) });
    const socket = await connectRaw();
    const received = lineCollector(socket);
    socket.write(`{"jsonrpc":"2.0","id":1,"method":"big","params":{"x":"${'a'.repeat(200)}"}}\n`);
    socket.write('{"jsonrpc":"2.0","id":2,"method":"small"}\n');
    const [tooLarge, answer] = await received.next(2);
    assert.deepEqual(tooLarge, { jsonrpc: '2.0', id: null, error: { code: ErrorCodes.RequestTooLarge, message: 'Control message too large' } });
    assert.deepEqual(answer, { jsonrpc: '2.0', id: 2, result: { ok: true } });
  });
});
