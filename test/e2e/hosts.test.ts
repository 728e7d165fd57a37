// Host discovery, import and rewire as a user runs them: the real muxctl
// binary over a fake HOME, then a real SDK client started with the command a
// rewired host file now holds, served by a real muxd.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { parse as parseJsonc } from 'jsonc-parser';
import { MUXD_MAIN, ROOT, createHome, waitFor, within } from './harness.js';
import type { MuxctlRun } from './harness.js';
import { allPids, readCmdline, readEnviron } from '../procfs.js';

const MEMORY_MAIN = join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');
// Rewired entries run the proxy script with node, both by absolute path.
const PROXY = join(ROOT, 'packages/proxy/bin/mux-proxy.js');
const NODE = process.execPath;

// One muxd home (no daemon yet; its config is muxd.config.json with no services) and one fake user.
const home = createHome({ after }, {});
const user = mkdtempSync('/tmp/mx-user-');
after(() => rmSync(user, { recursive: true, force: true }));
const HOME = join(user, 'home');
const XDG = join(user, 'config');
const env = { HOME, XDG_CONFIG_HOME: XDG, CLAUDE_CONFIG_DIR: '', CODEX_HOME: '', APPDATA: '', LOCALAPPDATA: '' };
const memoryFile = join(user, 'memory.jsonl');

/** muxd processes started with `HOME=home` and no MUXD_HOME: a wrong second daemon, in the fake user's default home. */
function daemonsOfHome(home: string): number[] {
  const pids: number[] = [];
  for (const pid of allPids()) {
    if (!readCmdline(pid)?.includes(MUXD_MAIN)) continue;
    const environ = readEnviron(pid);
    if (environ?.includes(`HOME=${home}`) && !environ.some((line) => line.startsWith('MUXD_HOME='))) pids.push(pid);
  }
  return pids;
}
after(() => {
  for (const pid of daemonsOfHome(HOME)) process.kill(pid, 'SIGKILL');
});

const files = {
  desktop: join(XDG, 'Claude', 'claude_desktop_config.json'),
  vscode: join(XDG, 'Code', 'User', 'mcp.json'),
  codex: join(HOME, '.codex', 'config.toml'),
};
const originals = {
  desktop: JSON.stringify(
    {
      mcpServers: {
        memory: { command: 'node', args: [MEMORY_MAIN], env: { MEMORY_FILE_PATH: memoryFile } },
        weather: { url: 'https://weather.example.com/mcp' },
      },
      preferences: { menuBarEnabled: false },
    },
    null,
    2,
  ) + '\n',
  vscode: `{\n\t// mine\n\t"servers": {\n\t\t"memory": {\n\t\t\t"type": "stdio",\n\t\t\t"command": "node",\n\t\t\t"args": [${JSON.stringify(MEMORY_MAIN)}],\n\t\t\t"env": { "MEMORY_FILE_PATH": ${JSON.stringify(join(user, 'vscode-memory.jsonl'))} },\n\t\t},\n\t},\n}\n`,
  codex: `# codex\r\n[mcp_servers.memory]\r\ncommand = "node"\r\nargs = [${JSON.stringify(MEMORY_MAIN)}]\r\n\r\n[mcp_servers.memory.env]\r\nMEMORY_FILE_PATH = ${JSON.stringify(memoryFile)}\r\n`,
};
for (const key of Object.keys(files) as Array<keyof typeof files>) {
  mkdirSync(join(files[key], '..'), { recursive: true });
  writeFileSync(files[key], originals[key]);
}
const read = () => ({ desktop: readFileSync(files.desktop, 'utf8'), vscode: readFileSync(files.vscode, 'utf8'), codex: readFileSync(files.codex, 'utf8') });

async function muxctl(args: string[]): Promise<MuxctlRun> {
  const run = await home.muxctl(args, { env });
  assert.equal(run.code, 0, `muxctl ${args.join(' ')} exits 0\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
}

interface HostsJson {
  hosts: Array<{ host: string; scope: string; file: string; entries: Array<{ name: string; kind: string; service?: string }> }>;
}

test('hosts, import, rewire, undo, and a real client through a rewired entry', { timeout: 120_000 }, async (t) => {
  // hosts: every file found, with what each entry is.
  const hosts = (await muxctl(['hosts', '--json'])).json<HostsJson>();
  assert.deepEqual(
    hosts.hosts.map((item) => [item.host, item.file, item.entries.map((entry) => `${entry.name}:${entry.kind}`)]),
    [
      ['claude-desktop', files.desktop, ['memory:stdio', 'weather:remote']],
      ['vscode', files.vscode, ['memory:stdio']],
      ['codex', files.codex, ['memory:stdio']],
    ],
  );

  // import --dry-run: the plan, nothing written.
  const configBefore = readFileSync(home.configFile, 'utf8');
  const plan = (await muxctl(['import', '--dry-run', '--json'])).json<{ configFile: string; services: Array<{ name: string; status: string; env: Record<string, string> }>; skipped: Array<{ reason: string }>; notes: string[] }>();
  assert.equal(plan.configFile, home.configFile);
  assert.deepEqual(plan.services.map((service) => [service.name, service.status]), [
    ['memory', 'new'],
    ['memory-vscode', 'new'],
  ]);
  assert.deepEqual(plan.services[0]?.env, { MEMORY_FILE_PATH: '***' }, 'env values are not printed');
  assert.match(plan.skipped[0]?.reason ?? '', /remote server/);
  assert.ok(plan.notes.some((note) => note.includes("imported as 'memory-vscode'")));
  assert.equal(readFileSync(home.configFile, 'utf8'), configBefore);

  // import: the services land in the config muxd uses.
  const imported = await muxctl(['import']);
  assert.match(imported.stdout, /added 2 services to /);
  assert.match(imported.stderr, /skipped 'weather' in Claude Desktop \(user\): a remote server/);
  const config = JSON.parse(readFileSync(home.configFile, 'utf8')) as { services: Record<string, { command: string; args: string[]; env: Record<string, string> }> };
  assert.deepEqual(config.services['memory'], { command: 'node', args: [MEMORY_MAIN], env: { MEMORY_FILE_PATH: memoryFile } });
  assert.ok(config.services['memory-vscode']);
  assert.match((await muxctl(['import'])).stdout, /nothing new/);

  // rewire --dry-run: a diff, nothing written.
  const dry = await muxctl(['rewire', '--dry-run']);
  assert.ok(dry.stdout.includes(`+      "command": "${NODE}",`) && dry.stdout.includes(`+        "${PROXY}",`), dry.stdout);
  assert.deepEqual(read(), originals);

  // rewire: each entry goes to mux-proxy by absolute path, with what it needs to find this muxd (MUXD_HOME) in its env; the rest of each file as it was.
  const rewired = await muxctl(['rewire']);
  assert.match(rewired.stdout, /3 files changed/);
  assert.match(rewired.stdout, /reload: quit Claude Desktop completely/);
  assert.match(rewired.stderr, new RegExp(`wrote MUXD_HOME=${home.home} into the env of each entry rewired to mux-proxy`));
  const now = read();
  const desktop = JSON.parse(now.desktop) as { mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }>; preferences: unknown };
  assert.deepEqual(desktop.mcpServers['memory'], { command: NODE, args: [PROXY, 'memory'], env: { MEMORY_FILE_PATH: memoryFile, MUXD_HOME: home.home } });
  assert.deepEqual(desktop.preferences, { menuBarEnabled: false });
  const vscode = parseJsonc(now.vscode) as { servers: Record<string, { type: string; command: string; args: string[] }> };
  assert.deepEqual([vscode.servers['memory']?.type, vscode.servers['memory']?.command, vscode.servers['memory']?.args], ['stdio', NODE, [PROXY, 'memory-vscode']]);
  assert.ok(now.vscode.startsWith('{\n\t// mine\n'));
  assert.equal(
    now.codex,
    originals.codex
      .replace('command = "node"\r\nargs = [' + JSON.stringify(MEMORY_MAIN) + ']', `command = "${NODE}"\r\nargs = [${JSON.stringify(PROXY)}, "memory"]`)
      .replace(`MEMORY_FILE_PATH = ${JSON.stringify(memoryFile)}\r\n`, `MEMORY_FILE_PATH = ${JSON.stringify(memoryFile)}\r\nMUXD_HOME = ${JSON.stringify(home.home)}\r\n`),
  );
  const through = (await muxctl(['hosts', '--json'])).json<HostsJson>();
  assert.deepEqual(through.hosts.flatMap((item) => item.entries.filter((entry) => entry.kind === 'muxd').map((entry) => `${item.host}:${entry.service}`)), ['claude-desktop:memory', 'vscode:memory-vscode', 'codex:memory']);

  // rewire --undo: the original bytes.
  const undone = await muxctl(['rewire', '--undo']);
  assert.match(undone.stdout, /3 files changed/);
  assert.deepEqual(read(), originals);

  // Rewire again, start muxd, and run real clients with the commands the host files now hold.
  await muxctl(['rewire']);
  await muxctl(['daemon', 'start']);
  type Entry = { command: string; args: string[]; env: Record<string, string> };
  const rewiredDesktop = JSON.parse(readFileSync(files.desktop, 'utf8')) as { mcpServers: { memory: Entry } };
  const rewiredVscode = parseJsonc(readFileSync(files.vscode, 'utf8')) as { servers: { memory: Entry } };
  const clients: Client[] = [];
  t.after(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
  });
  const tmp = join(user, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const connect = async (entry: Entry) => {
    const client = new Client({ name: 'rewired-host', version: '1.0.0' });
    clients.push(client);
    // The barest host: env -i, no shell PATH (so no node on it), nothing but the entry's own env; HOME and TMPDIR
    // are the fake user's, so a proxy that missed this muxd could only start another one there.
    const bare = ['-i', 'PATH=/nonexistent', `HOME=${HOME}`, `TMPDIR=${tmp}`, ...Object.entries(entry.env).map(([key, value]) => `${key}=${value}`)];
    const transport = new StdioClientTransport({ command: '/usr/bin/env', args: [...bare, entry.command, ...entry.args], cwd: user, stderr: 'pipe' });
    await within(client.connect(transport), 20_000, `client of ${entry.args.at(-1)}`);
    return client;
  };
  const first = await connect(rewiredDesktop.mcpServers.memory);
  const second = await connect(rewiredVscode.servers.memory);
  const tools = await first.listTools();
  assert.ok(tools.tools.some((tool) => tool.name === 'create_entities'), 'the memory server answers through muxd');
  await first.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'muxd', entityType: 'program', observations: ['rewired'] }] } });
  const graph = await first.callTool({ name: 'read_graph', arguments: {} });
  assert.match(JSON.stringify(graph.content), /rewired/);
  assert.ok((await second.listTools()).tools.length > 0);
  await waitFor('the memory file written by the service', () => existsSync(memoryFile));
  const listed = (await muxctl(['ls', '--json'])).json<{ services: Array<{ name: string; status: string; clients: number }> }>();
  assert.deepEqual(
    listed.services.map((service) => [service.name, service.status, service.clients]),
    [
      ['memory', 'online', 1],
      ['memory-vscode', 'online', 1],
    ],
  );
  assert.deepEqual(daemonsOfHome(HOME), [], 'no second muxd in the default home');
});
