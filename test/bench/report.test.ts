// The bench's verdicts and chart data: what a reader of `npm run bench` is told.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
// @ts-expect-error: plain JavaScript module of the bench, typed by its JSDoc
import { checks, table } from '../../scripts/bench/lib/report.mjs';
// @ts-expect-error: plain JavaScript module of the bench, typed by its JSDoc
import { chartPanels } from '../../scripts/bench/lib/chart.mjs';

type Check = { id: string; value: string; pass: boolean | undefined };

const targets = [
  { name: 'direct', processPerSession: true, peer: false },
  { name: 'muxd', processPerSession: false, peer: false },
  { name: 'mcp-hub', processPerSession: false, peer: true },
  { name: 'supergateway', processPerSession: true, peer: true },
];

const workloads = {
  latency: { direct: { p50Ms: 0.2, p99Ms: 3 }, muxd: { p50Ms: 0.5, p99Ms: 5 }, relays: { p50Ms: 0.4, p99Ms: 4 } },
  fanin: {
    direct: { callsPerS: 1000, wrong: 0, errors: 0 },
    muxd: { callsPerS: 1600, wrong: 0, errors: 0 },
    'mcp-hub': { callsPerS: 900, wrong: 0, errors: 0 },
    supergateway: { callsPerS: 1200, wrong: 3, errors: 0 },
  },
  memoryEverything: { direct: { pssMiB: 200, marginalMiB: 28 }, muxd: { pssMiB: 90, marginalMiB: 8.5 }, supergateway: { pssMiB: 80 } },
  sessionStart: { muxd: { warmMs: 90, nodeStartMs: 79 } },
};

const byId = (list: Check[]) => Object.fromEntries(list.map((c) => [c.id, c]));

describe('bench verdicts', () => {
  const verdicts = byId(checks(workloads, targets));

  test('ratios are taken against direct, and the two-relay floor is shown beside the p50 verdict', () => {
    assert.equal(verdicts['latency.p50']?.pass, false);
    assert.equal(verdicts['latency.p50']?.value, '2.50x (two byte relays: 2.00x)');
    assert.equal(verdicts['latency.p99']?.pass, true);
  });

  test('fan-in is compared with the best peer that answered every client correctly', () => {
    // supergateway is faster than mcp-hub but misdelivered answers: mcp-hub is the peer to beat.
    assert.equal(verdicts['fanin.peer']?.pass, true);
    assert.match(verdicts['fanin.peer']?.value ?? '', /^1\.78x$/);
    assert.equal(verdicts['fanin.direct']?.pass, true);
  });

  test('memory lines: half of direct, below process-per-session peers, the marginal session', () => {
    assert.equal(verdicts['memoryEverything.direct']?.pass, true);
    assert.equal(verdicts['memoryEverything.peers']?.pass, false, '90 MiB is not below supergateway at 80');
    assert.equal(verdicts['memoryEverything.marginal']?.pass, false);
  });

  test('the session-start verdict names the bare Node start measured in the same run', () => {
    assert.equal(verdicts['sessionStart.warm']?.pass, false);
    assert.equal(verdicts['sessionStart.warm']?.value, '90 ms (node -e 0 alone: 79 ms)');
  });

  test('a line whose workload did not run is n/a, not a pass', () => {
    assert.equal(verdicts['seed.direct']?.pass, undefined);
  });

  test('the table leaves a figure only some targets have blank for the rest', () => {
    const rendered = table(workloads, ['direct', 'muxd'], checks(workloads, targets), { seedSessions: 4, seedServers: 8, faninClients: 16 });
    const row = (rendered.text as string).split('\n').find((line: string) => line.includes('node -e 0'));
    assert.ok(row, 'a Node start row');
    assert.doesNotMatch(row, /n\/a/);
    assert.match(row, /79 ms/);
  });
});

describe('bench chart data', () => {
  test('one panel per workload that ran, each bar labelled with its figure and ratio to direct', () => {
    const panels = chartPanels(workloads, { seedSessions: 4, seedServers: 8 }) as Array<{ title: string; points: Array<{ target: string; series: string; label: string }> }>;
    assert.deepEqual(
      panels.map((p) => p.title.split(',')[0]),
      ['Latency', 'Memory'],
    );
    const latency = panels[0]?.points ?? [];
    assert.deepEqual(
      latency.filter((p) => p.target === 'muxd').map((p) => [p.series, p.label]),
      [
        ['p50', '0.50 (2.50x)'],
        ['p99', '5.00 (1.67x)'],
      ],
    );
    const memory = panels[1]?.points ?? [];
    assert.deepEqual(
      memory.map((p) => [p.target, p.label]),
      [
        ['direct', '200 (1.00x)'],
        ['muxd', '90 (0.45x)'],
        ['supergateway', '80 (0.40x)'],
      ],
    );
  });
});
