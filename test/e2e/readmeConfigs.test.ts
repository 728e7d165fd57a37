import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runMuxctl } from './harness.js';

/** Top-level keys only a muxd config has: a YAML block with one of them at its start is one. */
const CONFIG_KEYS = /^(services|mcpServers|defaults|logs|http|statusFile):/m;

/** Every ```yaml block of the README that looks like a muxd config, with the line it starts on. */
function readmeConfigs(): Array<{ line: number; text: string }> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks: Array<{ line: number; text: string }> = [];
  const fence = /^```ya?ml\n([\s\S]*?)^```$/gm;
  for (let match = fence.exec(readme); match; match = fence.exec(readme)) {
    const text = match[1] ?? '';
    if (CONFIG_KEYS.test(text)) blocks.push({ line: readme.slice(0, match.index).split('\n').length, text });
  }
  return blocks;
}

test("every config in the README passes muxctl config check", async (t) => {
  const blocks = readmeConfigs();
  // The reference block, the examples: a README that lost them should fail here, not pass vacuously.
  assert.ok(blocks.length >= 4, `found ${blocks.length} config blocks in README.md`);
  const home = mkdtempSync('/tmp/mx-readme-');
  t.after(() => rmSync(home, { recursive: true, force: true }));
  for (const { line, text } of blocks) {
    const file = join(home, `readme-line-${line}.yaml`);
    writeFileSync(file, text);
    // A fragment (the HTTP block alone) may define no services.
    const args = ['config', 'check', file, ...(/^(services|mcpServers):/m.test(text) ? [] : ['--allow-empty'])];
    // The variables the examples read from muxd's environment.
    const run = await runMuxctl(home, args, { env: { SUPABASE_ACCESS_TOKEN: 'sbp_example' } });
    assert.equal(run.code, 0, `README.md line ${line}: ${run.stderr}`);
  }
});
