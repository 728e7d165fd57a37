import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceMetrics, ServiceRow } from '@muxd/protocol';
import { formatLatency, formatRate, layoutTable } from '../src/monit/servicesTable.js';
import type { ServiceView } from '../src/monit/servicesTable.js';
import { sparkline } from '../src/monit/sparkline.js';

function row(name: string, extra: Partial<ServiceRow> = {}): ServiceRow {
  return {
    name,
    status: 'online',
    isolation: 'shared',
    pids: [4242],
    startedAt: 0,
    uptimeMs: 1000,
    restarts: 0,
    clients: 1,
    idleClients: 0,
    inflight: 0,
    queued: 0,
    memoryBytes: 30 * 1024 * 1024,
    cpuPercent: 3,
    lastExit: null,
    error: null,
    ...extra,
  };
}

function metrics(name: string, memory: number[], rates: number[]): ServiceMetrics {
  const latency = { count: 3, p50Ms: 0.4, p99Ms: 1200 };
  return {
    name,
    status: 'online',
    requests: 3,
    errors: 1,
    timeouts: 0,
    cancelled: 0,
    inflight: 2,
    ratePerS: 0.05,
    latency: { lastMinute: latency, sinceStart: latency },
    byMethod: {},
    byTool: {},
    sessions: { now: 2, total: 5, clients: [] },
    restarts: [],
    samples: memory.map((memoryBytes, index) => ({ at: index * 5000, memoryBytes, cpuPercent: 1, ratePerS: rates[index] ?? 0 })),
  };
}

describe('sparkline', () => {
  test('scales from the smallest value shown to the largest, newest on the right', () => {
    assert.equal(sparkline([10, 20, 30, 40, 50, 60, 70, 80], { width: 8 }), '▁▂▃▄▅▆▇█');
    assert.equal(sparkline([100, 101], { width: 2 }), '▁█', 'a small change of a large figure shows');
  });

  test('a floor of 0 keeps a steady rate high, and zeros low', () => {
    assert.equal(sparkline([2, 2, 2], { width: 3, floor: 0 }), '███');
    assert.equal(sparkline([0, 0], { width: 2, floor: 0 }), '▁▁');
  });

  test('keeps the newest values that fit, pads short series on the left, blanks for no child', () => {
    assert.equal(sparkline([1, 2, 3, 4], { width: 2 }), '▁█');
    assert.equal(sparkline([5, null, 7], { width: 5 }), '  ▁ █');
    assert.equal(sparkline([], { width: 3 }), '   ');
  });
});

describe('layoutTable', () => {
  const views: ServiceView[] = [
    { row: row('everything'), metrics: metrics('everything', [1, 2, 3], [0, 1, 2]) },
    { row: row('memory', { status: 'stopped', pids: [], memoryBytes: null, cpuPercent: null }), metrics: undefined },
  ];

  test('every column on a wide terminal, cells lined up under their headers', () => {
    const layout = layoutTable(views, 140);
    assert.match(layout.header, /^NAME\s+STATUS\s+SESS\s+INFL\s+REQ\/S\s+REQ\/S 1m\s+P50\s+P99\s+ERR\s+MEM\s+MEM 1m\s+CPU$/);
    const first = layout.rows[0]?.map((cell) => cell.text.trim());
    assert.deepEqual(first, ['everything', 'online', '2', '2', '0.05', '▁▅█', '0.4ms', '1.2s', '1', '30.0M', '▁▅█', '3%']);
    const widths = layout.rows.map((cells) => cells.map((cell) => [...cell.text].length));
    assert.deepEqual(widths[0], widths[1], 'both rows have the same column widths');
  });

  test('a service without metrics shows its list figures and dashes', () => {
    const second = layoutTable(views, 140).rows[1]?.map((cell) => cell.text.trim());
    assert.deepEqual(second, ['memory', 'stopped', '1', '0', '-', '-', '-', '-', '-', '-', '-', '-']);
  });

  test('narrower terminals drop the sparklines first, then CPU, errors, p99, in flight and p50', () => {
    const ids = (width: number) => layoutTable(views, width).rows[0]?.map((cell) => cell.id);
    assert.deepEqual(ids(88), ['name', 'status', 'sessions', 'inflight', 'rate', 'p50', 'p99', 'errors', 'memory', 'cpu']);
    // Narrower than these five, the panel cuts the lines.
    assert.deepEqual(ids(40), ['name', 'status', 'sessions', 'rate', 'memory']);
    for (const width of [140, 88, 60, 50]) {
      const layout = layoutTable(views, width);
      const lines = [layout.header, ...layout.rows.map((cells) => cells.map((cell) => cell.text).join('  ').trimEnd())];
      for (const line of lines) assert.ok([...line].length <= width, `${width}: ${line}`);
    }
  });

  test('a long name is cut with an ellipsis', () => {
    const layout = layoutTable([{ row: row('a-very-long-service-name-indeed-yes'), metrics: undefined }], 140);
    assert.equal(layout.rows[0]?.[0]?.text, 'a-very-long-service-nam…');
  });
});

test('latency and rate figures', () => {
  assert.deepEqual([null, 0.42, 12.4, 999, 1234].map(formatLatency), ['-', '0.4ms', '12ms', '999ms', '1.2s']);
  assert.deepEqual([undefined, 0.0166, 12.34, 250.6].map(formatRate), ['-', '0.02', '12.3', '251']);
});
