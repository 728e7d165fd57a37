import type { LatencySummary, RowMetrics, ServiceMetrics } from '@muxd/protocol';
import type { LatencyHistogram } from './latencyHistogram.js';
import type { ServiceCounters } from './serviceCounters.js';

/** What a report needs of a service. */
export interface ReportedService {
  readonly name: string;
  readonly metrics: ServiceCounters;
  snapshot(): { status: string; inflight: number };
}

/** A service's figures as the `metrics` control method answers them. */
export function metricsReport(service: ReportedService, now = Date.now()): ServiceMetrics {
  const counters = service.metrics;
  const { status, inflight } = service.snapshot();
  const sessions = counters.sessions;
  return {
    name: service.name,
    status,
    requests: counters.requests,
    errors: counters.errors,
    timeouts: counters.timeouts,
    cancelled: counters.cancelled,
    inflight,
    ratePerS: counters.lastMinute.ratePerS(now),
    latency: { lastMinute: summary(counters.lastMinute.merged()), sinceStart: summary(counters.sinceStart) },
    byMethod: counters.byMethod.toRecord(),
    byTool: counters.byTool.toRecord(),
    sessions: { now: sessions.now, total: sessions.totals.total, clients: sessions.list() },
    restarts: counters.restarts.toArray().reverse(),
    samples: counters.samples.toArray(),
  };
}

function summary(histogram: LatencyHistogram): LatencySummary {
  return { count: histogram.count, p50Ms: histogram.percentile(0.5), p99Ms: histogram.percentile(0.99) };
}

/** The figures of a `muxctl ls` row: counts since start, latency and rate over the last minute. */
export function rowMetrics(counters: ServiceCounters, now = Date.now()): RowMetrics {
  const lastMinute = counters.lastMinute.merged();
  return {
    requests: counters.requests,
    errors: counters.errors,
    timeouts: counters.timeouts,
    p50Ms: lastMinute.percentile(0.5),
    p99Ms: lastMinute.percentile(0.99),
    ratePerS: counters.lastMinute.ratePerS(now),
  };
}
