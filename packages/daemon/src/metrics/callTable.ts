import type { CallCounts } from '@muxd/protocol';
import { LatencyHistogram } from './latencyHistogram.js';

/** Names a table keeps apart; every later one is counted under `other`. */
export const MAX_LABELS = 200;
/** Where names past the bound are counted. */
export const OTHER_LABEL = 'other';
/** A longer name (they come from clients) is cut to this many characters. */
export const MAX_LABEL_CHARS = 128;

/** The figures kept for one method or tool. */
export class CallStats {
  requests = 0;
  errors = 0;
  timeouts = 0;
  readonly latency = new LatencyHistogram();

  counts(): CallCounts {
    return { requests: this.requests, errors: this.errors, timeouts: this.timeouts, p50Ms: this.latency.percentile(0.5), p99Ms: this.latency.percentile(0.99) };
  }
}

/**
 * Call figures by name (a method, a tool), bounded: names come from
 * clients, so past `MAX_LABELS` distinct ones the rest share `other`, and
 * a long name is cut. Memory and Prometheus series stay bounded whatever a
 * client sends.
 */
export class CallTable {
  readonly #byName = new Map<string, CallStats>();
  readonly #maxLabels: number;

  constructor(maxLabels = MAX_LABELS) {
    this.#maxLabels = maxLabels;
  }

  /** The entry `name` is counted in. */
  entry(name: string): CallStats {
    const found = this.#byName.get(name);
    if (found) return found;
    const label = name.length > MAX_LABEL_CHARS ? name.slice(0, MAX_LABEL_CHARS) : name;
    let stats = this.#byName.get(label);
    if (!stats) {
      const full = this.#byName.size >= this.#maxLabels;
      stats = full ? this.#other() : new CallStats();
      if (!full) this.#byName.set(label, stats);
    }
    return stats;
  }

  #other(): CallStats {
    let other = this.#byName.get(OTHER_LABEL);
    if (!other) {
      other = new CallStats();
      // `other` itself may go one past the bound: it is what keeps the rest bounded.
      this.#byName.set(OTHER_LABEL, other);
    }
    return other;
  }

  get size(): number {
    return this.#byName.size;
  }

  entries(): IterableIterator<[string, CallStats]> {
    return this.#byName.entries();
  }

  /** As the control API lists them: a plain record (created without a prototype: a name may be `__proto__`). */
  toRecord(): Record<string, CallCounts> {
    const record = Object.create(null) as Record<string, CallCounts>;
    for (const [name, stats] of this.#byName) record[name] = stats.counts();
    return record;
  }
}
