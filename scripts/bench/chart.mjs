#!/usr/bin/env node
/**
 * Draws the bench's chart from a results file:
 *   node scripts/bench/chart.mjs [results.json] [out.svg]
 * Defaults: bench-results/latest.json, written next to it as latest.svg.
 * `npm run bench` draws it itself after each run; this redraws an older run
 * (docs/benchmarks.svg is drawn this way from the run the docs quote).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderChart } from './lib/chart.mjs';
import { ROOT } from './lib/targets.mjs';

const input = process.argv[2] ?? join(ROOT, 'bench-results', 'latest.json');
const output = process.argv[3] ?? input.replace(/\.json$/, '') + '.svg';
try {
  writeFileSync(output, await renderChart(JSON.parse(readFileSync(input, 'utf8'))));
  process.stdout.write(`chart: ${output}\n`);
} catch (error) {
  process.stderr.write(`bench chart: ${/** @type {Error} */ (error).message}\n`);
  process.exit(1);
}
