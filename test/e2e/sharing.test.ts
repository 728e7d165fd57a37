// Many clients, one server process: each client must see what it would see
// talking to a private server, and nothing that belongs to another client.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CreateMessageRequest, ElicitRequest, Progress } from '@modelcontextprotocol/sdk/types.js';
import { everythingServer, fixtureServer, memoryServer, startMuxd, waitFor } from './harness.js';
import type { TestClient } from './harness.js';

const muxd = await startMuxd({ after }, {
  everything: everythingServer(),
  probe: fixtureServer('probe'),
  // Lazy, never used before its test: the first clients arrive together.
  probe2: fixtureServer('probe'),
  memory: memoryServer(),
});

describe('one shared child', () => {
  test('three clients through mux-proxy share one server-everything process and each gets its own echo', { timeout: 30_000 }, async (t) => {
    const clients = await Promise.all([0, 1, 2].map((n) => muxd.connect(t, 'everything', { name: `client-${n}` })));
    const pids = await muxd.waitForChildren('everything', 1);
    for (const [n, c] of clients.entries()) {
      assert.equal(await c.callText('echo', { message: `hello from ${n}` }), `Echo: hello from ${n}`);
    }
    assert.deepEqual(muxd.childPids('everything'), pids, 'still the same single child after every client was served');
    for (const c of clients) assert.deepEqual(c.errors, []);
  });

  test('16 concurrent clients making concurrent calls get only their own answers', { timeout: 60_000 }, async (t) => {
    const CLIENTS = 16;
    const CALLS = 6;
    const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, n) => muxd.connect(t, 'everything', { name: `c${n}` })));
    let misdelivered = 0;
    let answered = 0;
    await Promise.all(
      clients.map((c, n) =>
        Promise.all(
          Array.from({ length: CALLS }, async (_, k) => {
            const text = await c.callText('echo', { message: `client ${n} call ${k}` });
            answered++;
            if (text !== `Echo: client ${n} call ${k}`) misdelivered++;
          }),
        ),
      ),
    );
    assert.equal(answered, CLIENTS * CALLS);
    assert.equal(misdelivered, 0);
    // An answer with a foreign id would have surfaced as an SDK error.
    assert.deepEqual(clients.flatMap((c) => c.errors.map(String)), []);
    assert.equal(muxd.childPids('everything').length, 1);
  });
});

describe('initialize', () => {
  test('concurrent first clients and a later client cause exactly one initialize upstream', { timeout: 30_000 }, async (t) => {
    assert.deepEqual(muxd.childPids('probe2'), [], 'lazy: no child before the first client');
    const first = await Promise.all([0, 1, 2].map((n) => muxd.connect(t, 'probe2', { name: `first-${n}` })));
    const later = await muxd.connect(t, 'probe2', { name: 'later' });
    for (const c of [...first, later]) {
      const info = c.client.getServerVersion();
      assert.equal(info?.name, 'probe', 'every client got the server\'s own initialize result');
    }
    const stats = JSON.parse(await later.callText('stats')) as { initialize: number; initialized: number; clientInfo: string[] };
    assert.equal(stats.initialize, 1, 'the server saw one initialize');
    assert.equal(stats.initialized, 1, 'the server saw one notifications/initialized');
    assert.equal(muxd.childPids('probe2').length, 1);
  });

  test('a later client is answered from the cached handshake and shares server-memory state', { timeout: 30_000 }, async (t) => {
    const a = await muxd.connect(t, 'memory', { name: 'writer' });
    const [pid] = await muxd.waitForChildren('memory', 1);
    const entity = `muxd-e2e-${process.pid}-${Date.now()}`;
    await a.callText('create_entities', {
      entities: [{ name: entity, entityType: 'test', observations: ['written by client A'] }],
    });
    const b = await muxd.connect(t, 'memory', { name: 'reader' });
    assert.equal(b.client.getServerVersion()?.name, a.client.getServerVersion()?.name);
    const found = await b.callText('open_nodes', { names: [entity] });
    assert.match(found, new RegExp(entity));
    assert.match(found, /written by client A/);
    assert.deepEqual(muxd.childPids('memory'), [pid], 'the same one child served both clients');
  });
});

describe('progress', () => {
  /**
   * The progress a client received, as [progress, total]. The SDK dispatches
   * notifications a microtask late, so a last progress that arrives in the
   * same read as the response finds its handler gone and is reported through
   * onerror ("unknown token"): it was delivered, so it counts. Any other
   * error fails the test.
   */
  function delivered(c: TestClient, seen: Progress[]): Array<[number, number | undefined]> {
    const late: Progress[] = [];
    for (const error of c.errors) {
      const match = /unknown token: (\{.*\})$/s.exec(error.message);
      assert.ok(match, `unexpected SDK error: ${error.message}`);
      late.push((JSON.parse(match[1] as string) as { params: Progress }).params);
    }
    return [...seen, ...late].map((p) => [p.progress, p.total]);
  }

  test('colliding progress tokens: each client gets only its own progress notifications', { timeout: 30_000 }, async (t) => {
    const a = await muxd.connect(t, 'everything', { name: 'progress-a' });
    const b = await muxd.connect(t, 'everything', { name: 'progress-b' });
    const seenA: Progress[] = [];
    const seenB: Progress[] = [];
    // Both are the first request after initialize on a fresh SDK client: the
    // same request id, hence the same progress token.
    const [textA, textB] = await Promise.all([
      a.callText('trigger-long-running-operation', { duration: 0.6, steps: 3 }, { onprogress: (p) => seenA.push(p) }),
      b.callText('trigger-long-running-operation', { duration: 0.6, steps: 6 }, { onprogress: (p) => seenB.push(p) }),
    ]);
    assert.match(textA, /Steps: 3\./);
    assert.match(textB, /Steps: 6\./);
    assert.deepEqual(delivered(a, seenA), [[1, 3], [2, 3], [3, 3]]);
    assert.deepEqual(delivered(b, seenB), [[1, 6], [2, 6], [3, 6], [4, 6], [5, 6], [6, 6]]);
  });
});

describe('server-to-client requests', () => {
  function sampler(name: string, calls: CreateMessageRequest[]) {
    return (request: CreateMessageRequest) => {
      calls.push(request);
      return { model: 'e2e-model', role: 'assistant' as const, content: { type: 'text' as const, text: `sampled by ${name}` } };
    };
  }

  test('sampling goes to the capable client that caused it, and its answer reaches the server', { timeout: 30_000 }, async (t) => {
    const callsA: CreateMessageRequest[] = [];
    const callsC: CreateMessageRequest[] = [];
    const a = await muxd.connect(t, 'everything', { name: 'sampler-a', onSampling: sampler('A', callsA) });
    const c = await muxd.connect(t, 'everything', { name: 'sampler-c', onSampling: sampler('C', callsC) });
    const plain = await muxd.connect(t, 'everything', { name: 'no-sampling' });

    const fromA = await a.callText('trigger-sampling-request', { prompt: 'question of A' });
    assert.match(fromA, /sampled by A/);
    assert.equal(callsA.length, 1);
    assert.match(JSON.stringify(callsA[0]?.params.messages), /question of A/);

    const fromC = await c.callText('trigger-sampling-request', { prompt: 'question of C' });
    assert.match(fromC, /sampled by C/);
    assert.equal(callsC.length, 1, 'the client whose call caused the request answered it');
    assert.equal(callsA.length, 1, 'the other capable client was not asked');

    // A client without the capability is never asked: one that declared it answers.
    const fromPlain = await plain.callText('trigger-sampling-request', { prompt: 'question of plain' });
    assert.match(fromPlain, /sampled by [AC]/);
    assert.equal(callsA.length + callsC.length, 3);
    assert.deepEqual(plain.unexpectedRequests, []);
    assert.deepEqual([...a.errors, ...c.errors, ...plain.errors].map(String), []);
  });

  test('sampling with no capable client connected fails the tool call clearly', { timeout: 30_000 }, async (t) => {
    const plain = await muxd.connect(t, 'everything', { name: 'alone-without-sampling' });
    const result = await plain.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'anyone?' } });
    assert.equal(result.isError, true);
    assert.match(JSON.stringify(result.content), /sampling/);
    assert.deepEqual(plain.unexpectedRequests, []);
  });

  test('elicitation reaches the client that declared it and its answer reaches the server', { timeout: 30_000 }, async (t) => {
    const asked: ElicitRequest[] = [];
    const plain = await muxd.connect(t, 'everything', { name: 'no-elicitation' });
    const e = await muxd.connect(t, 'everything', {
      name: 'elicitor',
      onElicitation: (request) => {
        asked.push(request);
        return { action: 'accept', content: { name: 'Ada Lovelace' } };
      },
    });
    const text = await e.callText('trigger-elicitation-request');
    assert.equal(asked.length, 1);
    assert.match(text, /Name: Ada Lovelace/);
    const viaOther = await plain.callText('trigger-elicitation-request');
    assert.match(viaOther, /Name: Ada Lovelace/);
    assert.equal(asked.length, 2);
    assert.deepEqual(plain.unexpectedRequests, []);
  });

  test('an elicitation whose client leaves before answering fails the server\'s request, not the session', { timeout: 30_000 }, async (t) => {
    const plain = await muxd.connect(t, 'everything', { name: 'asker' });
    let asked!: () => void;
    const wasAsked = new Promise<void>((resolve) => (asked = resolve));
    const leaving = await muxd.connect(t, 'everything', {
      name: 'leaves-mid-dialog',
      onElicitation: () => {
        asked();
        return new Promise(() => undefined);
      },
    });
    const call = plain.client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    await wasAsked;
    await leaving.close();
    const result = await call;
    assert.equal(result.isError, true);
    assert.match(JSON.stringify(result.content), /disconnected/);
    assert.equal(await plain.callText('echo', { message: 'next' }), 'Echo: next');
    assert.deepEqual(plain.unexpectedRequests, []);
  });

  test('roots: the server sees the roots of the capable clients, and forgets those of a client that left', { timeout: 30_000 }, async (t) => {
    const a = await muxd.connect(t, 'everything', { name: 'roots-a', roots: [{ uri: 'file:///work/alpha', name: 'alpha' }] });
    await muxd.connect(t, 'everything', { name: 'roots-b', roots: [{ uri: 'file:///work/beta', name: 'beta' }] });
    const plain = await muxd.connect(t, 'everything', { name: 'no-roots' });
    // The server refreshes its roots asynchronously (list_changed): poll.
    await waitFor('get-roots-list to show both roots', async () => {
      const text = await plain.callText('get-roots-list');
      return text.includes('file:///work/alpha') && text.includes('file:///work/beta');
    });
    await a.close();
    const text = await waitFor('get-roots-list to drop the departed client\'s root', async () => {
      const text = await plain.callText('get-roots-list');
      return !text.includes('file:///work/alpha') && text;
    });
    assert.match(text, /file:\/\/\/work\/beta/);
    assert.deepEqual(plain.unexpectedRequests, []);
  });
});

describe('subscriptions', () => {
  const uri = 'demo://resource/static/document/architecture.md';

  test('a subscription shared by two clients survives one of them unsubscribing', { timeout: 30_000 }, async (t) => {
    const updates = new Map<string, number>();
    const watch = (c: TestClient, who: string) => {
      updates.set(who, 0);
      c.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
        if (notification.params.uri === uri) updates.set(who, (updates.get(who) ?? 0) + 1);
      });
    };
    const a = await muxd.connect(t, 'everything', { name: 'subscriber-a' });
    const b = await muxd.connect(t, 'everything', { name: 'subscriber-b' });
    watch(a, 'a');
    watch(b, 'b');
    await a.client.subscribeResource({ uri });
    await b.client.subscribeResource({ uri });

    // Each "on" toggle makes the server notify its subscriptions at once.
    let simulating = false;
    const toggle = async () => {
      await a.callText('toggle-subscriber-updates');
      simulating = !simulating;
    };
    t.after(async () => {
      if (simulating) await toggle().catch(() => undefined);
    });
    await toggle();
    await waitFor('both subscribers to be notified', () => updates.get('a')! >= 1 && updates.get('b')! >= 1);

    await b.client.unsubscribeResource({ uri });
    const bAfterUnsubscribe = updates.get('b');
    const aBefore = updates.get('a')!;
    await toggle();
    await toggle();
    await waitFor('the remaining subscriber to be notified again', () => updates.get('a')! > aBefore);
    assert.equal(updates.get('b'), bAfterUnsubscribe, 'no update reached the client that unsubscribed');
  });

  test('the server sees one subscription per URI, released when the last subscriber disconnects', { timeout: 30_000 }, async (t) => {
    // server-everything logs every subscribe and unsubscribe it gets to its clients.
    const observer = await muxd.connect(t, 'everything', { name: 'observer' });
    const serverSaw: string[] = [];
    observer.client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      const text = String(notification.params.data);
      if (text.includes(uri)) serverSaw.push(text.startsWith('Received Subscribe') ? 'subscribe' : 'unsubscribe');
    });
    const a = await muxd.connect(t, 'everything', { name: 'holder-a' });
    const b = await muxd.connect(t, 'everything', { name: 'holder-b' });
    await a.client.subscribeResource({ uri });
    await waitFor('the upstream subscribe', () => serverSaw.length === 1);
    await b.client.subscribeResource({ uri });
    await b.close();
    // A marker round trip: anything muxd sent upstream before it has been handled.
    await observer.callText('echo', { message: 'marker' });
    assert.deepEqual(serverSaw, ['subscribe'], 'the second subscriber and its departure stay inside muxd');
    await a.close();
    await waitFor('the upstream unsubscribe', () => serverSaw.length === 2);
    assert.deepEqual(serverSaw, ['subscribe', 'unsubscribe']);
  });
});
