// Property-based fuzzing of muxd's three inputs (test/fuzz/properties.ts):
// a short run of each in `npm test`; `npm run fuzz` runs them for longer.
// A fresh seed each time (FUZZ_SEED to force one); a failure prints the
// shrunk counterexample and how to replay it.
import { after, test } from 'node:test';
import { fuzz, report } from './properties.js';
import type { Surface } from './arbitraries.js';
import { Rig } from './rig.js';

/** Runs per surface: bounded by count, so the time a run takes never decides it. */
const RUNS: Record<Surface, number> = { socket: 80, http: 80, child: 25 };
const forced = Number(process.env['FUZZ_SEED'] || NaN);
const seed = Number.isSafeInteger(forced) ? forced : Math.floor(Math.random() * 2 ** 31);
/** How long shrinking a counterexample may take: the failure is already found, this only makes it smaller. */
const SHRINK_MS = (Number(process.env['FUZZ_SHRINK_SECONDS'] || 20) || 20) * 1000;

const rig = await Rig.start();
after(() => rig.close());

for (const surface of ['socket', 'http', 'child'] as const) {
  test(`fuzz ${surface}: muxd survives, bystanders are served, every request is answered once under its own id`, { timeout: 300_000 }, async () => {
    const result = await fuzz(rig, { surface, seed, numRuns: RUNS[surface], shrinkLimitMs: SHRINK_MS });
    if (result.failed) throw new Error(report(result, surface));
  });
}
