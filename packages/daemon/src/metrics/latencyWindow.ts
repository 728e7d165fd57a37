import { LatencyHistogram } from './latencyHistogram.js';

/** Length of one slot of the window, ms. */
export const SLOT_MS = 5_000;
/** Slots in the window: 12 x 5 s, the last minute. */
export const WINDOW_SLOTS = 12;

/**
 * Latencies of the last minute: a ring of twelve 5-second histograms. The
 * newest slot takes the requests; `rotate()` (every 5 s, from the
 * sampler's tick) starts a fresh one and drops the oldest. Reading adds the
 * slots up, so a request is counted for at most a minute.
 */
export class LatencyWindow {
  readonly #slots = Array.from({ length: WINDOW_SLOTS }, () => new LatencyHistogram());
  #current = 0;
  /** Slots completed since the start, at most WINDOW_SLOTS - 1 are kept. */
  #completed = 0;
  #slotStartedAt: number;

  constructor(now = Date.now()) {
    this.#slotStartedAt = now;
  }

  record(ms: number): void {
    this.#slots[this.#current]!.record(ms);
  }

  /** Closes the current slot and returns its request count; the oldest slot is emptied for reuse. */
  rotate(now = Date.now()): number {
    const closed = this.#slots[this.#current]!.count;
    this.#current = (this.#current + 1) % WINDOW_SLOTS;
    this.#slots[this.#current]!.reset();
    this.#completed = Math.min(this.#completed + 1, WINDOW_SLOTS - 1);
    this.#slotStartedAt = now;
    return closed;
  }

  /** Every slot added up. */
  merged(): LatencyHistogram {
    const total = new LatencyHistogram();
    for (const slot of this.#slots) total.add(slot);
    return total;
  }

  /** Requests per second over the time the window covers (up to a minute). */
  ratePerS(now = Date.now()): number {
    let count = 0;
    for (const slot of this.#slots) count += slot.count;
    const coveredMs = this.#completed * SLOT_MS + Math.max(0, now - this.#slotStartedAt);
    if (coveredMs <= 0) return 0;
    return Math.round((count / coveredMs) * 1000 * 100) / 100;
  }
}
