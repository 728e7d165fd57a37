// The line under `muxctl ls`: sessions by transport, the memory of muxd, its
// children and the mux-proxy processes (compared with /proc's own readings
// of those pids), and the estimate of running each session's servers
// directly; `--json` carries the same figures. Then a service whose child
// has a tree of 50 processes: ls still answers, and the other services'
// clients are served meanwhile.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ListResult, ListSummary } from '@muxd/protocol';
import { fixtureServer, memoryServer, startMuxd, waitFor } from './harness.js';
import { postMessage } from './httpPost.js';
import { liveProcesses } from '../procfs.js';

const HAS_ROLLUP = existsSync('/proc/self/smaps_rollup');
const MiB = 1024 * 1024;

/** PSS of one process from its smaps_rollup, bytes. */
function pssOf(pid: number): number {
  return Number(/^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1]) * 1024;
}

/** `pid` and every descendant, from /proc. */
function treeOf(pid: number): number[] {
  const live = liveProcesses();
  const tree = [pid];
  for (let index = 0; index < tree.length; index++) for (const stat of live) if (stat.ppid === tree[index]) tree.push(stat.pid);
  return tree;
}

/** Within a factor of `slack` either way: the processes keep running (and allocating) between two readings. */
function near(actual: number, expected: number, what: string, slack = 1.5): void {
  assert.ok(actual >= expected / slack && actual <= expected * slack, `${what}: ${actual} vs /proc's ${expected}`);
}

/** The figures of the text line, parsed back. */
function parseLine(stdout: string): { services: number; sessions: number; proxy: number; http: number; memoryMiB: number; kind: string; notCounted: number; estimateMiB: number } {
  const match = /(\d+) services?, (\d+) sessions? \((\d+) proxy, (\d+) HTTP\) · muxd \+ children \+ proxies: ([\d.]+) MiB (PSS|RSS)(?: \((\d+) prox(?:y|ies) not counted\))? · running each session's servers directly: ~([\d.]+) MiB \(estimate/.exec(stdout);
  assert.ok(match, `a summary line in:\n${stdout}`);
  const [, services, sessions, proxy, http, memoryMiB, kind, notCounted, estimateMiB] = match;
  return {
    services: Number(services),
    sessions: Number(sessions),
    proxy: Number(proxy),
    http: Number(http),
    memoryMiB: Number(memoryMiB),
    kind: kind as string,
    notCounted: Number(notCounted ?? 0),
    estimateMiB: Number(estimateMiB),
  };
}

describe('muxctl ls summary', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const muxd = await startMuxd({ after }, { memory: memoryServer(undefined, { lazy: false }) }, { http: { listen: '127.0.0.1:0' } });
  const base = String(muxd.daemonLog().find((entry) => entry.msg === 'HTTP front listening')?.['url']);
  const token = readFileSync(join(muxd.home, 'http-token'), 'utf8').trim();

  const list = async (): Promise<ListResult & { summary: ListSummary }> => {
    const result = (await muxd.muxctl(['ls', '--json'])).json<ListResult>();
    assert.ok(result.summary, 'ls --json has a summary');
    return result as ListResult & { summary: ListSummary };
  };

  test('counts sessions by transport, totals muxd + children + proxies, and estimates the direct cost', { timeout: 90_000 }, async (t) => {
    const first = await muxd.connect(t, 'memory', { name: 'first' });
    const second = await muxd.connect(t, 'memory', { name: 'second' });
    const { session } = await postMessage(`${base}/mcp/memory`, token, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'http', version: '1' } },
    });
    assert.ok(session, 'an HTTP session');
    await postMessage(`${base}/mcp/memory`, token, { jsonrpc: '2.0', method: 'notifications/initialized' }, session);

    const { summary, services } = await waitFor('both proxies to be counted', async () => {
      const result = await list();
      return result.summary.proxiesCounted === 2 ? result : undefined;
    });
    assert.deepEqual(summary.sessions, { total: 3, proxy: 2, http: 1 });
    assert.equal(summary.services, 1);
    assert.equal(summary.proxiesNotCounted, 0);
    assert.equal(summary.memoryBytes, summary.daemonMemoryBytes + summary.childrenMemoryBytes + summary.proxiesMemoryBytes);
    const row = services[0];
    assert.equal(row?.pids.length, 1);
    assert.equal(summary.childrenMemoryBytes, row?.memoryBytes, 'the children are the rows\' trees');
    assert.equal(summary.directEstimateBytes, Math.round(summary.childrenMemoryBytes * 3), 'one child per session');
    if (HAS_ROLLUP) {
      assert.equal(summary.memoryKind, 'pss');
      assert.equal(row?.memoryKind, 'pss');
      near(summary.proxiesMemoryBytes, pssOf(first.proxyPid) + pssOf(second.proxyPid), 'the two proxies');
      near(summary.daemonMemoryBytes, pssOf(muxd.pid), 'muxd itself');
      near(summary.childrenMemoryBytes, treeOf(row?.pids[0] as number).reduce((sum, pid) => sum + pssOf(pid), 0), 'the child');
    }

    // The text says the same as the JSON (read again: figures within a rounding and a moment's growth).
    const text = parseLine((await muxd.muxctl(['ls'])).stdout);
    assert.deepEqual({ ...text, memoryMiB: 0, estimateMiB: 0 }, { services: 1, sessions: 3, proxy: 2, http: 1, memoryMiB: 0, kind: summary.memoryKind.toUpperCase(), notCounted: 0, estimateMiB: 0 });
    near(text.memoryMiB * MiB, summary.memoryBytes, 'text total', 1.2);
    near(text.estimateMiB * MiB, summary.directEstimateBytes, 'text estimate', 1.2);

    // A third session: each would run its own server, so the estimate grows.
    await muxd.connect(t, 'memory', { name: 'third' });
    const three = await waitFor('the third proxy to be counted', async () => {
      const result = await list();
      return result.summary.proxiesCounted === 3 ? result.summary : undefined;
    });
    assert.deepEqual(three.sessions, { total: 4, proxy: 3, http: 1 });
    assert.ok(three.directEstimateBytes > summary.directEstimateBytes, `estimate ${three.directEstimateBytes} grew from ${summary.directEstimateBytes}`);
    assert.equal(three.directEstimateBytes, Math.round(three.childrenMemoryBytes * 4));
  });

  test('a client that does not say its pid (an older mux-proxy) is a session whose process is not counted', { timeout: 60_000 }, async (t) => {
    const raw = await muxd.rawConnect(t, 'memory');
    await raw.initialize();
    // The proxies of the test before may still be leaving: wait until the raw client is the only data-socket session.
    const { summary } = await waitFor('the raw session alone on the data socket', async () => {
      const result = await list();
      return result.summary.sessions.proxy === 1 ? result : undefined;
    });
    assert.equal(summary.proxiesCounted, 0);
    assert.equal(summary.proxiesNotCounted, 1);
    assert.match((await muxd.muxctl(['ls'])).stdout, /\(1 proxy not counted\)/);

    // A pid that is not a plausible process is ignored, and never reaches the server.
    raw.send({ jsonrpc: '2.0', method: 'muxd/clientPid', params: { pid: -5 } });
    raw.send({ jsonrpc: '2.0', id: 'after', method: 'tools/list' });
    await raw.waitFor('an answer after the bad pid', (message) => message['id'] === 'after');
    assert.equal((await list()).summary.proxiesCounted, 0);
  });
});

describe('muxctl ls with a large process tree', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const muxd = await startMuxd({ after }, { forest: fixtureServer('forest', { lazy: false }), memory: memoryServer(undefined, { lazy: false }) });

  test('ls answers and counts the whole tree while another service\'s clients are served', { timeout: 90_000 }, async (t) => {
    await muxd.waitForServiceLog('forest', 'its sleepers running', (entry) => String(entry.msg).includes('forest: 50 sleepers'), 20_000);
    const client = await muxd.connect(t, 'memory');
    const forestPid = await waitFor('the forest child', async () => (await muxd.muxctl(['ls', '--json'])).json<ListResult>().services.find((row) => row.name === 'forest')?.pids[0]);
    assert.equal(treeOf(forestPid).length, 51, 'the child and its 50 sleepers');

    // Requests on the data socket while several ls read the tree: all are answered.
    const calls = Array.from({ length: 20 }, (_, n) => client.client.callTool({ name: 'create_entities', arguments: { entities: [{ name: `e${n}`, entityType: 't', observations: [] }] } }));
    const lists = Array.from({ length: 4 }, () => muxd.muxctl(['ls', '--json']));
    const answers = await Promise.all(calls);
    assert.equal(answers.filter((answer) => !answer.isError).length, 20);
    for (const run of await Promise.all(lists)) {
      assert.equal(run.code, 0, run.stderr);
      const forest = run.json<ListResult>().services.find((row) => row.name === 'forest');
      assert.ok(forest?.memoryBytes, 'the forest row has its memory');
      if (HAS_ROLLUP) {
        const sleepers = treeOf(forestPid).slice(1).reduce((sum, pid) => sum + pssOf(pid), 0);
        assert.ok(forest.memoryBytes >= pssOf(forestPid) / 1.5 + sleepers / 2, `the sleepers are counted: ${forest.memoryBytes} vs child ${pssOf(forestPid)} + sleepers ${sleepers}`);
      }
    }
  });
});
