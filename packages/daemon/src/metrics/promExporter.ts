import { Counter, Gauge, Registry } from 'prom-client';
import type { Metric } from 'prom-client';
import type { CallTable } from './callTable.js';
import { LATENCY_BOUNDS_MS, LATENCY_BUCKETS } from './latencyHistogram.js';
import type { ServiceCounters } from './serviceCounters.js';

/** What the exporter reads of a service. */
export interface ExportedService {
  readonly name: string;
  readonly metrics: ServiceCounters;
  snapshot(): { inflight: number };
}

/** Every 4th bucket bound (each twice the one before) becomes a Prometheus `le`: 22 buckets from 62.5 µs to 131 s. */
const PROM_BUCKET_STEP = 4;

/**
 * The Prometheus text of `GET /metrics`: a registry of muxd's own (not
 * prom-client's global one), read from the services' counters at each
 * scrape, so requests cost nothing more for being exported.
 */
export class PromExporter {
  readonly registry = new Registry();
  readonly #services: () => readonly ExportedService[];

  constructor(services: () => readonly ExportedService[]) {
    this.#services = services;
    const each = (read: (service: ExportedService) => void) => {
      for (const service of this.#services()) read(service);
    };
    const registers = [this.registry];

    const byMethod = (name: string, help: string, field: 'requests' | 'errors' | 'timeouts') =>
      new Counter({
        name,
        help,
        labelNames: ['service', 'method'] as const,
        registers,
        collect() {
          this.reset();
          each((service) => addCalls(service.metrics.byMethod, field, (label, value) => this.inc({ service: service.name, method: label }, value)));
        },
      });
    byMethod('muxd_requests_total', 'Client requests that ended (answered, failed, timed out or cancelled), by method.', 'requests');
    byMethod('muxd_request_errors_total', "Client requests answered with a JSON-RPC error (the server's or muxd's), by method.", 'errors');
    byMethod('muxd_request_timeouts_total', 'Client requests muxd gave up on after the request timeout, by method.', 'timeouts');

    const byTool = (name: string, help: string, field: 'requests' | 'errors' | 'timeouts') =>
      new Counter({
        name,
        help,
        labelNames: ['service', 'tool'] as const,
        registers,
        collect() {
          this.reset();
          each((service) => addCalls(service.metrics.byTool, field, (label, value) => this.inc({ service: service.name, tool: label }, value)));
        },
      });
    byTool('muxd_tool_calls_total', 'tools/call requests that ended, by tool.', 'requests');
    byTool('muxd_tool_call_errors_total', 'tools/call requests answered with a JSON-RPC error, by tool.', 'errors');
    byTool('muxd_tool_call_timeouts_total', 'tools/call requests that timed out, by tool.', 'timeouts');

    new Counter({
      name: 'muxd_requests_cancelled_total',
      help: 'Client requests cancelled by their client or dropped as it left.',
      labelNames: ['service'] as const,
      registers,
      collect() {
        this.reset();
        each((service) => this.inc({ service: service.name }, service.metrics.cancelled));
      },
    });
    new Gauge({
      name: 'muxd_requests_inflight',
      help: 'Client requests sent to the server and not answered yet.',
      labelNames: ['service'] as const,
      registers,
      collect() {
        this.reset();
        each((service) => this.set({ service: service.name }, service.snapshot().inflight));
      },
    });
    new Gauge({
      name: 'muxd_sessions',
      help: 'Clients connected now, by transport (socket: mux-proxy; http: HTTP sessions).',
      labelNames: ['service', 'transport'] as const,
      registers,
      collect() {
        this.reset();
        each((service) => {
          const counts = { socket: 0, http: 0 };
          for (const session of service.metrics.sessions.list()) counts[session.transport]++;
          this.set({ service: service.name, transport: 'socket' }, counts.socket);
          this.set({ service: service.name, transport: 'http' }, counts.http);
        });
      },
    });
    new Counter({
      name: 'muxd_sessions_total',
      help: 'Clients connected since muxd started, by transport.',
      labelNames: ['service', 'transport'] as const,
      registers,
      collect() {
        this.reset();
        each((service) => {
          const { socket, http } = service.metrics.sessions.totals;
          this.inc({ service: service.name, transport: 'socket' }, socket);
          this.inc({ service: service.name, transport: 'http' }, http);
        });
      },
    });
    new Counter({
      name: 'muxd_child_exits_total',
      help: 'Child processes that ended (then restarted or not), by reason: crash, manual, config, idle, hung, memory, ...',
      labelNames: ['service', 'reason'] as const,
      registers,
      collect() {
        this.reset();
        each((service) => {
          for (const [reason, count] of service.metrics.exitsByReason) this.inc({ service: service.name, reason }, count);
        });
      },
    });
    new Gauge({
      name: 'muxd_child_memory_bytes',
      help: "Memory of the service's process trees at the last 5-second sample (PSS on Linux where readable, else RSS).",
      labelNames: ['service'] as const,
      registers,
      collect() {
        this.reset();
        each((service) => {
          const memory = service.metrics.samples.newest()?.memoryBytes;
          if (memory !== null && memory !== undefined) this.set({ service: service.name }, memory);
        });
      },
    });
    new Gauge({
      name: 'muxd_child_cpu_percent',
      help: "CPU use of the service's process trees over the last 5-second sample, percent of one core.",
      labelNames: ['service'] as const,
      registers,
      collect() {
        this.reset();
        each((service) => {
          const cpu = service.metrics.samples.newest()?.cpuPercent;
          if (cpu !== null && cpu !== undefined) this.set({ service: service.name }, cpu);
        });
      },
    });
    this.registry.registerMetric(this.#durationHistogram());
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text, read now. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * prom-client's Histogram only takes one observation at a time; the
   * buckets are counted already (`LatencyHistogram`), so this metric hands
   * the registry their cumulative counts as they are at the scrape (the
   * registry only calls `get()`).
   */
  #durationHistogram(): Metric {
    const name = 'muxd_request_duration_seconds';
    const help = 'Latency of client requests from muxd receiving them to the answer (cancelled ones left out), since muxd started.';
    // The runtime type is the text of the `# TYPE` line (prom-client's typings say an enum).
    const type = 'histogram';
    const histogram = {
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => {
        const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
        for (const service of this.#services()) {
          const { counts, count, sumMs } = service.metrics.sinceStart;
          let cumulative = 0;
          for (let index = 0; index < LATENCY_BUCKETS - 1; index++) {
            cumulative += counts[index]!;
            if (index % PROM_BUCKET_STEP !== 0) continue;
            values.push({ metricName: `${name}_bucket`, labels: { service: service.name, le: LATENCY_BOUNDS_MS[index]! / 1000 }, value: cumulative });
          }
          values.push({ metricName: `${name}_bucket`, labels: { service: service.name, le: '+Inf' }, value: count });
          values.push({ metricName: `${name}_sum`, labels: { service: service.name }, value: sumMs / 1000 });
          values.push({ metricName: `${name}_count`, labels: { service: service.name }, value: count });
        }
        return { name, help, type, aggregator: 'sum', values };
      },
    };
    return histogram as unknown as Metric;
  }
}

/** Adds each name's `field` of `table` through `add`. */
function addCalls(table: CallTable, field: 'requests' | 'errors' | 'timeouts', add: (label: string, value: number) => void): void {
  for (const [label, stats] of table.entries()) add(label, stats[field]);
}
