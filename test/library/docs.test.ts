/**
 * docs/library.md cannot rot: every fenced `ts` block in it is run, as a
 * program of its own, against the built package (`import ... from 'muxd'`
 * resolves to packages/muxd), and must exit 0. The examples check their own
 * results with node:assert.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../e2e/harness.js';

const blocks = [...readFileSync(join(ROOT, 'docs/library.md'), 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string);

let dir: string;
before(() => {
  assert.ok(existsSync(join(ROOT, 'packages/muxd/dist/index.js')), 'the muxd package is not built: run npm run build');
  // The examples resolve 'muxd' and the SDK as a user's program would, from a node_modules beside them.
  dir = mkdtempSync(join(tmpdir(), 'muxd-docs-'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  output: string;
}

/** Runs one example as a program of its own, with tsx (an .mts file: TypeScript, as an ES module). */
function runExample(file: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe('docs/library.md', () => {
  it('has examples', () => {
    assert.ok(blocks.length >= 3, `found ${blocks.length} ts blocks`);
  });

  blocks.forEach((code, index) => {
    const firstLine = code.split('\n').find((line) => line.trim() !== '') ?? '';
    it(`example ${index + 1} runs (${firstLine.slice(0, 60)})`, async () => {
      const file = join(dir, `example-${index + 1}.mts`);
      writeFileSync(file, code);
      const run = await runExample(file);
      assert.equal(run.code, 0, `example ${index + 1} exited ${run.code}:\n${run.output}`);
    });
  });
});
