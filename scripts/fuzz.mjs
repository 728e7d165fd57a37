#!/usr/bin/env node
/**
 * muxd fuzzer: `npm run fuzz` from the repository root (it builds first), or
 * `node scripts/fuzz.mjs` after a build.
 *
 * Checks the properties of test/fuzz/properties.ts (the same ones `npm test`
 * checks on a few inputs) for a time budget with a fresh random seed: random
 * JSON-RPC-shaped traffic on a data socket, on the HTTP front, and on a
 * child's stdout (test/fixtures/fuzzchild.mjs), against a real muxd. Prints
 * the seed, the number of runs, and any counterexample, shrunk, with the seed
 * and path that replay it; exits 1 on a finding.
 *
 * Environment (or --name=value flags, e.g. --seconds=60 --surface=http):
 *   FUZZ_SECONDS=600        how long to draw inputs
 *   FUZZ_SEED=N             the seed to use (printed either way)
 *   FUZZ_PATH=P             with FUZZ_SEED, replay that counterexample
 *   FUZZ_SURFACE=all        all, socket, http or child
 *   FUZZ_SHRINK_SECONDS=120 how long shrinking may take
 *   FUZZ_OUT=DIR            where the counterexample's bytes are written
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = { ...process.env };
for (const arg of process.argv.slice(2)) {
  const match = /^--([a-z-]+)=(.*)$/.exec(arg);
  if (!match) {
    console.error(`unknown argument ${arg} (use --name=value, e.g. --seconds=60)`);
    process.exit(2);
  }
  env[`FUZZ_${match[1].replace(/-/g, '_').toUpperCase()}`] = match[2];
}
const child = spawn(process.execPath, ['--import', 'tsx', 'test/fuzz/main.ts'], { cwd: ROOT, env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
