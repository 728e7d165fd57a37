// What muxd watches on its own: children that stop answering (health pings),
// children that grow past maxMemory, and logs that grow past their size.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryResult, ListResult, RunRecord, ServiceRow } from '@muxd/protocol';
import { fixtureServer, isAlive, startMuxd, waitFor } from './harness.js';
import type { Muxd } from './harness.js';

/** Polls `muxctl history` until the run of `pid` has ended; returns it. */
function endedRun(muxd: Muxd, name: string, pid: number, timeoutMs = 15_000): Promise<RunRecord> {
  return waitFor(`muxctl history ${name} to show the end of pid ${pid}`, async () => {
    const run = await muxd.muxctl(['history', name, '--json']);
    assert.equal(run.code, 0, run.stderr);
    return run.json<HistoryResult>().runs.find((entry) => entry.pid === pid && entry.endedAt !== null);
  }, timeoutMs, 100);
}

async function row(muxd: Muxd, name: string): Promise<ServiceRow> {
  const run = await muxd.muxctl(['ls', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const found = run.json<ListResult>().services.find((service) => service.name === name);
  assert.ok(found);
  return found;
}

const muxd = await startMuxd({ after }, {
  hang: fixtureServer('hang', { lazy: false, healthCheck: { interval: '200ms', timeout: '300ms' } }),
  // Checked as often, but a ping is given long enough that a busy moment is never taken for a hang.
  hog: fixtureServer('hog', { lazy: false, healthCheck: { interval: '200ms', timeout: '10s' }, maxMemory: '100MiB' }),
});

describe('health checks and maxMemory', () => {
  test('a child that stops answering pings is restarted (reason hung); its client carries on', { timeout: 30_000 }, async (t) => {
    const c = await muxd.connect(t, 'hang', { name: 'hang-client' });
    const pid = Number(await c.callText('pid'));
    await muxd.waitForServiceLog('hang', 'three answered pings', (entry) => entry.msg === 'hang: ping 3');
    assert.deepEqual(muxd.childPids('hang'), [pid], 'answered pings restart nothing');

    const call = c.callText('hang').then(() => undefined, (error: Error) => error);
    await muxd.waitForServiceLog('hang', 'the child to block', (entry) => entry.msg === 'hang: blocking');
    const run = await endedRun(muxd, 'hang', pid);
    assert.equal(run.reason, 'hung');
    assert.equal(isAlive(pid), false);
    assert.ok((await call) instanceof Error, 'the call it never answered fails');

    const [revived] = await muxd.waitForChildren('hang', 1);
    assert.notEqual(revived, pid);
    assert.equal(await c.callText('echo', { message: 'awake' }), 'hang: awake');
    const hang = await row(muxd, 'hang');
    assert.equal(hang.status, 'online');
    assert.equal(hang.lastExit?.reason, 'hung');
    assert.equal(hang.restarts, 1);
  });

  test('a child over maxMemory is restarted (reason memory); its client carries on', { timeout: 30_000 }, async (t) => {
    const c = await muxd.connect(t, 'hog', { name: 'hog-client' });
    const pid = Number(await c.callText('pid'));
    const before = await row(muxd, 'hog');
    assert.ok((before.memoryBytes as number) < 100 * 1024 ** 2, `starts under the limit: ${before.memoryBytes}`);

    // The restart may come before the answer does.
    await c.callText('allocate', { mb: 200 }).catch(() => undefined);
    const run = await endedRun(muxd, 'hog', pid);
    assert.equal(run.reason, 'memory');
    assert.equal(isAlive(pid), false);
    const logged = await muxd.waitForServiceLog('hog', 'why it restarted', (entry) => entry.msg === 'child over maxMemory: restarting');
    assert.ok((logged['memoryBytes'] as number) > 100 * 1024 ** 2);
    assert.equal(logged['memoryKind'], existsSync('/proc/self/smaps_rollup') ? 'pss' : 'rss', 'measured as ls measures it');

    const [revived] = await muxd.waitForChildren('hog', 1);
    assert.notEqual(revived, pid);
    assert.equal(await c.callText('echo', { message: 'lighter' }), 'hog: lighter');
    const hog = await row(muxd, 'hog');
    assert.equal(hog.status, 'online');
    assert.equal(hog.lastExit?.reason, 'memory');
    assert.equal(hog.restarts, 1, 'one restart, counted once');
    assert.ok((hog.memoryBytes as number) < 100 * 1024 ** 2);
  });
});

test('logs rotate at maxSize and keep at most keep+1 files per log, across a daemon restart too', { timeout: 45_000 }, async (t) => {
  const keep = 2;
  const chatty = await startMuxd(t, { chatty: fixtureServer('chatty', { lazy: false }) }, { logs: { maxSize: '2KiB', keep } });
  const serviceDir = join(chatty.home, 'logs', 'services', 'chatty');
  const daemonDir = join(chatty.home, 'logs', 'daemon');
  const files = (dir: string) =>
    readdirSync(dir)
      .filter((name) => /\.\d+\.log$/.test(name))
      .sort((a, b) => Number(/(\d+)\.log$/.exec(a)?.[1]) - Number(/(\d+)\.log$/.exec(b)?.[1]));
  const highest = (dir: string) => Math.max(...files(dir).map((name) => Number(/(\d+)\.log$/.exec(name)?.[1])));

  const chatter = async (tag: string) => {
    const c = await chatty.connect(t, 'chatty', { name: `chatty-${tag}` });
    // About 150 bytes a log line: each call is several 2 KiB files.
    assert.equal(await c.callText('chatter', { tag, lines: 100 }), `chattered ${tag}`);
    await waitFor(`the last line of ${tag} in the log`, () =>
      files(serviceDir).some((name) => readFileSync(join(serviceDir, name), 'utf8').includes(`chatty ${tag} 99 `)),
    );
    await c.close();
  };

  await chatter('first');
  assert.ok(highest(serviceDir) >= 4, `rotated several times: ${files(serviceDir).join(', ')}`);
  await waitFor(`at most ${keep + 1} service log files`, () => files(serviceDir).length <= keep + 1, 5000).catch(() => {
    assert.fail(`service log files: ${files(serviceDir).join(', ')}`);
  });
  await waitFor('current.log to point at the newest file', () => readlinkSync(join(serviceDir, 'current.log')) === files(serviceDir).at(-1));
  const lastLines = await chatty.muxctl(['logs', 'chatty', '-n', '200']);
  assert.match(lastLines.stdout, /stderr \| chatty first 99 /, 'muxctl logs reads the rotated log');

  // A restarted daemon goes on numbering, and still deletes the old files.
  await chatty.stop();
  await chatty.respawn();
  await chatter('second');
  await waitFor(`at most ${keep + 1} service log files after a restart`, () => files(serviceDir).length <= keep + 1, 5000).catch(() => {
    assert.fail(`service log files: ${files(serviceDir).join(', ')}`);
  });
  await waitFor(`at most ${keep + 1} daemon log files`, () => files(daemonDir).length <= keep + 1, 5000).catch(() => {
    assert.fail(`daemon log files: ${files(daemonDir).join(', ')}`);
  });
});
