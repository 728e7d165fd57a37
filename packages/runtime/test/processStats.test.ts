import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { CpuSampler, readProcessTable, treeUsage } from '../src/processStats.js';

/** A child of this process holding some memory, killed after the test. */
async function spawnChild(t: TestContext): Promise<number> {
  const child = spawn(
    process.execPath,
    ['-e', "globalThis.keep = Buffer.alloc(32 * 1024 * 1024, 1); process.stdout.write('ready'); setInterval(() => {}, 1000)"],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  t.after(() => child.kill('SIGKILL'));
  await once(child.stdout, 'data');
  assert.ok(child.pid);
  return child.pid;
}

type Info = { pid: number; ppid: number; command: string; rss: number; cpuMs: number };
const info = (pid: number, ppid: number, rss: number, cpuMs = 0): [number, Info] => [pid, { pid, ppid, command: '', rss, cpuMs }];

describe('readProcessTable and treeUsage', () => {
  test('reads this process\'s memory and CPU as the OS reports them', async () => {
    const self = (await readProcessTable()).get(process.pid);
    assert.ok(self, 'this process is in the table');
    assert.equal(self.ppid, process.ppid);
    const rss = process.memoryUsage().rss;
    assert.ok(self.rss > rss / 2 && self.rss < rss * 2, `rss ${self.rss} vs process.memoryUsage ${rss}`);
    const cpu = process.cpuUsage();
    const cpuMs = (cpu.user + cpu.system) / 1000;
    assert.ok(Math.abs(self.cpuMs - cpuMs) < 100 + cpuMs * 0.2, `cpu ${self.cpuMs} ms vs process.cpuUsage ${cpuMs} ms`);
  });

  test('the usage of this process\'s tree includes a spawned child\'s memory', async (t) => {
    const childPid = await spawnChild(t);
    const table = await readProcessTable();
    const self = table.get(process.pid);
    const child = table.get(childPid);
    assert.ok(self && child);
    assert.equal(child.ppid, process.pid);
    assert.ok(child.rss >= 32 * 1024 * 1024, `the child touched 32 MiB; rss ${child.rss}`);

    assert.deepEqual(treeUsage(table, childPid), { memoryBytes: child.rss, memoryKind: 'rss', cpuMs: child.cpuMs, processes: 1, pids: [childPid], capped: false });
    const tree = treeUsage(table, process.pid);
    assert.ok(tree);
    assert.ok(tree.processes >= 2, `${tree.processes} processes`);
    assert.ok(tree.memoryBytes >= self.rss + child.rss, `tree rss ${tree.memoryBytes} covers self ${self.rss} and child ${child.rss}`);
  });

  test('sums exactly the root and its descendants', () => {
    const table = new Map([info(10, 1, 100, 5), info(11, 10, 20, 1), info(12, 11, 3, 1), info(13, 10, 4), info(20, 1, 1000), info(1, 0, 7)]);
    assert.deepEqual(treeUsage(table, 10), { memoryBytes: 127, memoryKind: 'rss', cpuMs: 7, processes: 4, pids: [10, 11, 13, 12], capped: false });
    assert.deepEqual(treeUsage(table, 11), { memoryBytes: 23, memoryKind: 'rss', cpuMs: 2, processes: 2, pids: [11, 12], capped: false });
    assert.deepEqual(treeUsage(table, 10, 2), { memoryBytes: 120, memoryKind: 'rss', cpuMs: 6, processes: 2, pids: [10, 11], capped: true });
    assert.equal(treeUsage(table, 99), undefined, 'a pid that is gone has no usage');
  });

  test('a ppid loop does not hang', () => {
    const table = new Map([info(5, 6, 1), info(6, 5, 2)]);
    assert.deepEqual(treeUsage(table, 5), { memoryBytes: 3, memoryKind: 'rss', cpuMs: 0, processes: 2, pids: [5, 6], capped: false });
  });
});

describe('CpuSampler', () => {
  test('the first sample averages over the process\'s life, later ones over the interval', () => {
    const sampler = new CpuSampler();
    assert.equal(sampler.percent('fs', 500, 0, 1000), 50);
    assert.equal(sampler.percent('fs', 1500, 0, 2000), 100);
    assert.equal(sampler.percent('fs', 1500, 0, 3000), 0);
  });

  test('trees are tracked separately', () => {
    const sampler = new CpuSampler();
    sampler.percent('a', 0, 0, 1000);
    sampler.percent('b', 0, 0, 1000);
    assert.equal(sampler.percent('a', 250, 0, 2000), 25);
    assert.equal(sampler.percent('b', 1000, 0, 2000), 100);
  });

  test('a CPU counter that went back (a new process) starts over from its start time', () => {
    const sampler = new CpuSampler();
    sampler.percent('fs', 5000, 0, 10_000);
    assert.equal(sampler.percent('fs', 100, 9800, 10_000), 50);
  });

  test('no time elapsed gives 0 rather than a division by zero', () => {
    const sampler = new CpuSampler();
    assert.equal(sampler.percent('fs', 100, 1000, 1000), 0);
  });

  test('forget drops the previous sample', () => {
    const sampler = new CpuSampler();
    sampler.percent('fs', 900, 0, 1000);
    sampler.forget('fs');
    assert.equal(sampler.percent('fs', 1000, 0, 2000), 50);
  });
});
