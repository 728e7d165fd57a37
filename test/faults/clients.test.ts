// Clients at their worst: malformed messages, reused ids, answers to
// questions nobody asked, bursts of thousands of requests, hundreds of
// clients at once. Each gets a clear error or is dropped alone; the others
// see no change in their answers. Garbage bytes, oversized lines and a
// client that never reads are in test/e2e/limits.test.ts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from '@muxd/protocol';
import { RawClient, everythingServer, fixtureServer, startMuxd, waitFor } from '../e2e/harness.js';
import type { Scope, TestClient } from '../e2e/harness.js';
import { Control, errorOf } from './helpers.js';

const muxd = await startMuxd({ after }, {
  probe: fixtureServer('probe'),
  everything: everythingServer({ maxInflight: 20_000 }),
  // The default limits: maxInflight 256, maxClients 256.
  strict: everythingServer(),
});
const control = await Control.open({ after }, muxd);

/** Keeps a bystander busy with calls until `stop()`; each answer must be its own. */
function keepCalling(c: TestClient, tag: string): { stop: () => Promise<number> } {
  let running = true;
  const loop = (async () => {
    let calls = 0;
    while (running) {
      const message = `${tag} ${calls}`;
      assert.equal(await c.callText('echo', { message }), `Echo: ${message}`);
      calls++;
    }
    return calls;
  })();
  return {
    stop: async () => {
      running = false;
      return loop;
    },
  };
}

const call = (id: number | string, message: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } });
const byId = (messages: Array<Record<string, unknown>>, id: unknown) => messages.filter((message) => message['id'] === id);

test('invalid JSON-RPC messages get -32600 each, with the id when one can be read; the connection goes on', { timeout: 30_000 }, async (t) => {
  const raw = await muxd.rawConnect(t, 'probe');
  await raw.initialize();
  const invalid: Array<[string, unknown]> = [
    ['{"jsonrpc":"1.0","id":1,"method":"ping"}', 1],
    ['{"jsonrpc":"2.0","id":2}', null],
    ['{"jsonrpc":"2.0","id":3,"method":42}', null],
    ['{"jsonrpc":"2.0","id":{"nested":true},"method":"ping"}', null],
    ['42', null],
    ['"a string"', null],
    ['null', null],
    ['[]', null],
    // A result can't answer a null id: only errors about unreadable requests carry one.
    ['{"jsonrpc":"2.0","id":null,"result":{}}', null],
  ];
  for (const [line] of invalid) raw.send(line);
  raw.send({ jsonrpc: '2.0', id: 'after', method: 'ping' });
  await raw.waitFor('the ping after them', (message) => message['id'] === 'after');
  const errors = raw.messages.filter((message) => message['error']);
  assert.deepEqual(errors.map((message) => [errorOf(message)?.code, message['id']]), invalid.map(([, id]) => [ErrorCodes.InvalidRequest, id]));
  raw.send(call(4, 'still served'));
  const answer = await raw.waitFor('the echo', (message) => message['id'] === 4);
  assert.deepEqual((answer['result'] as { content: unknown }).content, [{ type: 'text', text: 'probe: still served' }]);
});

test('a reused in-flight id is refused alone; the original request is answered once', { timeout: 30_000 }, async (t) => {
  const raw = await muxd.rawConnect(t, 'probe');
  await raw.initialize();
  const sleep = { jsonrpc: '2.0', id: 'dup', method: 'tools/call', params: { name: 'sleep', arguments: { tag: 'dup', ms: 200 } } };
  // In one write: the second arrives while the first is surely in flight.
  raw.socket.write(`${JSON.stringify(sleep)}\n${JSON.stringify(call('dup', 'second'))}\n`);
  await raw.waitFor('the first request\'s answer', (message) => message['id'] === 'dup' && 'result' in message);
  raw.send({ jsonrpc: '2.0', id: 'after', method: 'ping' });
  await raw.waitFor('the ping after', (message) => message['id'] === 'after');
  const answers = byId(raw.messages, 'dup');
  assert.equal(answers.length, 2, 'one refusal, one answer');
  assert.equal(errorOf(answers[0])?.code, ErrorCodes.DuplicateRequestId);
  assert.match(errorOf(answers[0])?.message ?? '', /already in flight/);
  assert.deepEqual((answers[1]?.['result'] as { content: unknown }).content, [{ type: 'text', text: 'finished dup' }]);
  const starts = muxd.serviceLog('probe').filter((entry) => entry.msg === 'probe: started dup');
  assert.equal(starts.length, 1, 'the duplicate never reached the server');
  // Once answered, the id is free again.
  raw.send(call('dup', 'reused later'));
  await waitFor('the reused id to be answered', () => byId(raw.messages, 'dup').length === 3);
  assert.deepEqual((byId(raw.messages, 'dup')[2]?.['result'] as { content: unknown }).content, [{ type: 'text', text: 'probe: reused later' }]);
});

test('responses to requests nobody sent are dropped and logged, and answer nothing', { timeout: 30_000 }, async (t) => {
  const raw = await muxd.rawConnect(t, 'probe');
  await raw.initialize();
  raw.send({ jsonrpc: '2.0', id: 424242, result: {} });
  raw.send({ jsonrpc: '2.0', id: 'never-asked', error: { code: -32603, message: 'made up' } });
  raw.send({ jsonrpc: '2.0', id: 'after', method: 'ping' });
  await raw.waitFor('the ping after', (message) => message['id'] === 'after');
  assert.deepEqual(raw.messages.map((message) => message['id']), ['init', 'after'], 'nothing answered the stray responses');
  await waitFor('both stray responses in the log', () =>
    muxd.serviceLog('probe').filter((entry) => entry.msg === 'response from client to no request of ours: dropped').length >= 2,
  );
  raw.send(call(5, 'fine'));
  assert.ok((await raw.waitFor('an echo', (message) => message['id'] === 5))['result']);
});

/** Sends `count` echo requests in one write and waits until each id has an answer; returns every message received. */
async function burst(raw: RawClient, count: number): Promise<Array<Record<string, unknown>>> {
  let lines = '';
  for (let id = 1; id <= count; id++) lines += JSON.stringify(call(id, `burst ${id}`)) + '\n';
  raw.socket.write(lines);
  await waitFor(`answers to ${count} requests`, () => raw.messages.filter((message) => typeof message['id'] === 'number').length >= count, 60_000, 50);
  return raw.messages.filter((message) => typeof message['id'] === 'number');
}

function countById(messages: Array<Record<string, unknown>>): Map<unknown, number> {
  const counts = new Map<unknown, number>();
  for (const message of messages) counts.set(message['id'], (counts.get(message['id']) ?? 0) + 1);
  return counts;
}

test('10,000 requests in one burst: each answered exactly once and correctly; a bystander is unaffected', { timeout: 90_000 }, async (t) => {
  const COUNT = 10_000;
  const bystander = await muxd.connect(t, 'everything', { name: 'bystander' });
  const raw = await muxd.rawConnect(t, 'everything');
  await raw.initialize();
  const busy = keepCalling(bystander, 'bystander');
  const answers = await burst(raw, COUNT);
  const calls = await busy.stop();
  assert.ok(calls > 0);

  const counts = countById(answers);
  assert.equal(counts.size, COUNT, 'every id answered');
  assert.ok([...counts.values()].every((count) => count === 1), 'none answered twice');
  const wrong = answers.filter((message) => {
    const content = (message['result'] as { content?: Array<{ text: string }> } | undefined)?.content;
    return content?.[0]?.text !== `Echo: burst ${String(message['id'])}`;
  });
  assert.deepEqual(wrong.slice(0, 3), [], 'each answer is its own');
  assert.deepEqual(bystander.errors.map(String), []);
  await control.waitForRow('everything', 'without requests in flight', (row) => row.inflight === 0 && row.queued === 0);
});

test('10,000 requests in one burst over maxInflight: each answered exactly once, the excess refused with -32033', { timeout: 90_000 }, async (t) => {
  const COUNT = 10_000;
  const bystander = await muxd.connect(t, 'strict', { name: 'bystander' });
  const raw = await muxd.rawConnect(t, 'strict');
  await raw.initialize();
  const busy = keepCalling(bystander, 'strict bystander');
  const answers = await burst(raw, COUNT);
  await busy.stop();

  const counts = countById(answers);
  assert.equal(counts.size, COUNT);
  assert.ok([...counts.values()].every((count) => count === 1), 'none answered twice');
  const refused = answers.filter((message) => errorOf(message)?.code === ErrorCodes.TooManyRequests);
  const served = answers.filter((message) => (message['result'] as { content?: Array<{ text: string }> } | undefined)?.content?.[0]?.text === `Echo: burst ${String(message['id'])}`);
  assert.equal(refused.length + served.length, COUNT, 'each is either served correctly or refused for maxInflight');
  assert.ok(refused.length > 0 && served.length >= 256, `served ${served.length}, refused ${refused.length}`);
  assert.match(errorOf(refused[0])?.message ?? '', /Too many requests in flight \(maxInflight 256\)/);
  assert.deepEqual(bystander.errors.map(String), []);
});

/** Connects to `path`, retrying while the listen backlog is full. */
async function connectRetrying(scope: Scope, path: string): Promise<RawClient> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await RawClient.connect(scope, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

test('500 clients connecting at once: up to maxClients are served, the rest refused with -32034 and closed; the others see no change', { timeout: 90_000 }, async (t) => {
  const CLIENTS = 500;
  const MAX_CLIENTS = 256;
  const bystander = await muxd.connect(t, 'strict', { name: 'crowd-bystander' });
  const busy = keepCalling(bystander, 'crowd bystander');
  const crowd = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, n) => {
      const raw = await connectRetrying(t, muxd.socketPath('strict'));
      const answer = await raw.initialize(`init-${n}`);
      return { raw, n, answer };
    }),
  );
  const admitted = crowd.filter(({ answer }) => answer['result']);
  const refused = crowd.filter(({ answer }) => errorOf(answer)?.code === ErrorCodes.TooManyClients);
  assert.equal(admitted.length, MAX_CLIENTS - 1, 'the bystander holds one place');
  assert.equal(refused.length, CLIENTS - admitted.length, 'every other client is refused clearly');
  assert.match(errorOf(refused[0]?.answer)?.message ?? '', /too many clients \(maxClients 256\)/);
  await Promise.all(refused.map(({ raw }) => raw.closed));

  // Each admitted client gets its own answer.
  for (const { raw, n } of admitted) raw.send(call(n, `crowd ${n}`));
  await Promise.all(
    admitted.map(async ({ raw, n }) => {
      const answer = await raw.waitFor(`the echo of client ${n}`, (message) => message['id'] === n, 30_000);
      assert.deepEqual((answer['result'] as { content: unknown }).content, [{ type: 'text', text: `Echo: crowd ${n}` }]);
    }),
  );
  assert.ok((await busy.stop()) > 0);
  assert.equal((await control.row('strict')).clients, MAX_CLIENTS);

  // As they leave, places free up again.
  for (const { raw } of admitted) raw.socket.destroy();
  await control.waitForRow('strict', 'down to the bystander', (row) => row.clients === 1);
  const late = await muxd.rawConnect(t, 'strict');
  assert.ok((await late.initialize())['result'], 'a newcomer is served');
  assert.equal(await bystander.callText('echo', { message: 'still here' }), 'Echo: still here');
  assert.deepEqual(bystander.errors.map(String), []);
});
