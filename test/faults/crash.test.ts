// muxd itself dying of a bug: an uncaught exception or an unhandled
// rejection. The crash is injected from outside, with NODE_OPTIONS loading
// test/fixtures/crash-muxd.mjs into a real muxd; then the daemon log, the
// crash record, muxd.stderr and `muxctl daemon status` must all tell what
// happened, while muxd is down and once it runs again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DaemonStatus } from '@muxd/protocol';
import type { LastCrash } from '@muxd/protocol';
import { MUXD_MAIN, ROOT, createHome, fixtureServer, waitFor, within } from '../e2e/harness.js';
import type { LogEntry } from '../e2e/harness.js';

const CRASH_FIXTURE = join(ROOT, 'test/fixtures/crash-muxd.mjs');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'packages/daemon/package.json'), 'utf8')) as { version: string }).version;

/** The environment that makes muxd crash once it serves (see the fixture). */
const crashing = (kind: 'exception' | 'rejection' | 'starting' | 'silent' = 'exception') => ({ NODE_OPTIONS: `--import ${CRASH_FIXTURE}`, MUXD_CRASH: kind });

function daemonLog(home: string): LogEntry[] {
  let text = '';
  try {
    text = readFileSync(join(home, 'logs', 'daemon', 'current.log'), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogEntry);
}

function crashRecord(home: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(home, 'last-crash.json'), 'utf8')) as Record<string, unknown>;
}

/** "last crash  <time> (<n>s ago), pid <pid>: <message> (full stack in <file>)" */
function crashLine(pid: number, message: string, file: string): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^last crash  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ \\(\\d+s ago\\), pid ${pid}: ${escape(message)} \\(full stack in ${escape(file)}\\)$`, 'm');
}

test('muxd dying of an uncaught exception: exit 1, the stack in its log and in a crash record, its children gone; muxctl daemon status shows the crash while muxd is down and once it runs again', { timeout: 60_000 }, async (t) => {
  const home = createHome(t, { probe: fixtureServer('probe', { lazy: false }) });
  const muxd = spawn(process.execPath, [MUXD_MAIN, '--config', home.configFile], {
    env: { ...process.env, ...home.env, ...crashing(), MUXD_BACKGROUND: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.after(() => muxd.kill('SIGKILL'));
  let stderr = '';
  muxd.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const [code, signal] = await within(new Promise<[number | null, string | null]>((resolve) => muxd.once('exit', (...args) => resolve(args))), 30_000, 'muxd to crash');
  const pid = muxd.pid as number;
  assert.deepEqual([code, signal], [1, null], stderr);
  await waitFor('the crashed muxd\'s child to be gone', () => home.childPids('probe').length === 0);

  // The daemon log has the error with its stack, written before muxd exited.
  const file = join(home.home, 'last-crash.json');
  const fatal = daemonLog(home.home).find((entry) => entry.level === 60);
  assert.ok(fatal, `a fatal line in the daemon log: ${JSON.stringify(daemonLog(home.home).slice(-3))}`);
  assert.equal(fatal.msg, 'muxd crashed: Error: injected crash');
  assert.equal(fatal['origin'], 'uncaughtException');
  assert.equal(fatal['crashRecord'], file);
  assert.match(String((fatal['err'] as { stack?: string }).stack), /^Error: injected crash\n\s+at .*crash-muxd\.mjs/);

  // The crash record: small, private, and all a reader needs.
  const record = crashRecord(home.home);
  assert.deepEqual(
    { pid: record['pid'], version: record['version'], origin: record['origin'], message: record['message'] },
    { pid, version: VERSION, origin: 'uncaughtException', message: 'Error: injected crash' },
  );
  assert.match(String(record['stack']), /^Error: injected crash\n\s+at .*crash-muxd\.mjs/);
  assert.ok(Math.abs(Date.now() - Number(record['at'])) < 30_000);
  assert.equal(lstatSync(file).mode & 0o777, 0o600);
  // And stderr (muxd.stderr when muxd runs in the background).
  assert.match(stderr, /muxd: crashed \(uncaughtException\): Error: injected crash\n\s+at /);
  assert.ok(stderr.includes(`muxd: crash record: ${file}\n`), stderr);

  // Down: muxctl reads the record itself.
  const down = await home.muxctl(['daemon', 'status']);
  assert.equal(down.code, 3, down.stderr);
  assert.equal(down.stdout.split('\n')[0], 'muxd is not running');
  assert.match(down.stdout, crashLine(pid, 'Error: injected crash', file));
  const downJson = await home.muxctl(['daemon', 'status', '--json']);
  assert.equal(downJson.code, 3);
  const downStatus = downJson.json<{ running: boolean; lastCrash: LastCrash | null }>();
  assert.equal(downStatus.running, false);
  assert.deepEqual({ ...downStatus.lastCrash, stack: undefined }, { ...record, stack: undefined, file });
  assert.match(downStatus.lastCrash?.stack ?? '', /injected crash/);

  // Running again: the new muxd reads the record and reports it.
  const start = await home.muxctl(['daemon', 'start']);
  assert.equal(start.code, 0, start.stderr);
  const upJson = await home.muxctl(['daemon', 'status', '--json']);
  assert.equal(upJson.code, 0, upJson.stderr);
  const up = upJson.json<DaemonStatus & { running: boolean }>();
  assert.equal(up.running, true);
  assert.notEqual(up.pid, pid);
  assert.equal(up.lastCrash?.pid, pid);
  assert.equal(up.lastCrash?.message, 'Error: injected crash');
  assert.equal(up.lastCrash?.file, file);
  const upText = await home.muxctl(['daemon', 'status']);
  assert.equal(upText.code, 0, upText.stderr);
  assert.match(upText.stdout, new RegExp(`^muxd \\S+ running, pid ${up.pid}, up `));
  assert.match(upText.stdout, crashLine(pid, 'Error: injected crash', file));
});

test('muxd.stderr is appended to by each background start, cut to its last 256 KiB when over 1 MiB; an unhandled rejection is a crash too', { timeout: 60_000 }, async (t) => {
  const home = createHome(t, { probe: fixtureServer('probe') });
  const stderrFile = join(home.home, 'muxd.stderr');
  // What earlier daemons left: 1.5 MiB of lines.
  const filler = 'an earlier daemon said something here\n';
  writeFileSync(stderrFile, `first earlier line\n${filler.repeat(Math.ceil((1.5 * 1024 * 1024) / filler.length))}last earlier line\n`);

  const first = await home.muxctl(['daemon', 'start'], { env: crashing('rejection') });
  assert.equal(first.code, 0, first.stderr);
  const [crashedPid] = home.daemonPids();
  await waitFor('the background muxd to crash', () => home.daemonPids().length === 0, 30_000);

  let text = readFileSync(stderrFile, 'utf8');
  assert.ok(text.length < 256 * 1024 + 16 * 1024, `cut to about 256 KiB, is ${text.length} bytes`);
  assert.ok(!text.includes('first earlier line'), 'the oldest lines are gone');
  assert.ok(text.startsWith(filler), 'cut at a line start');
  assert.ok(text.includes('last earlier line\n--- muxd starting at '), 'the newest earlier lines stay, then this start');
  assert.match(text, /muxd: crashed \(unhandledRejection\): Error: injected rejection\n\s+at /);
  const record = crashRecord(home.home);
  assert.deepEqual([record['pid'], record['origin'], record['message']], [crashedPid, 'unhandledRejection', 'Error: injected rejection']);
  const fatal = daemonLog(home.home).find((entry) => entry.level === 60);
  assert.equal(fatal?.msg, 'muxd crashed: Error: injected rejection');

  // The next start appends: the crash's stack is still there.
  const second = await home.muxctl(['daemon', 'start']);
  assert.equal(second.code, 0, second.stderr);
  text = readFileSync(stderrFile, 'utf8');
  assert.match(text, /muxd: crashed \(unhandledRejection\): Error: injected rejection/);
  assert.equal(text.match(/^--- muxd starting at /gm)?.length, 2, 'one mark per start');
  assert.ok(text.indexOf('injected rejection') < text.lastIndexOf('--- muxd starting at '), 'the crash came before the second start');
  const status = await home.muxctl(['daemon', 'status']);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, crashLine(crashedPid as number, 'Error: injected rejection', join(home.home, 'last-crash.json')));

  // A start that fails is reported from its own part of muxd.stderr, never from an earlier daemon's.
  assert.equal((await home.muxctl(['daemon', 'stop'])).code, 0);
  const silent = await home.muxctl(['daemon', 'start'], { env: crashing('silent') });
  assert.equal(silent.code, 1, silent.stderr);
  assert.deepEqual(silent.stderrLines().filter((line) => !line.includes('starting muxd')), ['muxctl: muxd exited with code 3 while starting']);
  // One that crashes while starting is reported by its crash line, not the last line of its stack.
  const early = await home.muxctl(['daemon', 'start'], { env: crashing('starting') });
  assert.equal(early.code, 1, early.stderr);
  assert.deepEqual(early.stderrLines().filter((line) => !line.includes('starting muxd')), ['muxctl: muxd failed to start: crashed (uncaughtException): Error: injected crash while starting']);
  assert.equal(crashRecord(home.home)['message'], 'Error: injected crash while starting');
  assert.equal(readFileSync(stderrFile, 'utf8').match(/^--- muxd starting at /gm)?.length, 4);
});
