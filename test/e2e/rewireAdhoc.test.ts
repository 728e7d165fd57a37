// An entry whose secret the host fills in itself (VS Code's ${input:...}),
// as a user meets it: the real muxctl rewires it to mux-proxy's ad-hoc form
// over a fake HOME, then real SDK clients play VS Code: they fill the input
// in, start exactly what the file holds, and share one child of the server,
// which gets the value; undo gives back the original bytes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { parse as parseJsonc } from 'jsonc-parser';
import { ROOT, startMuxd, waitFor, within } from './harness.js';
import type { MuxctlRun } from './harness.js';
import { allPids, readCmdline, readEnviron } from '../procfs.js';

const MEMORY_MAIN = join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');

const muxd = await startMuxd({ after }, {});
const user = mkdtempSync('/tmp/mx-user-');
after(() => rmSync(user, { recursive: true, force: true }));
const env = { HOME: join(user, 'home'), XDG_CONFIG_HOME: join(user, 'config'), CLAUDE_CONFIG_DIR: '', CODEX_HOME: '', APPDATA: '', LOCALAPPDATA: '' };
const file = join(env.XDG_CONFIG_HOME, 'Code', 'User', 'mcp.json');
mkdirSync(join(file, '..'), { recursive: true });
const original = `{\n\t"inputs": [{ "type": "promptString", "id": "memfile", "description": "Where the graph is kept" }],\n\t"servers": {\n\t\t"memory": {\n\t\t\t"type": "stdio",\n\t\t\t"command": ${JSON.stringify(process.execPath)},\n\t\t\t"args": [${JSON.stringify(MEMORY_MAIN)}],\n\t\t\t"env": { "MEMORY_FILE_PATH": "\${input:memfile}" },\n\t\t},\n\t},\n}\n`;
writeFileSync(file, original);

async function muxctl(args: string[]): Promise<MuxctlRun> {
  const run = await muxd.muxctl(args, { env });
  assert.equal(run.code, 0, `muxctl ${args.join(' ')} exits 0\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
}

/** Live server-memory processes under this muxd, with the MEMORY_FILE_PATH each got. */
function memoryChildren(): string[] {
  const found: string[] = [];
  for (const pid of allPids()) {
    if (readCmdline(pid)?.[1] !== MEMORY_MAIN) continue;
    const environ = readEnviron(pid);
    if (environ?.includes(`MUXD_HOME=${muxd.home}`)) found.push(environ.find((line) => line.startsWith('MEMORY_FILE_PATH=')) ?? '');
  }
  return found;
}

test("rewire shares an entry holding VS Code's ${input:...} ad hoc: the value stays in the host, reaches the server, and sessions share one child", { timeout: 60_000 }, async (t) => {
  const plan = (await muxctl(['import', '--dry-run', '--json'])).json<{ skipped: Array<{ reason: string }> }>();
  assert.deepEqual(plan.skipped.map((skip) => skip.reason), ['${input:memfile} is filled in by VS Code: muxctl rewire shares the entry as it is (mux-proxy --env), the value staying in VS Code']);

  const rewired = await muxctl(['rewire']);
  assert.match(rewired.stdout, /memory: rewired -> ad hoc: \S+ \S+: \$\{input:memfile\} is filled in by VS Code: shared ad hoc through mux-proxy --env, the value staying in VS Code/);
  const entry = (parseJsonc(readFileSync(file, 'utf8')) as { servers: { memory: { command: string; args: string[]; env: Record<string, string> } } }).servers.memory;
  assert.deepEqual(entry.env, { MEMORY_FILE_PATH: '${input:memfile}', MUXD_HOME: muxd.home }, 'the variable stays for VS Code to fill in; mux-proxy gets where muxd is');
  assert.deepEqual(entry.args.slice(1), ['--env', 'MEMORY_FILE_PATH', '--', process.execPath, MEMORY_MAIN]);

  // VS Code: asks for the input, fills it in, and starts the entry as written.
  const memoryFile = join(user, 'graph.jsonl');
  const filled = Object.fromEntries(Object.entries(entry.env).map(([key, value]) => [key, value.replace('${input:memfile}', memoryFile)]));
  const connect = async (name: string) => {
    const client = new Client({ name, version: '1.0.0' });
    t.after(() => client.close());
    // Nothing but the entry's env, filled in.
    const bare = ['-i', 'PATH=/nonexistent', `HOME=${env.HOME}`, `TMPDIR=${user}`, ...Object.entries(filled).map(([key, value]) => `${key}=${value}`)];
    const transport = new StdioClientTransport({ command: '/usr/bin/env', args: [...bare, entry.command, ...entry.args], cwd: user, stderr: 'pipe' });
    await within(client.connect(transport), 20_000, `${name} to initialize`);
    return client;
  };
  const first = await connect('vscode-window-1');
  const second = await connect('vscode-window-2');
  await first.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'muxd', entityType: 'program', observations: ['ad hoc'] }] } });
  assert.match(JSON.stringify(await second.callTool({ name: 'read_graph', arguments: {} })), /ad hoc/, 'one server for both sessions');
  await waitFor('the graph in the file VS Code named', () => existsSync(memoryFile) || undefined);
  assert.deepEqual(memoryChildren(), [`MEMORY_FILE_PATH=${memoryFile}`], 'one child, with the value the host filled in');

  const undone = await muxctl(['rewire', '--undo']);
  assert.match(undone.stdout, /memory: restored/);
  assert.equal(readFileSync(file, 'utf8'), original);
});
