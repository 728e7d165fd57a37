// The soak (scripts/soak.mjs) in its short form: 50 clients making random
// calls, cancels and disconnects against server-everything and a child that
// crashes every 50 calls. `npm run soak` runs it for 2 minutes (SOAK_SECONDS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../e2e/harness.js';

const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 15);

interface SoakReport {
  pass: boolean;
  failures: string[];
  examples: string[];
  requests: { sent: number; answered: number; ok: number; errors: Record<string, number>; cancelled: number; abandoned: number; lost: number; progress: number };
  connections: { opened: number; graceful: number; dropped: number; refused: number };
  violations: Record<string, number>;
  restarts: Record<string, number>;
  maxChildren: Record<string, number>;
  fds: { baseline: number; end: number; leaked: number };
  rss: { warm: number; end: number; growth: number };
  leftoverProcesses: Array<{ pid: number; command: string }>;
}

function runSoak(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'scripts/soak.mjs'), '--json', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

test(`soak, ${SECONDS} s: every request answered exactly once, fds and memory flat, nothing left behind`, { timeout: (SECONDS + 120) * 1000 }, async () => {
  const run = await runSoak([`--seconds=${SECONDS}`, '--clients=50', '--proxies=5', '--crash-every=50', '--max-leaked-fds=4', '--max-rss-growth-mb=96']);
  let report: SoakReport;
  try {
    report = JSON.parse(run.stdout) as SoakReport;
  } catch {
    assert.fail(`the soak printed no report (exit ${run.code})\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
  const context = `\n${JSON.stringify({ failures: report.failures, examples: report.examples, requests: report.requests }, null, 2)}`;
  assert.deepEqual(Object.entries(report.violations).filter(([, count]) => count > 0), [], `no request lost, duplicated or misrouted${context}`);
  assert.equal(report.requests.sent, report.requests.answered + report.requests.cancelled + report.requests.abandoned + report.requests.lost, context);
  assert.equal(report.requests.lost, 0, context);
  assert.ok(report.requests.ok > 0 && report.requests.progress > 0 && report.requests.cancelled > 0, `calls, progress and cancels all happened${context}`);
  assert.ok(report.connections.graceful > 0 && report.connections.dropped > 0, `clients left both ways: ${JSON.stringify(report.connections)}`);
  // The fault path ran: the crashy child died under load, and the calls it had were failed, not lost.
  assert.ok((report.restarts['crashy'] ?? 0) > 0, `crashy restarted: ${JSON.stringify(report.restarts)}`);
  assert.ok((report.requests.errors['upstream-exited'] ?? 0) > 0, context);
  assert.equal(report.restarts['everything'], 0, 'server-everything never restarted');
  assert.equal(report.maxChildren['everything'], 1, 'one server-everything process all along');
  assert.ok((report.maxChildren['crashy'] ?? 0) <= 1, `never two crashy children at once: ${JSON.stringify(report.maxChildren)}`);
  assert.ok(report.fds.leaked <= 4, `fds: ${JSON.stringify(report.fds)}`);
  assert.ok(report.rss.growth < 96 * 1024 * 1024, `RSS: ${JSON.stringify(report.rss)}`);
  assert.deepEqual(report.leftoverProcesses, []);
  assert.deepEqual(report.failures, []);
  assert.equal(run.code, 0, run.stderr);
});
