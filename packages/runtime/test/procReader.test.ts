// The /proc tree walk and the smaps_rollup parse, against this machine's
// real /proc; and, for the kernels this one is not, against a /proc laid
// out by hand in a scratch directory (with or without task/<tid>/children).
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveProcesses, rssBytes } from '../../../test/procfs.js';
import { parseSmapsRollup } from '../src/smapsRollup.js';
import { sampleProcesses, sampleTrees } from '../src/processStats.js';

const HAS_ROLLUP = existsSync('/proc/self/smaps_rollup');

/** A shell that starts `count` sleepers and waits for them; killed (group and all) after the test. */
async function sleepers(t: TestContext, count: number): Promise<{ shell: number; children: number[] }> {
  const script = `${'sleep 300 & '.repeat(count)}echo ready; wait`;
  const shell = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  t.after(() => {
    try {
      process.kill(-(shell.pid as number), 'SIGKILL');
    } catch {
      // Already gone.
    }
  });
  await once(shell.stdout, 'data');
  const children = liveProcesses()
    .filter((stat) => stat.ppid === shell.pid)
    .map((stat) => stat.pid);
  assert.equal(children.length, count, 'every sleeper is running');
  return { shell: shell.pid as number, children };
}

function pssOf(pid: number): number {
  return Number(/^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1]) * 1024;
}

describe('parseSmapsRollup', () => {
  test('reads PSS and RSS from this process\'s smaps_rollup', { skip: !HAS_ROLLUP && 'no smaps_rollup on this kernel' }, () => {
    const rollup = parseSmapsRollup(readFileSync('/proc/self/smaps_rollup', 'utf8'));
    assert.ok(rollup, 'a live process has a Pss line');
    assert.ok(rollup.pssBytes > 0 && rollup.pssBytes <= rollup.rssBytes, `pss ${rollup.pssBytes} within rss ${rollup.rssBytes}`);
    const vmRss = rssBytes(process.pid);
    assert.ok(rollup.rssBytes > vmRss / 2 && rollup.rssBytes < vmRss * 2, `rss ${rollup.rssBytes} vs VmRSS ${vmRss}`);
  });

  test('kB lines become bytes; a zombie\'s empty file has no figure', () => {
    assert.deepEqual(parseSmapsRollup('00400000-7fff [rollup]\nRss:   2048 kB\nPss:   1024 kB\nPss_Anon:   512 kB\n'), { pssBytes: 1024 * 1024, rssBytes: 2048 * 1024 });
    assert.equal(parseSmapsRollup(''), undefined);
  });
});

describe('sampleTrees against the real /proc', () => {
  test('a tree is its root and every descendant, with PSS summed', async (t) => {
    const { shell, children } = await sleepers(t, 3);
    const usage = (await sampleTrees([shell])).get(shell);
    assert.ok(usage);
    assert.deepEqual([...usage.pids].sort((a, b) => a - b), [shell, ...children].sort((a, b) => a - b));
    assert.equal(usage.processes, 4);
    assert.equal(usage.capped, false);
    if (HAS_ROLLUP) {
      assert.equal(usage.memoryKind, 'pss');
      // Sleeping processes do not change their mappings: the sum is what each smaps_rollup says.
      assert.equal(usage.memoryBytes, [shell, ...children].reduce((sum, pid) => sum + pssOf(pid), 0));
    }
    const one = (await sampleTrees([children[0] as number])).get(children[0] as number);
    assert.equal(one?.processes, 1, 'a leaf is a tree of one');
  });

  test('a walk stops at maxProcesses and says so', async (t) => {
    const { shell } = await sleepers(t, 5);
    const usage = (await sampleTrees([shell], { maxProcesses: 3 })).get(shell);
    assert.equal(usage?.processes, 3);
    assert.equal(usage?.capped, true);
  });

  test('a process that is gone has no entry; the others are still read', async (t) => {
    const child = spawn('/bin/sh', ['-c', 'exit 0']);
    await once(child, 'exit');
    const gone = child.pid as number;
    const { shell } = await sleepers(t, 1);
    const trees = await sampleTrees([gone, shell]);
    assert.equal(trees.has(gone), false);
    assert.equal(trees.get(shell)?.processes, 2);
    const singles = await sampleProcesses([gone, process.pid]);
    assert.deepEqual([...singles.keys()], [process.pid]);
    if (HAS_ROLLUP) assert.equal(singles.get(process.pid)?.memoryKind, 'pss');
  });
});

/** One process of a hand-made /proc: `children` per thread, or none to play a kernel without those files. */
interface FakeProcess {
  pid: number;
  ppid: number;
  pssKb: number;
  threads?: Record<number, number[]>;
}

function fakeProc(t: TestContext, processes: FakeProcess[], withChildrenFiles: boolean): string {
  const root = mkdtempSync(join(tmpdir(), 'fake-proc-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const { pid, ppid, pssKb, threads = { [pid]: [] } } of processes) {
    const dir = join(root, String(pid));
    mkdirSync(dir);
    // Fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime...
    // With children files, every stat names init as the parent: only those files can tell the tree.
    writeFileSync(join(dir, 'stat'), `${pid} (a (b) c) S ${withChildrenFiles ? 1 : ppid} ${pid} ${pid} 0 -1 0 0 0 0 0 ${pid} 1 0 0\n`);
    writeFileSync(join(dir, 'smaps_rollup'), `00-ff ---p 00000000 00:00 0 [rollup]\nRss: ${pssKb * 2} kB\nPss: ${pssKb} kB\n`);
    for (const [tid, kids] of Object.entries(threads)) {
      mkdirSync(join(dir, 'task', tid), { recursive: true });
      if (withChildrenFiles) writeFileSync(join(dir, 'task', tid, 'children'), kids.map((kid) => `${kid} `).join(''));
    }
  }
  return root;
}

describe('sampleTrees against a /proc laid out by hand', () => {
  const tree: FakeProcess[] = [
    { pid: 10, ppid: 1, pssKb: 100, threads: { 10: [11], 15: [12] } },
    { pid: 11, ppid: 10, pssKb: 20, threads: { 11: [13] } },
    { pid: 12, ppid: 10, pssKb: 3 },
    { pid: 13, ppid: 11, pssKb: 4 },
    { pid: 20, ppid: 1, pssKb: 1000 },
  ];

  test('follows every thread\'s children file', async (t) => {
    const procRoot = fakeProc(t, tree, true);
    const usage = (await sampleTrees([10, 11], { procRoot }));
    assert.deepEqual(usage.get(10)?.pids.sort(), [10, 11, 12, 13]);
    assert.equal(usage.get(10)?.memoryBytes, 127 * 1024);
    assert.equal(usage.get(10)?.cpuMs, (10 + 11 + 12 + 13 + 4) * 10, 'utime + stime, at 100 ticks a second');
    assert.deepEqual(usage.get(11)?.pids.sort(), [11, 13]);
  });

  test('falls back to the parents in each stat where the kernel has no children files', async (t) => {
    const procRoot = fakeProc(t, tree, false);
    const usage = (await sampleTrees([10], { procRoot })).get(10);
    assert.deepEqual(usage?.pids.sort(), [10, 11, 12, 13]);
    assert.equal(usage?.memoryBytes, 127 * 1024);
  });

  test('a child listed but gone before it is read is skipped', async (t) => {
    const procRoot = fakeProc(t, [{ pid: 10, ppid: 1, pssKb: 100, threads: { 10: [11, 99] } }, { pid: 11, ppid: 10, pssKb: 20 }], true);
    const usage = (await sampleTrees([10], { procRoot })).get(10);
    assert.deepEqual(usage?.pids.sort(), [10, 11]);
    assert.equal(usage?.memoryBytes, 120 * 1024);
  });

  test('without smaps_rollup the memory is RSS, and the tree says so', async (t) => {
    const procRoot = fakeProc(t, [{ pid: 10, ppid: 1, pssKb: 100, threads: { 10: [11] } }, { pid: 11, ppid: 10, pssKb: 20 }], true);
    rmSync(join(procRoot, '11', 'smaps_rollup'));
    writeFileSync(join(procRoot, '11', 'status'), 'Name:\tx\nVmRSS:\t     64 kB\n');
    const usage = (await sampleTrees([10], { procRoot })).get(10);
    assert.equal(usage?.memoryKind, 'rss');
    assert.equal(usage?.memoryBytes, (100 + 64) * 1024);
  });
});
