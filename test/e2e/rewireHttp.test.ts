// `muxctl rewire --transport http` as a user runs it: a real muxd with its
// HTTP front on, the real muxctl over a fake HOME holding a Claude Code and a
// Cursor file, then real SDK clients over Streamable HTTP configured with
// exactly the url and headers written into those files, sharing one child
// with a mux-proxy client.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ROOT, startMuxd, toolText, within } from './harness.js';
import type { MuxctlRun } from './harness.js';

const MEMORY_MAIN = join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');

const muxd = await startMuxd({ after }, {}, { http: { listen: '127.0.0.1:0' } });
const token = readFileSync(join(muxd.home, 'http-token'), 'utf8').trim();

const user = mkdtempSync('/tmp/mx-user-');
after(() => rmSync(user, { recursive: true, force: true }));
const HOME = join(user, 'home');
const env = { HOME, XDG_CONFIG_HOME: join(user, 'config'), CLAUDE_CONFIG_DIR: '', CODEX_HOME: '', APPDATA: '', LOCALAPPDATA: '' };
// The harness finds a service's children by these variables: import copies them into the service.
const serverEnv = { MEMORY_FILE_PATH: join(user, 'memory.jsonl'), MUXD_E2E_SERVICE: `${muxd.home}/memory`, MUXD_E2E_SERVICE_HOME: muxd.home };

const files = { claude: join(HOME, '.claude.json'), cursor: join(HOME, '.cursor', 'mcp.json') };
const originals = {
  claude: JSON.stringify({ numStartups: 3, mcpServers: { memory: { type: 'stdio', command: process.execPath, args: [MEMORY_MAIN], env: serverEnv, timeout: 20000 } } }, null, 2) + '\n',
  cursor: `{\n  // mine\n  "mcpServers": {\n    "memory": {"command": ${JSON.stringify(process.execPath)}, "args": [${JSON.stringify(MEMORY_MAIN)}], "env": ${JSON.stringify(serverEnv)}}\n  }\n}\n`,
};
mkdirSync(join(files.cursor, '..'), { recursive: true });
writeFileSync(files.claude, originals.claude, { mode: 0o600 });
writeFileSync(files.cursor, originals.cursor);
chmodSync(files.cursor, 0o644);
const read = () => ({ claude: readFileSync(files.claude, 'utf8'), cursor: readFileSync(files.cursor, 'utf8') });

async function muxctl(args: string[]): Promise<MuxctlRun> {
  const run = await muxd.muxctl(args, { env });
  assert.equal(run.code, 0, `muxctl ${args.join(' ')} exits 0\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
}

interface RemoteEntry {
  type?: string;
  url: string;
  headers: Record<string, string>;
}

test('import, rewire --transport http, and real Streamable HTTP clients with what the files hold, sharing one child with mux-proxy', { timeout: 60_000 }, async (t) => {
  await muxctl(['import']);
  assert.match((await muxctl(['reload'])).stdout, /added: memory/);
  const status = (await muxctl(['http', 'url', 'memory'])).stdout.trim();

  // --dry-run: the diffs, the token masked; --json holds no token either.
  const dry = await muxctl(['rewire', '--transport', 'http', '--dry-run']);
  assert.ok(dry.stdout.includes('+      "headers": {') && dry.stdout.includes('"Authorization": "Bearer ***"'), dry.stdout);
  const dryJson = await muxctl(['rewire', '--transport', 'http', '--dry-run', '--json']);
  assert.equal(dryJson.json<{ transport: string }>().transport, 'http');
  for (const run of [dry, dryJson]) assert.ok(!run.stdout.includes(token) && !run.stderr.includes(token), 'the token is never printed');
  assert.deepEqual(read(), originals);

  const rewired = await muxctl(['rewire', '--transport', 'http']);
  assert.match(rewired.stdout, /memory: rewired -> service memory over HTTP/);
  assert.match(rewired.stdout, /2 files changed/);
  assert.ok(!rewired.stdout.includes(token) && !rewired.stderr.includes(token));
  // A file that now holds the token is made the user's alone (the owner's bits kept), and says so; a private one is left as it is.
  assert.equal(statSync(files.claude).mode & 0o777, 0o600);
  assert.equal(statSync(files.cursor).mode & 0o777, 0o600);
  assert.match(rewired.stderr, /mcp\.json now holds muxd's HTTP token: its mode went from 644 to 600, so other users cannot read it/);
  assert.doesNotMatch(rewired.stderr, /\.claude\.json now holds/);

  const claude = (JSON.parse(read().claude) as { numStartups: number; mcpServers: { memory: RemoteEntry & { timeout: number } } });
  assert.deepEqual(claude, { numStartups: 3, mcpServers: { memory: { type: 'http', url: status, headers: { Authorization: `Bearer ${token}` }, timeout: 20000 } } });
  assert.ok(read().cursor.startsWith('{\n  // mine\n'));
  const cursor = (JSON.parse(read().cursor.replace('// mine', '')) as { mcpServers: { memory: RemoteEntry } }).mcpServers.memory;
  assert.deepEqual(cursor, { url: status, headers: { Authorization: `Bearer ${token}` } });

  // muxctl hosts: both go through muxd, over HTTP.
  const hosts = (await muxctl(['hosts', '--json'])).json<{ hosts: Array<{ host: string; entries: Array<{ name: string; kind: string; service?: string; transport?: string }> }> }>();
  assert.deepEqual(
    hosts.hosts.map((item) => [item.host, item.entries.map((entry) => `${entry.name}:${entry.kind}:${entry.service}:${entry.transport}`)]),
    [
      ['claude-code', ['memory:muxd:memory:http']],
      ['cursor', ['memory:muxd:memory:http']],
    ],
  );

  // Real clients configured with exactly what each file holds, and one through mux-proxy.
  const connect = async (entry: RemoteEntry, name: string) => {
    const client = new Client({ name, version: '1.0.0' });
    t.after(() => client.close());
    await within(client.connect(new StreamableHTTPClientTransport(new URL(entry.url), { requestInit: { headers: entry.headers } })), 15_000, `${name} to initialize`);
    return client;
  };
  const claudeClient = await connect(claude.mcpServers.memory, 'claude-code');
  const cursorClient = await connect(cursor, 'cursor');
  const proxied = await muxd.connect(t, 'memory', { name: 'proxy-client' });
  await claudeClient.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'muxd', entityType: 'program', observations: ['over http'] }] } });
  const graph = (await cursorClient.callTool({ name: 'read_graph', arguments: {} })) as CallToolResult;
  assert.match(toolText(graph), /over http/, 'what one host wrote, the other reads: one server');
  assert.match(await proxied.callText('read_graph'), /over http/);
  assert.equal(muxd.childPids('memory').length, 1, 'one child serves both HTTP hosts and the mux-proxy client');
  const ls = (await muxctl(['ls', '--json'])).json<{ services: Array<{ name: string; clients: number }> }>();
  assert.equal(ls.services.find((row) => row.name === 'memory')?.clients, 3);

  // A plain rewire leaves entries through muxd as they are.
  const httpFiles = read();
  const plain = await muxctl(['rewire']);
  assert.match(plain.stdout, /memory: through muxd already -> service memory over HTTP/);
  assert.match(plain.stdout, /0 files changed/);
  assert.deepEqual(read(), httpFiles);

  // --transport stdio switches them back; undo walks back to the original bytes, each entry said once.
  await muxctl(['rewire', '--transport', 'stdio']);
  const stdio = JSON.parse(read().claude) as { mcpServers: { memory: Record<string, unknown> } };
  assert.deepEqual(Object.keys(stdio.mcpServers.memory).sort(), ['args', 'command', 'env', 'timeout', 'type']);
  assert.equal(stdio.mcpServers.memory['type'], 'stdio');
  assert.deepEqual(stdio.mcpServers.memory['env'], { MUXD_HOME: muxd.home }, 'what mux-proxy needs to find this muxd');
  const undone = await muxctl(['rewire', '--undo']);
  assert.match(undone.stdout, /2 files changed/);
  assert.equal(undone.stdout.match(/ {2}memory: restored/g)?.length, 2, `one line per entry:\n${undone.stdout}`);
  assert.deepEqual(read(), originals);
});

test('--transport http with the HTTP front off fails with one line saying how to turn it on', { timeout: 30_000 }, async () => {
  const plain = await startMuxd({ after }, {});
  const run = await plain.muxctl(['rewire', '--transport', 'http'], { env });
  assert.equal(run.code, 2, run.stderr);
  assert.deepEqual(run.stderrLines(), [`muxctl: the HTTP front is off: add http: { listen: 127.0.0.1:7777 } to ${plain.configFile}, then: muxctl reload`]);
  assert.deepEqual(read(), originals, 'nothing written');
});

test("Gemini entries written by hand at muxd's front (\"type\": \"http\" with url, httpUrl, or an untyped url, which Gemini CLI tries as Streamable HTTP first) are muxd's: hosts lists them so, import skips them", { timeout: 30_000 }, async () => {
  const geminiUser = mkdtempSync('/tmp/mx-user-');
  after(() => rmSync(geminiUser, { recursive: true, force: true }));
  const geminiEnv = { ...env, HOME: join(geminiUser, 'home'), XDG_CONFIG_HOME: join(geminiUser, 'config') };
  const settings = join(geminiEnv.HOME, '.gemini', 'settings.json');
  mkdirSync(join(settings, '..'), { recursive: true });
  const base = (await muxd.muxctl(['http', 'url'])).stdout.trim();
  const headers = { Authorization: `Bearer ${token}` };
  // An address muxd's status does not name (localhost), found by the token it sends.
  const localhost = base.replace('127.0.0.1', 'localhost');
  const text = JSON.stringify({ mcpServers: { typed: { type: 'http', url: `${base}/mcp/memory`, headers }, streamable: { httpUrl: `${localhost}/mcp/memory`, headers, trust: true }, untyped: { url: `${base}/mcp/memory`, headers } } }, null, 2) + '\n';
  writeFileSync(settings, text);

  const hosts = await muxd.muxctl(['hosts', '--json'], { env: geminiEnv });
  assert.equal(hosts.code, 0, hosts.stderr);
  const listed = hosts.json<{ hosts: Array<{ host: string; entries: Array<{ name: string; kind: string; service?: string; transport?: string }> }> }>();
  assert.deepEqual(listed.hosts.map((item) => [item.host, item.entries.map((entry) => `${entry.name}:${entry.kind}:${entry.service}:${entry.transport}`)]), [['gemini', ['typed:muxd:memory:http', 'streamable:muxd:memory:http', 'untyped:muxd:memory:http']]]);
  const imported = await muxd.muxctl(['import', '--dry-run', '--json'], { env: geminiEnv });
  assert.equal(imported.code, 0, imported.stderr);
  assert.deepEqual(imported.json<{ skipped: Array<{ source: { entry: string }; reason: string }> }>().skipped.map((skip) => [skip.source.entry, skip.reason]), [
    ['typed', 'goes through muxd already (service memory)'],
    ['streamable', 'goes through muxd already (service memory)'],
    ['untyped', 'goes through muxd already (service memory)'],
  ]);
  assert.equal(readFileSync(settings, 'utf8'), text);
});
