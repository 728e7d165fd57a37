// Which processes run a host entry's server outside muxd, for muxctl
// setup: the entry's own command line, or for `npx ...` entries, npm's
// `npm exec ...` process, whose title drops npx's options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ServerSpec } from '@muxd/hosts';
import { runningOutsideMuxd, runsSpec } from '../src/setup/runningServers.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const entry = (command: string, args: string[]): ServerSpec => ({ command, args, env: {} });

test('a command line runs an entry: the same program by any path, or npm exec for npx and npm exec entries', () => {
  assert.equal(runsSpec('/usr/bin/node /srv/index.js', entry('node', ['/srv/index.js'])), true);
  assert.equal(runsSpec('/usr/bin/node /srv/other.js', entry('node', ['/srv/index.js'])), false);
  const npx = entry('npx', ['-y', '@modelcontextprotocol/server-memory', '--flag', 'x']);
  assert.equal(runsSpec('npm exec @modelcontextprotocol/server-memory --flag x', npx), true);
  assert.equal(runsSpec('npm exec @modelcontextprotocol/server-memory', npx), false, 'other arguments');
  assert.equal(runsSpec('npm exec mcp-server-memory y', entry('npx', ['-y', '-p', '@modelcontextprotocol/server-memory', 'mcp-server-memory', 'y'])), true, 'a -p entry: npm names the bin');
  assert.equal(runsSpec('npm exec @modelcontextprotocol/server-memory', entry('npm', ['exec', '--yes', '--', '@modelcontextprotocol/server-memory'])), true);
  assert.equal(runsSpec('npm exec @modelcontextprotocol/server-memory', entry('bunx', ['@modelcontextprotocol/server-memory'])), false, 'bunx has no npm exec process');
});

test('a real npx server outside muxd is found, with the memory of its whole tree', { timeout: 60_000 }, async (t) => {
  const child = spawn('npx', ['-y', '@modelcontextprotocol/server-memory'], { cwd: ROOT, stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  t.after(() => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // Gone already.
    }
  });
  const specs = new Map([['memory', entry('npx', ['-y', '@modelcontextprotocol/server-memory'])]]);
  const deadline = Date.now() + 30_000;
  let found = (await runningOutsideMuxd(specs)).get('memory') ?? [];
  while (found.length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    found = (await runningOutsideMuxd(specs)).get('memory') ?? [];
  }
  assert.equal(found.length, 1, 'the npm exec process, once');
  assert.equal(found[0]?.pid, child.pid);
  assert.ok((found[0]?.rssBytes ?? 0) > 40 * 1024 * 1024, `npm exec and the server together: ${found[0]?.rssBytes} bytes`);
});
