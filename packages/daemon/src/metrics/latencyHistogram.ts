/** Buckets per doubling: each bound is 2^(1/4) (about 19 %) above the one before. */
const STEPS_PER_OCTAVE = 4;
/** The first bucket holds everything up to 2^-4 ms (62.5 µs), zero included. */
const MIN_EXPONENT = -4;
/** The last finite bound is 2^17 ms (about 131 s); slower requests land in one overflow bucket. */
const MAX_EXPONENT = 17;
const FINITE_BUCKETS = (MAX_EXPONENT - MIN_EXPONENT) * STEPS_PER_OCTAVE + 1;

/**
 * Upper bounds of the buckets in milliseconds, shared by every histogram;
 * the overflow bucket after them has no bound.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = Array.from({ length: FINITE_BUCKETS }, (_, index) => 2 ** (MIN_EXPONENT + index / STEPS_PER_OCTAVE));

/** Buckets, the overflow one included. */
export const LATENCY_BUCKETS = FINITE_BUCKETS + 1;

/** The bucket `ms` falls in: the first whose bound is at or above it. */
export function bucketOf(ms: number): number {
  if (!(ms > LATENCY_BOUNDS_MS[0]!)) return 0;
  const index = Math.ceil((Math.log2(ms) - MIN_EXPONENT) * STEPS_PER_OCTAVE);
  if (index >= FINITE_BUCKETS) return FINITE_BUCKETS;
  // log2 rounding may land one bucket high on an exact bound.
  return index > 0 && ms <= LATENCY_BOUNDS_MS[index - 1]! ? index - 1 : index;
}

/**
 * Request latencies in fixed log-scale buckets: recording is one counter
 * increment, nothing allocated. A percentile is the bound of the bucket it
 * falls in (never more than the slowest request seen), so it is at most
 * 19 % above the true figure.
 */
export class LatencyHistogram {
  readonly counts = new Float64Array(LATENCY_BUCKETS);
  count = 0;
  /** Total of every latency recorded, ms. */
  sumMs = 0;
  /** The slowest request recorded, ms. */
  maxMs = 0;

  /** Records one request of `ms` milliseconds (negative or NaN counts as 0). */
  record(ms: number): void {
    const value = ms > 0 ? ms : 0;
    const bucket = bucketOf(value);
    this.counts[bucket] = this.counts[bucket]! + 1;
    this.count++;
    this.sumMs += value;
    if (value > this.maxMs) this.maxMs = value;
  }

  /** Adds `other`'s counts to these. */
  add(other: LatencyHistogram): void {
    for (let index = 0; index < LATENCY_BUCKETS; index++) this.counts[index] = this.counts[index]! + other.counts[index]!;
    this.count += other.count;
    this.sumMs += other.sumMs;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumMs = 0;
    this.maxMs = 0;
  }

  /**
   * The latency under which a fraction `q` (0..1) of the requests fall, ms;
   * null with no request recorded.
   */
  percentile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let index = 0; index < LATENCY_BUCKETS; index++) {
      seen += this.counts[index]!;
      if (seen >= rank) {
        const bound = LATENCY_BOUNDS_MS[index] ?? Number.POSITIVE_INFINITY;
        return roundMs(Math.min(bound, this.maxMs));
      }
    }
    return roundMs(this.maxMs);
  }
}

/** Three significant decimals are more than the buckets can tell. */
function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
