import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MUXD_MAIN, ROOT, createHome, memoryServer, runMuxctl, waitFor } from './harness.js';
import type { Scope } from './harness.js';

/** Colour escapes (pino-pretty's on a terminal). */
const ANSI = /\u001b\[[0-9;]*m/g;

interface Terminal {
  output(): string;
  exited: Promise<number | null>;
}

/**
 * Runs `command` (a shell command line) on a real pseudo-terminal through
 * util-linux `script`, as `npm start` in a terminal runs muxd. Killed by
 * `scope`'s after hook if still running.
 */
function onTerminal(scope: Scope, command: string, env: Record<string, string>): Terminal {
  const child = spawn('script', ['-qfc', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  scope.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { output: () => output, exited };
}

function lines(text: string): string[] {
  return text
    .replace(ANSI, '')
    .split(/\r?\n/)
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.trim() !== '');
}

/** Runs muxd on a terminal in `home` until it is ready, stops it with muxctl, and returns what the terminal showed. */
async function muxdOnTerminal(scope: Scope, home: { home: string; configFile: string }, extraArgs = '', env: Record<string, string> = {}): Promise<string> {
  const terminal = onTerminal(scope, `${process.execPath} ${MUXD_MAIN} --config ${home.configFile} ${extraArgs}`, { MUXD_HOME: home.home, ...env });
  await waitFor('muxd ready on the terminal', () => terminal.output().includes('muxd ready'), 15_000);
  const stopped = await runMuxctl(home.home, ['daemon', 'stop']);
  assert.equal(stopped.code, 0, stopped.stderr);
  await terminal.exited;
  return terminal.output();
}

test('on a terminal muxd logs pretty lines; its log file stays JSON', async (t) => {
  const home = createHome(t, { memory: memoryServer() });
  const output = await muxdOnTerminal(t, home, '', { MUXD_LOG_FORMAT: '' });
  assert.match(output, ANSI, 'coloured on a terminal');
  const shown = lines(output);
  assert.ok(shown.some((line) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: muxd ready/.test(line)), shown.join('\n'));
  assert.equal(shown.some((line) => line.startsWith('{')), false, 'no JSON line on the terminal');
  const file = readFileSync(join(home.home, 'logs', 'daemon', 'current.log'), 'utf8');
  const entries = file.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { msg: string });
  assert.ok(entries.some((entry) => entry.msg === 'muxd ready'));
});

test('MUXD_LOG_FORMAT=json keeps JSON lines on a terminal', async (t) => {
  const home = createHome(t, { memory: memoryServer() });
  const shown = lines(await muxdOnTerminal(t, home, '', { MUXD_LOG_FORMAT: 'json' }));
  const ready = shown.find((line) => line.includes('muxd ready'));
  assert.equal((JSON.parse(ready ?? '') as { msg: string }).msg, 'muxd ready');
});

test('through a pipe muxd logs JSON lines, and --log-format pretty makes them readable without colours', async (t) => {
  const home = createHome(t, { memory: memoryServer() });
  for (const [args, pretty] of [[[], false], [['--log-format', 'pretty'], true]] as const) {
    const child = spawn(process.execPath, [MUXD_MAIN, '--config', home.configFile, ...args], {
      env: { ...process.env, MUXD_HOME: home.home, MUXD_LOG_FORMAT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.stdout.resume();
    await waitFor('muxd ready', () => stderr.includes('muxd ready'), 15_000);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    const ready = stderr.split('\n').find((line) => line.includes('muxd ready')) ?? '';
    if (pretty) {
      assert.match(ready, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: muxd ready/);
      assert.doesNotMatch(stderr, ANSI);
    } else {
      assert.equal((JSON.parse(ready) as { msg: string }).msg, 'muxd ready');
    }
  }
});

test('an unknown MUXD_LOG_FORMAT is refused in one line naming the choices', async (t) => {
  const home = createHome(t, { memory: memoryServer() });
  const child = spawn(process.execPath, [MUXD_MAIN, '--config', home.configFile], {
    env: { ...process.env, MUXD_HOME: home.home, MUXD_LOG_FORMAT: 'fancy' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 2);
  assert.equal(stderr.trim(), 'muxd: MUXD_LOG_FORMAT must be json, pretty, auto; got "fancy"');
});

test('secrets are redacted in pretty lines as in JSON ones', async (t) => {
  const dir = mkdtempSync('/tmp/mx-log-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const program = join(dir, 'log.mjs');
  // The daemon logger as muxd builds it, given fields that hold secrets.
  writeFileSync(
    program,
    [
      `import { createDaemonLogger } from '${join(ROOT, 'packages/daemon/dist/logs.js')}';`,
      `import { prettyDestination } from '${join(ROOT, 'packages/daemon/dist/logFormat.js')}';`,
      `const pretty = process.argv[2] === 'pretty';`,
      `const log = await createDaemonLogger(${JSON.stringify(dir)}, true, undefined, pretty ? await prettyDestination(2, true) : undefined);`,
      `log.info({ env: { API_KEY: 'sk-env-secret' }, token: 'tok-secret', headers: { authorization: 'Bearer auth-secret' }, service: 'x' }, 'with secrets');`,
      `log.flush();`,
    ].join('\n'),
  );
  for (const format of ['pretty', 'json']) {
    const terminal = onTerminal(t, `${process.execPath} ${program} ${format}`, {});
    await terminal.exited;
    const output = terminal.output().replace(ANSI, '');
    assert.match(output, /with secrets/, output);
    assert.match(output, /\[redacted\]/);
    assert.doesNotMatch(output, /sk-env-secret|tok-secret|auth-secret/);
  }
  const file = readFileSync(join(dir, 'daemon', 'current.log'), 'utf8');
  assert.doesNotMatch(file, /sk-env-secret|tok-secret|auth-secret/);
});
