#!/usr/bin/env node
// Runs the server scenarios of @modelcontextprotocol/conformance twice: against
// test/fixtures/conformance-server.mjs served directly over Streamable HTTP (the
// SDK's transport), and against the same fixture as a muxd service through
// muxd's HTTP front. Prints both tallies; fails when a scenario that passes
// directly fails through muxd and scripts/conformance/expected-failures.yml
// does not give the reason, or when that file lists a scenario that passes.
//
// The suite needs Node 22: scripts/conformance/ has its own package.json with
// the `node` package (installed here on first use), so the root install stays
// lean. Run after `npm run build` (npm run conformance does both).
//
//   node scripts/conformance.mjs [--scenario NAME] [--keep]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const suiteDir = join(root, 'scripts/conformance');
const node22 = join(suiteDir, 'node_modules/node/bin/node');
const suiteMain = join(suiteDir, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const fixture = join(root, 'test/fixtures/conformance-server.mjs');
const muxdMain = join(root, 'packages/daemon/dist/main.js');
const SERVICE = 'conformance';

const args = process.argv.slice(2);
const scenario = args.includes('--scenario') ? args[args.indexOf('--scenario') + 1] : undefined;
const keep = args.includes('--keep');

/** Everything started here, stopped on the way out whatever happens. */
const cleanups = [];

async function main() {
  if (!existsSync(muxdMain)) throw new Error(`${muxdMain} is missing: build first (npm run build)`);
  if (!existsSync(node22) || !existsSync(suiteMain)) {
    console.log('installing the conformance suite and Node 22 into scripts/conformance/ ...');
    const installed = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: suiteDir, stdio: 'inherit' });
    if (installed.status !== 0) throw new Error('npm ci in scripts/conformance failed');
  }
  const work = mkdtempSync(join(tmpdir(), 'muxd-conformance-'));
  if (!keep) cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  else console.log(`results kept in ${work}`);

  const direct = await startFixtureOverHttp();
  const directChecks = runSuite('direct', direct, join(work, 'direct'), {});

  const muxd = await startMuxd(join(work, 'home'));
  const viaMuxd = runSuite('through muxd', muxd.endpoint, join(work, 'muxd'), {
    NODE_OPTIONS: `--import=${join(suiteDir, 'bearer.mjs')}`,
    MUXD_CONFORMANCE_TOKEN: muxd.token,
    MUXD_CONFORMANCE_ORIGIN: new URL(muxd.endpoint).origin,
  });

  return report(directChecks, viaMuxd, readExpectedFailures());
}

/** Starts the fixture with the SDK's HTTP transport; resolves with its URL. */
async function startFixtureOverHttp() {
  const child = spawn(process.execPath, [fixture, '--http', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill());
  let out = '';
  child.stdout.setEncoding('utf8');
  return waitFor('the fixture to listen', child, () => {
    const line = out.split('\n').find((text) => text.startsWith('http://'));
    return line?.trim();
  }, (listener) => child.stdout.on('data', (text) => {
    out += text;
    listener();
  }));
}

/** Starts muxd in `home` with the fixture as a service and the HTTP front on a free loopback port. */
async function startMuxd(home) {
  const configFile = join(home, 'muxd.config.json');
  spawnSync('mkdir', ['-p', home]);
  writeFileSync(
    configFile,
    JSON.stringify({
      services: { [SERVICE]: { command: process.execPath, args: [fixture], lazy: false } },
      http: { listen: '127.0.0.1:0' },
    }),
  );
  const child = spawn(process.execPath, [muxdMain, '--config', configFile], { env: { ...process.env, MUXD_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] });
  cleanups.push(
    () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  );
  let log = '';
  child.stderr.setEncoding('utf8');
  const base = await waitFor('muxd to be ready', child, () => {
    const entries = log.split('\n').filter((line) => line.startsWith('{')).map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return {};
      }
    });
    if (!entries.some((entry) => entry.msg === 'muxd ready')) return undefined;
    return entries.find((entry) => entry.msg === 'HTTP front listening')?.url;
  }, (listener) => child.stderr.on('data', (text) => {
    log += text;
    listener();
  }));
  const token = readFileSync(join(home, 'http-token'), 'utf8').trim();
  return { endpoint: `${base}/mcp/${SERVICE}`, token };
}

function waitFor(what, child, probe, subscribe, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`exited (${code}) while waiting for ${what}`)));
    subscribe(() => {
      const value = probe();
      if (value !== undefined) {
        clearTimeout(timer);
        resolve(value);
      }
    });
  });
}

/** Runs the suite against `url`; returns { scenario: checks[] } from its result files. */
function runSuite(label, url, outDir, env) {
  console.log(`\n=== conformance suite, ${label}: ${url}`);
  const suiteArgs = [suiteMain, 'server', '--url', url, '-o', outDir, ...(scenario ? ['--scenario', scenario] : ['--suite', 'all'])];
  const run = spawnSync(node22, suiteArgs, { cwd: suiteDir, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 ** 2 });
  writeFileSync(`${outDir}.log`, `${run.stdout}\n${run.stderr}`);
  if (run.error) throw run.error;
  const results = {};
  for (const entry of existsSync(outDir) ? readdirSync(outDir) : []) {
    const match = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
    if (!match) continue;
    results[match[1]] = JSON.parse(readFileSync(join(outDir, entry, 'checks.json'), 'utf8'));
  }
  if (Object.keys(results).length === 0) throw new Error(`the suite wrote no results (exit ${run.status}); its output is in ${outDir}.log:\n${run.stdout}\n${run.stderr}`);
  return results;
}

/** The suite's own verdict: a scenario fails on any FAILURE or WARNING check. */
function verdict(checks) {
  const count = (status) => checks.filter((check) => check.status === status).length;
  return { passed: count('FAILURE') === 0 && count('WARNING') === 0, successes: count('SUCCESS'), failures: count('FAILURE'), warnings: count('WARNING') };
}

function readExpectedFailures() {
  const file = join(suiteDir, 'expected-failures.yml');
  const { parse } = createRequire(join(suiteDir, 'package.json'))('yaml');
  const parsed = parse(readFileSync(file, 'utf8')) ?? {};
  const entries = parsed['through-muxd'] ?? {};
  for (const [name, reason] of Object.entries(entries)) {
    if (typeof reason !== 'string' || reason.trim() === '') throw new Error(`${file}: ${name} has no reason: every expected failure says why`);
  }
  return entries;
}

function report(direct, viaMuxd, expected) {
  const names = [...new Set([...Object.keys(direct), ...Object.keys(viaMuxd)])].sort();
  const width = Math.max(...names.map((name) => name.length));
  const show = (v) => (v === undefined ? 'not run' : `${v.passed ? 'pass' : 'FAIL'} (${v.successes} ok, ${v.failures} failed, ${v.warnings} warnings)`);
  console.log(`\n${'scenario'.padEnd(width)}  ${'direct'.padEnd(36)}  through muxd`);
  const problems = [];
  const tally = { direct: 0, muxd: 0 };
  for (const name of names) {
    const d = direct[name] ? verdict(direct[name]) : undefined;
    const m = viaMuxd[name] ? verdict(viaMuxd[name]) : undefined;
    if (d?.passed) tally.direct++;
    if (m?.passed) tally.muxd++;
    console.log(`${name.padEnd(width)}  ${show(d).padEnd(36)}  ${show(m)}`);
    const regression = d?.passed && !m?.passed;
    if (regression && !(name in expected)) {
      const failed = (viaMuxd[name] ?? []).filter((check) => check.status === 'FAILURE' || check.status === 'WARNING');
      problems.push(`${name} passes directly but fails through muxd: ${failed.map((check) => `${check.id}: ${check.errorMessage ?? check.status}`).join('; ') || 'no result'}`);
    }
    if (name in expected && !regression) problems.push(`${name} is in expected-failures.yml but does not fail through muxd (remove it)`);
  }
  for (const name of Object.keys(expected)) if (!names.includes(name) && !scenario) problems.push(`expected-failures.yml names ${name}, which the suite did not run`);
  console.log(`\ndirect:       ${tally.direct} of ${names.length} scenarios passed`);
  console.log(`through muxd: ${tally.muxd} of ${names.length} scenarios passed (${Object.keys(expected).length} expected failures)`);
  for (const problem of problems) console.log(`problem: ${problem}`);
  console.log(`conformance through muxd: ${tally.muxd} passed, ${names.length - tally.muxd} failed`);
  return problems.length === 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`conformance: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
process.exit(code);
