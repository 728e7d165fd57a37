import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_BOUNDS_MS, LatencyHistogram, bucketOf } from '../src/metrics/latencyHistogram.js';
import { LatencyWindow, WINDOW_SLOTS } from '../src/metrics/latencyWindow.js';

/** The exact percentile of `sorted`: the value at rank ceil(q * n). */
function exact(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/** A bucket's bound is at most one step (2^(1/4)) above the value; figures are rounded to the microsecond. */
const STEP = 2 ** 0.25;

test('p50 and p99 are within one bucket above the exact percentiles of the recorded values', () => {
  // A deterministic spread over six orders of magnitude, like real latencies.
  let seed = 7;
  const next = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (const size of [1, 2, 10, 101, 5000]) {
    const values = Array.from({ length: size }, () => 0.1 * 10 ** (next() * 6));
    const histogram = new LatencyHistogram();
    for (const value of values) histogram.record(value);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.5, 0.99]) {
      const got = histogram.percentile(q);
      const want = exact(sorted, q);
      assert.ok(got !== null && got >= want - 0.0005 && got <= want * STEP + 0.0005, `n=${size} q=${q}: got ${got}, exact ${want}`);
    }
    assert.equal(histogram.count, size);
  }
});

test('an empty histogram has no percentile; zero, negative and huge values still land in a bucket', () => {
  const histogram = new LatencyHistogram();
  assert.equal(histogram.percentile(0.5), null);
  histogram.record(0);
  histogram.record(-5);
  histogram.record(Number.NaN);
  assert.equal(histogram.percentile(0.99), 0);
  histogram.record(10 * 60_000);
  assert.equal(histogram.percentile(1), 600_000, 'past the last bound, the slowest value seen');
  assert.equal(histogram.count, 4);
});

test('each bound falls in its own bucket, and just above it in the next', () => {
  LATENCY_BOUNDS_MS.forEach((bound, index) => {
    assert.equal(bucketOf(bound), index);
    assert.equal(bucketOf(bound * 1.0001), index + 1);
  });
});

test('the last-minute window forgets what is older than its twelve slots', () => {
  const window = new LatencyWindow(0);
  window.record(500);
  assert.equal(window.merged().percentile(0.5), window.merged().maxMs);
  for (let slot = 1; slot < WINDOW_SLOTS; slot++) {
    window.rotate(slot * 5000);
    window.record(1);
  }
  assert.equal(window.merged().count, WINDOW_SLOTS, 'eleven rotations keep the first slot');
  assert.equal(window.rotate(WINDOW_SLOTS * 5000), 1, 'rotate returns the closed slot count');
  assert.equal(window.merged().count, WINDOW_SLOTS - 1, 'the twelfth drops it');
  assert.ok((window.merged().percentile(0.99) ?? Infinity) < 2, 'the 500 ms request is gone');
});
