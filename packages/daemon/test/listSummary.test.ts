import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize } from '../src/listSummary.js';
import type { ServiceFootprint } from '../src/listSummary.js';

const MiB = 1024 * 1024;
const service = (name: string, extra: Partial<ServiceFootprint>): ServiceFootprint => ({
  name,
  proxySessions: 0,
  httpSessions: 0,
  childrenMeasured: 1,
  memoryBytes: 0,
  memoryKind: 'pss',
  ...extra,
});

test('totals muxd, the children and the proxies; estimates one child per session', () => {
  const summary = summarize({
    services: [
      service('memory', { proxySessions: 2, httpSessions: 1, memoryBytes: 40 * MiB }),
      // per-client: three children measured together, one per session
      service('browser', { proxySessions: 3, childrenMeasured: 3, memoryBytes: 300 * MiB }),
      service('idle', { childrenMeasured: 0 }),
    ],
    daemon: { memoryBytes: 50 * MiB, memoryKind: 'pss' },
    proxies: [{ memoryBytes: 10 * MiB, memoryKind: 'pss' }, { memoryBytes: 10 * MiB, memoryKind: 'pss' }],
    proxiesNotCounted: 3,
  });
  assert.deepEqual(summary, {
    services: 3,
    sessions: { total: 6, proxy: 5, http: 1 },
    memoryBytes: (50 + 340 + 20) * MiB,
    memoryKind: 'pss',
    daemonMemoryBytes: 50 * MiB,
    childrenMemoryBytes: 340 * MiB,
    proxiesMemoryBytes: 20 * MiB,
    proxiesCounted: 2,
    proxiesNotCounted: 3,
    directEstimateBytes: (3 * 40 + 3 * 100) * MiB,
    notEstimated: [],
  });
});

test('one RSS reading makes the total RSS; a service with sessions but no child is named, not guessed', () => {
  const summary = summarize({
    services: [service('starting', { proxySessions: 1, childrenMeasured: 0 }), service('rss', { httpSessions: 1, memoryBytes: MiB, memoryKind: 'rss' })],
    daemon: undefined,
    proxies: [],
    proxiesNotCounted: 1,
  });
  assert.equal(summary.memoryKind, 'rss');
  assert.equal(summary.memoryBytes, MiB);
  assert.equal(summary.directEstimateBytes, MiB);
  assert.deepEqual(summary.notEstimated, ['starting']);
});
