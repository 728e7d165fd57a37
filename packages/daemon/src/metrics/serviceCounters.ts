import type { RequestEnd } from '@muxd/engine';
import type { ResourceSample, RestartInfo } from '@muxd/protocol';
import { CallTable } from './callTable.js';
import { LatencyHistogram } from './latencyHistogram.js';
import { LatencyWindow, SLOT_MS } from './latencyWindow.js';
import { ResourceRing } from './resourceRing.js';
import { SessionTable } from './sessionTable.js';

/** Resource samples kept: one every 5 s for an hour. */
export const MAX_SAMPLES = 720;
/** Child exits kept. */
export const MAX_RESTARTS = 50;

/**
 * One service's figures since muxd started: requests by method and tool,
 * their latencies, sessions, child exits and resource samples. Everything
 * is bounded; recording a request allocates nothing past the first call of
 * a method or tool.
 */
export class ServiceCounters {
  requests = 0;
  errors = 0;
  timeouts = 0;
  cancelled = 0;
  readonly byMethod = new CallTable();
  /** `tools/call` by tool name. */
  readonly byTool = new CallTable();
  readonly sinceStart = new LatencyHistogram();
  readonly lastMinute = new LatencyWindow();
  readonly sessions = new SessionTable();
  readonly samples = new ResourceRing<ResourceSample>(MAX_SAMPLES);
  readonly restarts = new ResourceRing<RestartInfo>(MAX_RESTARTS);
  /** Every exit since muxd started, by reason (muxd's own short list of reasons). */
  readonly exitsByReason = new Map<string, number>();

  /**
   * A client request ended. Cancelled ones (the client gave up, or left)
   * count as requests but not in the latencies: their time is the client's
   * patience, not the server's.
   */
  requestEnded(end: RequestEnd): void {
    const method = this.byMethod.entry(end.method);
    const tool = end.tool === undefined ? undefined : this.byTool.entry(end.tool);
    this.requests++;
    method.requests++;
    if (tool) tool.requests++;
    switch (end.outcome) {
      case 'cancelled':
        this.cancelled++;
        return;
      case 'timeout':
        this.timeouts++;
        method.timeouts++;
        if (tool) tool.timeouts++;
        break;
      case 'error':
        this.errors++;
        method.errors++;
        if (tool) tool.errors++;
        break;
      case 'ok':
        break;
    }
    this.sinceStart.record(end.durationMs);
    this.lastMinute.record(end.durationMs);
    method.latency.record(end.durationMs);
    tool?.latency.record(end.durationMs);
  }

  /** A child exited (stopped, crashed, replaced). */
  exited(exit: { at: number; reason: string; code: number | null; signal: string | null }): void {
    this.restarts.push({ at: exit.at, reason: exit.reason, code: exit.code, signal: exit.signal });
    this.exitsByReason.set(exit.reason, (this.exitsByReason.get(exit.reason) ?? 0) + 1);
  }

  /**
   * The 5-second tick: closes the current latency slot and stores a
   * resource sample with the request rate of the slot just closed.
   */
  tick(at: number, memoryBytes: number | null, cpuPercent: number | null): void {
    const closed = this.lastMinute.rotate(at);
    this.samples.push({ at, memoryBytes, cpuPercent, ratePerS: Math.round((closed / (SLOT_MS / 1000)) * 100) / 100 });
  }
}
