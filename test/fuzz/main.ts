/**
 * `npm run fuzz` (scripts/fuzz.mjs) runs this: the properties of
 * properties.ts for a time budget with a fresh seed, printing the seed, the
 * number of runs, and any counterexample (shrunk, with the seed and path
 * that replay it). Exits 1 on a finding, 2 on bad settings.
 *
 * Environment:
 *   FUZZ_SECONDS=600        how long to draw inputs
 *   FUZZ_SEED=N             the seed (default: a fresh one, printed)
 *   FUZZ_PATH=P             with FUZZ_SEED: replay that counterexample (and shrink it further)
 *   FUZZ_SURFACE=all        all, socket, http or child
 *   FUZZ_SHRINK_SECONDS=120 how long shrinking a counterexample may take
 *   FUZZ_OUT=DIR            where the counterexample's bytes are written (default: the OS temp dir)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Scenario, Surface } from './arbitraries.js';
import { fuzz, report } from './properties.js';
import { Rig } from './rig.js';

function setting(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

function number(name: string, fallback: number): number {
  const value = Number(setting(name, String(fallback)));
  if (!Number.isFinite(value) || value < 0) {
    console.error(`${name} must be a number >= 0`);
    process.exit(2);
  }
  return value;
}

const surface = setting('FUZZ_SURFACE', 'all') as Surface | 'all';
if (!['all', 'socket', 'http', 'child'].includes(surface)) {
  console.error('FUZZ_SURFACE must be all, socket, http or child');
  process.exit(2);
}
const seconds = number('FUZZ_SECONDS', 600);
const shrinkSeconds = number('FUZZ_SHRINK_SECONDS', 120);
const seed = process.env['FUZZ_SEED'] ? Math.trunc(number('FUZZ_SEED', 0)) : Math.floor(Math.random() * 2 ** 31);
const path = process.env['FUZZ_PATH'] || undefined;
const out = setting('FUZZ_OUT', tmpdir());

/** A scenario with its bytes as base64, to write to a file. */
function serializable(scenario: Scenario): unknown {
  return JSON.parse(JSON.stringify(scenario, (_key, value: unknown) => {
    if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
      return { base64: Buffer.from((value as { data: number[] }).data).toString('base64') };
    }
    return value;
  }));
}

console.log(`fuzz: seed ${seed}, surface ${surface}, ${path ? `replaying path ${path}` : `${seconds} s`}, shrinking up to ${shrinkSeconds} s`);
const rig = await Rig.start();
const started = Date.now();
const progress = setInterval(() => console.log(`fuzz: ${Math.round((Date.now() - started) / 1000)} s, ${rig.runs} scenario(s) run, muxd started ${rig.generation} time(s)`), 60_000);
progress.unref();
// Interrupted: stop muxd and its children before leaving.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // A terminal's Ctrl-C reaches this process twice (directly, and forwarded by scripts/fuzz.mjs): the first one counts.
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`fuzz: ${signal} after ${rig.runs} scenario(s), seed ${seed}`);
    void rig.close().finally(() => process.exit(130));
  });
}
let code = 0;
try {
  const result = await fuzz(rig, {
    surface,
    seed,
    ...(path ? { path, numRuns: 1 } : { timeLimitMs: seconds * 1000 }),
    shrinkLimitMs: shrinkSeconds * 1000,
  });
  console.log(`fuzz: ${result.numRuns} run(s) in ${Math.round((Date.now() - started) / 1000)} s, seed ${result.seed}, muxd started ${rig.generation} time(s)`);
  if (result.failed) {
    code = 1;
    console.log(report(result, surface));
    if (result.bytes) {
      mkdirSync(out, { recursive: true });
      const file = join(out, `muxd-fuzz-${result.seed}.json`);
      writeFileSync(file, JSON.stringify({ seed: result.seed, path: result.path, surface, error: result.error, scenario: serializable(result.bytes) }, null, 2));
      console.log(`the counterexample's exact bytes: ${file}`);
    }
  } else {
    console.log('fuzz: no promise broken');
  }
} finally {
  clearInterval(progress);
  await rig.close();
}
process.exit(code);
