// Rewire and undo over a fake home holding every host's fixture file:
// dry runs write nothing, undo gives back the original bytes, backups are
// never overwritten, and undo restores only its entries when a host changed
// the file since; over stdio (mux-proxy) and over muxd's HTTP front.
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { updateFileAtomic } from '../src/atomicFile.js';
import { BackupStore } from '../src/backupStore.js';
import { applyEdits, valueAt } from '../src/hostDocument.js';
import { findHostFiles, hostById } from '../src/hostRegistry.js';
import type { HostDefinition, HostFile } from '../src/hostRegistry.js';
import { planImport } from '../src/importPlan.js';
import { parseHostDocument } from '../src/hostFiles.js';
import { rewireFiles } from '../src/rewire.js';
import { planFileRewire } from '../src/rewirePlan.js';
import type { FileOutcome, RewireOptions } from '../src/rewirePlan.js';
import { undoRewire } from '../src/rewireUndo.js';
import type { ServerSpec } from '../src/serverEntry.js';
import { createFakeHome } from './fakeHome.js';
import type { FakeHome } from './fakeHome.js';

const PROXY = '/opt/muxd/bin/mux-proxy';

/** muxd's services as import would write them for the fake home. */
function importedServices(home: FakeHome): Map<string, ServerSpec> {
  const files = findHostFiles(home.env);
  const plan = planImport(
    files.map((file) => ({ file, entries: parseHostDocument(file, readFileSync(file.path, 'utf8')).entries ?? [] })),
    new Map(),
    home.env.projectDir,
    {},
  );
  return new Map(plan.services.map((service) => [service.name, service.spec]));
}

function options(home: FakeHome, extra: Partial<RewireOptions> = {}): RewireOptions {
  return {
    files: findHostFiles(home.env),
    services: importedServices(home),
    proxyCommand: PROXY,
    projectDir: home.env.projectDir,
    store: new BackupStore(home.stateDir),
    dryRun: false,
    includeTracked: false,
    ...extra,
  };
}

function host(id: string): HostDefinition {
  const found = hostById(id);
  assert.ok(found);
  return found;
}

describe('rewire', () => {
  test('--dry-run writes nothing and shows a diff with env values masked', async (t) => {
    const home = createFakeHome(t);
    const before = home.snapshot();
    const outcomes = await rewireFiles(options(home, { dryRun: true }));
    assert.deepEqual(home.snapshot(), before);
    assert.equal(existsSync(home.stateDir), false, 'no backup, no journal');
    assert.equal(outcomes.filter((outcome) => outcome.changed).length, 17);
    const desktop = outcomes.find((outcome) => outcome.host === 'claude-desktop');
    assert.match(desktop?.diff ?? '', /^-      "command": "npx",$/m);
    assert.match(desktop?.diff ?? '', new RegExp(`^\\+      "command": "${PROXY}",$`, 'm'));
    const all = outcomes.map((outcome) => outcome.diff ?? '').join('\n');
    assert.ok(!all.includes('/home/me/.memory.jsonl'), 'env values are masked');
    assert.ok(all.includes('"MEMORY_FILE_PATH": "***"'));
  });

  test('--dry-run masks secret-looking arguments and URL passwords in the lines it removes', async (t) => {
    const home = createFakeHome(t, []);
    const path = join(home.env.home, '.cursor', 'mcp.json');
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '{"mcpServers": {"db": {"command": "pg-mcp", "args": ["--api-key=sk-live-123456", "postgresql://me:hunter22@db/app"]}}}\n');
    const files = findHostFiles(home.env, [host('cursor')]);
    const services = new Map<string, ServerSpec>([['db', { command: 'pg-mcp', args: ['--api-key=sk-live-123456', 'postgresql://me:hunter22@db/app'], env: {} }]]);
    const [outcome] = await rewireFiles(options(home, { files, services, dryRun: true }));
    assert.ok(outcome?.diff?.includes('"--api-key=***", "postgresql://me:***@db/app"'), outcome?.diff);
    assert.ok(planFileRewire(files[0] as never, readFileSync(path, 'utf8'), options(home, { files, services })).after?.includes('"args": ["db"]'));
  });

  test('every host: rewired entries point at mux-proxy, the rest is as it was, and undo gives back the original bytes', async (t) => {
    const home = createFakeHome(t);
    const original = home.snapshot();
    const outcomes = await rewireFiles(options(home));
    assert.deepEqual(outcomes.filter((outcome) => outcome.error).map((outcome) => outcome.error), []);
    const entries = Object.fromEntries(outcomes.map((outcome) => [`${outcome.host}:${outcome.scope}`, outcome.entries.map((entry) => `${entry.name}=${entry.action}${entry.service ? `:${entry.service}` : ''}`)]));
    assert.deepEqual(entries, {
      'claude-code:user': ['memory=rewire:memory', 'github=rewire', 'linear=skip'],
      'claude-code:local': ['everything=rewire:everything'],
      'claude-desktop:user': ['memory=rewire:memory', 'filesystem=rewire:filesystem', 'sqlite=rewire:sqlite'],
      'cursor:user': ['memory=rewire:memory-cursor', 'context7=skip', 'puppeteer=skip', 'local-tool=rewire:local-tool'],
      'vscode:user': ['github=rewire', 'memory=rewire:memory', 'fetch=rewire:fetch', 'remote-docs=skip'],
      'windsurf:user': ['sequential-thinking=rewire:sequential-thinking', 'old-server=skip', 'figma=skip'],
      'codex:user': ['memory=rewire:memory', 'notion=skip', 'time=skip', 'sqlite=rewire:sqlite-codex'],
      'gemini:user': ['memory=rewire:memory-gemini', 'everything=rewire:everything-gemini', 'deepwiki=skip'],
      'zed:user': ['postgres-context-server=skip', 'memory=rewire:memory', 'legacy-fetch=rewire:fetch', 'remote=skip'],
      'cline:user': ['memory=rewire:memory', 'fetch=rewire:fetch-cline', 'old-server=skip', 'search=skip'],
      'roo:project': ['sqlite=rewire:sqlite-roo', 'docs=skip'],
      'kiro:user': ['fetch=rewire:fetch-kiro', 'cloud-docs=skip'],
      'copilot-cli:user': ['memory=rewire:memory', 'sequential-thinking=rewire:sequential-thinking', 'tracker=skip'],
      'junie:user': ['time=rewire:time', 'remote=skip'],
      'opencode:user': ['memory=rewire:memory', 'fetch=rewire:fetch', 'github=rewire', 'old-server=skip', 'docs=skip'],
      'continue:user': ['memory=rewire:memory', 'SQLite=rewire:sqlite', 'Docs=skip'],
      'goose:user': ['developer=skip', 'memory=rewire:memory', 'time=rewire:time', 'computercontroller=skip', 'todo=skip', 'docs=skip'],
    });
    const vscode = outcomes.find((outcome) => outcome.host === 'vscode');
    assert.deepEqual([vscode?.entries[0]?.adhoc, vscode?.entries[0]?.reason], [
      'npx -y @modelcontextprotocol/server-github',
      '${input:github_token} is filled in by VS Code: shared ad hoc through mux-proxy --env, the value staying in VS Code',
    ]);
    // Every changed file has its own backup holding the original bytes.
    for (const outcome of outcomes.filter((item) => item.changed)) {
      assert.ok(outcome.backup && existsSync(outcome.backup));
    }
    const desktopPath = home.files['claude_desktop_config.json'] as string;
    const desktopBackup = outcomes.find((outcome) => outcome.host === 'claude-desktop')?.backup as string;
    assert.equal(readFileSync(desktopBackup, 'latin1'), original.get(desktopPath.slice(home.root.length + 1)));
    // Rewiring again changes nothing.
    const again = await rewireFiles(options(home));
    assert.equal(again.filter((outcome) => outcome.changed).length, 0);
    assert.ok(again.every((outcome) => outcome.entries.every((entry) => entry.action !== 'rewire')));

    const undone = await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(undone.filter((outcome) => outcome.error).length, 0);
    assert.deepEqual(home.snapshot(), original, 'undo restores every file byte for byte');
    assert.deepEqual(await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false }), [], 'nothing left to undo');
  });

  test('undo restores only its entries when the host changed the file since, and leaves entries the user repointed', async (t) => {
    const home = createFakeHome(t, ['claude.json', 'windsurf-mcp_config.json']);
    const claude = home.files['claude.json'] as string;
    const original = readFileSync(claude, 'utf8');
    await rewireFiles(options(home));
    // Claude Code rewrites the whole file: new keys, counters, and its own 2-space JSON.
    const data = JSON.parse(readFileSync(claude, 'utf8')) as Record<string, unknown>;
    data['numStartups'] = 43;
    data['lastSessionId'] = 'abc';
    (data['mcpServers'] as Record<string, unknown>)['added-later'] = { type: 'stdio', command: 'later' };
    writeFileSync(claude, JSON.stringify(data, null, 2));
    // And the user pointed one Windsurf entry somewhere else by hand.
    const windsurf = home.files['windsurf-mcp_config.json'] as string;
    writeFileSync(windsurf, readFileSync(windsurf, 'utf8').replace(PROXY, '/usr/local/bin/other'));
    const windsurfBefore = readFileSync(windsurf, 'utf8');

    const outcomes = await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    const restored = JSON.parse(readFileSync(claude, 'utf8')) as Record<string, Record<string, unknown>>;
    const expected = JSON.parse(original) as Record<string, Record<string, unknown>>;
    assert.equal(restored['numStartups'], 43, 'changes elsewhere are kept');
    assert.equal(restored['lastSessionId'], 'abc');
    assert.deepEqual((restored['mcpServers'] as Record<string, unknown>)['added-later'], { type: 'stdio', command: 'later' });
    assert.deepEqual((restored['mcpServers'] as Record<string, unknown>)['memory'], (expected['mcpServers'] as Record<string, unknown>)['memory']);
    assert.deepEqual((restored['mcpServers'] as Record<string, unknown>)['github'], (expected['mcpServers'] as Record<string, unknown>)['github']);
    assert.deepEqual(restored['projects'], JSON.parse(JSON.stringify(expected['projects'])));
    assert.equal(readFileSync(windsurf, 'utf8'), windsurfBefore, 'an entry no longer pointing at mux-proxy is left alone');
    const skipped = outcomes.find((outcome) => outcome.host === 'windsurf')?.entries[0];
    assert.equal(skipped?.action, 'skip');
    assert.match(skipped?.reason ?? '', /no longer points at mux-proxy/);
  });

  test('undo by host touches only that host', async (t) => {
    const home = createFakeHome(t, ['cursor-mcp.json', 'gemini-settings.json']);
    const cursorOriginal = readFileSync(home.files['cursor-mcp.json'] as string, 'utf8');
    await rewireFiles(options(home));
    const geminiRewired = readFileSync(home.files['gemini-settings.json'] as string, 'utf8');
    await undoRewire({ store: new BackupStore(home.stateDir), hosts: [host('cursor')], dryRun: false });
    assert.equal(readFileSync(home.files['cursor-mcp.json'] as string, 'utf8'), cursorOriginal);
    assert.equal(readFileSync(home.files['gemini-settings.json'] as string, 'utf8'), geminiRewired);
  });

  test('entries through muxd already are left as they are, whatever mux-proxy path or form; one whose mux-proxy is gone is repointed', async (t) => {
    const home = createFakeHome(t, []);
    // A mux-proxy the user linked by hand, and a proxy script run by node: both on this machine.
    const linked = join(home.root, 'node_modules', '.bin', 'mux-proxy');
    const script = join(home.root, 'packages', 'proxy', 'bin', 'mux-proxy.js');
    for (const path of [linked, script]) {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, '#!/usr/bin/env node\n', { mode: 0o755 });
    }
    const path = join(home.env.home, '.cursor', 'mcp.json');
    mkdirSync(join(path, '..'), { recursive: true });
    const entries = {
      linked: { command: linked, args: ['memory'] },
      script: { command: process.execPath, args: [script, 'memory'], env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' } },
      adhoc: { command: linked, args: ['--env', 'GITHUB_TOKEN', '--', 'npx', '-y', '@modelcontextprotocol/server-github'], env: { GITHUB_TOKEN: '${env:GITHUB_TOKEN}' } },
      http: { url: url('memory'), headers: BEARER },
      gone: { command: '/gone/node_modules/.bin/mux-proxy', args: ['memory'] },
    };
    const original = JSON.stringify({ mcpServers: entries }, null, 2) + '\n';
    writeFileSync(path, original);
    const files = findHostFiles(home.env, [host('cursor')]);
    const services = new Map<string, ServerSpec>([['memory', { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: {} }]]);
    const summary = (outcome: FileOutcome | undefined) => outcome?.entries.map((entry) => `${entry.name}=${entry.action}${entry.transport ? `/${entry.transport}` : ''}${entry.reason ? `: ${entry.reason}` : ''}`);

    const [plain] = await rewireFiles(options(home, { files, services, httpUrls: [HTTP.url], httpToken: HTTP.token }));
    assert.deepEqual(summary(plain), [
      'linked=already/stdio',
      'script=already/stdio',
      'adhoc=already/stdio: shared ad hoc: npx -y @modelcontextprotocol/server-github',
      'http=already/http',
      'gone=rewire/stdio: /gone/node_modules/.bin/mux-proxy is gone',
    ]);
    const expected = JSON.parse(original) as { mcpServers: Record<string, unknown> };
    expected.mcpServers['gone'] = { command: PROXY, args: ['memory'] };
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), expected, 'only the entry whose mux-proxy is gone changed');
    assert.equal((await rewireFiles(options(home, { files, services, httpUrls: [HTTP.url] })))[0]?.changed, false);

    // Naming a transport switches the entries on the other one; an ad-hoc server has no HTTP endpoint.
    const [switched] = await rewireFiles(httpOptions(home, { files, services }));
    assert.deepEqual(summary(switched), [
      'linked=rewire/http',
      'script=rewire/http',
      'adhoc=already/stdio: shared ad hoc: npx -y @modelcontextprotocol/server-github; an ad-hoc server has no HTTP endpoint: kept on mux-proxy',
      'http=already/http',
      'gone=rewire/http',
    ]);
    const [back] = await rewireFiles(options(home, { files, services, transport: 'stdio', httpUrls: [HTTP.url] }));
    assert.deepEqual(summary(back), [
      'linked=rewire/stdio',
      'script=rewire/stdio',
      'adhoc=already/stdio: shared ad hoc: npx -y @modelcontextprotocol/server-github',
      'http=rewire/stdio',
      'gone=rewire/stdio',
    ]);
    assert.equal((await rewireFiles(options(home, { files, services, transport: 'stdio', httpUrls: [HTTP.url] })))[0]?.changed, false);
  });

  test('undo after several rewires puts each entry back as it was before the first, and reports it once per servers map', async (t) => {
    const home = createFakeHome(t, ['claude.json', 'cursor-mcp.json']);
    const original = home.snapshot();
    const services = importedServices(home);
    await rewireFiles(options(home, { services }));
    await rewireFiles(httpOptions(home, { services }));
    await rewireFiles(httpOptions(home, { services, http: { url: HTTP.url, token: 'rotated-token-value-0123456789' } }));
    const undone = await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.deepEqual(home.snapshot(), original);
    assert.deepEqual(
      undone.map((outcome) => [outcome.host, outcome.scope, outcome.changed, outcome.entries.map((entry) => `${entry.name}=${entry.action}`)]).sort((a, b) => String(a).localeCompare(String(b))),
      [
        ['claude-code', 'local', true, ['everything=restore']],
        ['claude-code', 'user', true, ['memory=restore', 'github=restore']],
        ['cursor', 'user', true, ['memory=restore', 'local-tool=restore']],
      ],
    );
    assert.equal(undone.find((outcome) => outcome.scope === 'local')?.variant, home.env.projectDir, "the local scope's outcome names its project");
  });

  test('an entry holding a value its host fills in is shared ad hoc (mux-proxy --env NAMES -- CMD), its env left to the host; undo gives back the bytes', async (t) => {
    const home = createFakeHome(t, []);
    const vscode = join(home.env.XDG_CONFIG_HOME as string, 'Code', 'User', 'mcp.json');
    const claude = join(home.env.home, '.claude.json');
    const gemini = join(home.env.home, '.gemini', 'settings.json');
    for (const path of [vscode, claude, gemini]) mkdirSync(join(path, '..'), { recursive: true });
    const originals = {
      vscode: `{\n\t"inputs": [{ "type": "promptString", "id": "token", "password": true }],\n\t"servers": {\n\t\t"github": {\n\t\t\t"type": "stdio",\n\t\t\t"command": "npx",\n\t\t\t"args": ["-y", "@modelcontextprotocol/server-github"],\n\t\t\t"env": { "GITHUB_PERSONAL_ACCESS_TOKEN": "\${input:token}", "GITHUB_TOOLSETS": "repos" },\n\t\t},\n\t\t"ws": { "command": "node", "args": ["\${workspaceFolder}/server.js"] },\n\t},\n}\n`,
      claude: JSON.stringify({ mcpServers: { linear: { type: 'stdio', command: 'npx', args: ['-y', 'linear-mcp', '--token=${LINEAR_TOKEN}'] } } }, null, 2) + '\n',
      gemini: JSON.stringify({ mcpServers: { notion: { command: 'npx', args: ['-y', 'notion-mcp'], env: { NOTION_KEY: '$NOTION_KEY' }, trust: true } } }, null, 2) + '\n',
    };
    writeFileSync(vscode, originals.vscode);
    writeFileSync(claude, originals.claude);
    writeFileSync(gemini, originals.gemini);
    const files = findHostFiles(home.env, [host('vscode'), host('claude-code'), host('gemini')]);
    const outcomes = await rewireFiles(options(home, { files, services: new Map() }));
    assert.deepEqual(
      outcomes.filter((outcome) => outcome.entries.length > 0).map((outcome) => outcome.entries.map((entry) => `${outcome.host}/${entry.name}=${entry.action}: ${entry.adhoc}: ${entry.reason}`)),
      [
        [
          'vscode/github=rewire: npx -y @modelcontextprotocol/server-github: ${input:token} is filled in by VS Code: shared ad hoc through mux-proxy --env, the value staying in VS Code',
          'vscode/ws=rewire: node "${workspaceFolder}/server.js": ${workspaceFolder} is filled in by VS Code: shared ad hoc through mux-proxy --env, the value staying in VS Code',
        ],
        ['claude-code/linear=rewire: npx -y linear-mcp "--token=***": ${LINEAR_TOKEN} is filled in by Claude Code: shared ad hoc through mux-proxy --env, the value staying in Claude Code'],
        ['gemini/notion=rewire: npx -y notion-mcp: $NOTION_KEY is filled in by Gemini CLI: shared ad hoc through mux-proxy --env, the value staying in Gemini CLI'],
      ],
    );
    assert.deepEqual(entryOf(home, 'vscode', 'github'), {
      type: 'stdio',
      command: PROXY,
      args: ['--env', 'GITHUB_PERSONAL_ACCESS_TOKEN,GITHUB_TOOLSETS', '--', 'npx', '-y', '@modelcontextprotocol/server-github'],
      env: { GITHUB_PERSONAL_ACCESS_TOKEN: '${input:token}', GITHUB_TOOLSETS: 'repos' },
    });
    assert.deepEqual(entryOf(home, 'vscode', 'ws'), { type: 'stdio', command: PROXY, args: ['--env=', '--', 'node', '${workspaceFolder}/server.js'] });
    assert.deepEqual(entryOf(home, 'claude-code', 'linear', ['mcpServers']), { type: 'stdio', command: PROXY, args: ['--env=', '--', 'npx', '-y', 'linear-mcp', '--token=${LINEAR_TOKEN}'] });
    assert.deepEqual(entryOf(home, 'gemini', 'notion'), { command: PROXY, args: ['--env', 'NOTION_KEY', '--', 'npx', '-y', 'notion-mcp'], env: { NOTION_KEY: '$NOTION_KEY' }, trust: true });
    // Seen as muxd's, ad hoc: a second rewire leaves them.
    const again = await rewireFiles(options(home, { files, services: new Map() }));
    assert.ok(again.every((outcome) => !outcome.changed && outcome.entries.every((entry) => entry.action === 'already')));
    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.deepEqual([readFileSync(vscode, 'utf8'), readFileSync(claude, 'utf8'), readFileSync(gemini, 'utf8')], [originals.vscode, originals.claude, originals.gemini]);

    // A service whose config sets the value itself runs the entry instead; one that copied the host's variable does not.
    const token = { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_PERSONAL_ACCESS_TOKEN: '${GITHUB_TOKEN}', GITHUB_TOOLSETS: 'repos' } };
    const copied = { ...token, env: { ...token.env, GITHUB_PERSONAL_ACCESS_TOKEN: '${input:token}' } };
    const [filled] = await rewireFiles(options(home, { files: [files[0] as HostFile], services: new Map([['github', token]]), dryRun: true }));
    assert.deepEqual(filled?.entries.map((entry) => `${entry.name}=${entry.action}:${entry.service ?? entry.adhoc}`), ['github=rewire:github', 'ws=rewire:node "${workspaceFolder}/server.js"']);
    const [verbatim] = await rewireFiles(options(home, { files: [files[0] as HostFile], services: new Map([['github', copied]]), dryRun: true }));
    assert.deepEqual(verbatim?.entries.map((entry) => `${entry.name}=${entry.action}:${entry.service ?? entry.adhoc}`)[0], 'github=rewire:npx -y @modelcontextprotocol/server-github');
  });

  test("with muxd in another home, every entry rewired to mux-proxy gets MUXD_HOME in its env, in each host's format; undo gives back the bytes, also after a host rewrote the file", async (t) => {
    const home = createFakeHome(t);
    const original = home.snapshot();
    const proxyEnv = { MUXD_HOME: '/srv/muxd home' };
    const outcomes = await rewireFiles(options(home, { proxyEnv }));
    assert.deepEqual(outcomes.filter((outcome) => outcome.error).map((outcome) => outcome.error), []);
    const files = findHostFiles(home.env);
    let rewired = 0;
    for (const outcome of outcomes) {
      const file = files.find((item) => item.path === outcome.file && item.scope === outcome.scope) as HostFile;
      const doc = parseHostDocument(file, readFileSync(file.path, 'utf8'));
      for (const entry of outcome.entries.filter((item) => item.action === 'rewire')) {
        const where = doc.transportPath(entry.name);
        const holder = valueAt(doc.value, where.path) as Record<string, unknown>;
        const env = holder[file.host.stdioFields?.env ?? 'env'] as Record<string, string>;
        assert.equal(env['MUXD_HOME'], '/srv/muxd home', `${outcome.host}: ${entry.name}`);
        rewired++;
      }
    }
    assert.equal(rewired, 32);
    // Each format's own layout: a JSONC map keeps its tabs and trailing comma, Codex's [env] table gets a line, Goose's empty flow map becomes a block.
    const text = (name: string) => readFileSync(home.files[name] as string, 'utf8');
    assert.ok(text('vscode-mcp.json').includes('\t\t\t"env": {"MEMORY_FILE_PATH": "/home/me/.memory.jsonl", "MUXD_HOME": "/srv/muxd home"},\n'), text('vscode-mcp.json'));
    assert.ok(text('codex-config.toml').includes('[mcp_servers.memory.env]\r\nMEMORY_FILE_PATH = "/home/me/.memory.jsonl"\r\nMUXD_HOME = "/srv/muxd home"\r\n'), text('codex-config.toml'));
    assert.ok(text('codex-config.toml').includes('tool_timeout_sec = 60\r\nenv = { MUXD_HOME = "/srv/muxd home" }\r\n'), text('codex-config.toml'));
    assert.ok(text('goose-config.yaml').includes('    envs:\n      MUXD_HOME: "/srv/muxd home"\n    name: time'), text('goose-config.yaml'));
    assert.ok(text('cursor-mcp.json').includes(`"local-tool": {"env": {"MUXD_HOME": "/srv/muxd home"}, "command": "${PROXY}", "args": ["local-tool"]}`), text('cursor-mcp.json'));
    // Rewiring again changes nothing.
    assert.equal((await rewireFiles(options(home, { proxyEnv }))).filter((outcome) => outcome.changed).length, 0);
    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.deepEqual(home.snapshot(), original);

    // Claude Code rewrites ~/.claude.json its own way: undo still takes MUXD_HOME out.
    await rewireFiles(options(home, { proxyEnv }));
    const claude = home.files['claude.json'] as string;
    writeFileSync(claude, JSON.stringify({ ...(JSON.parse(readFileSync(claude, 'utf8')) as object), numStartups: 43 }, null, 2));
    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.deepEqual(JSON.parse(readFileSync(claude, 'utf8')), { ...(JSON.parse(original.get(claude.slice(home.root.length + 1)) as string) as object), numStartups: 43 });
  });

  test('an entry through muxd that lacks what mux-proxy needs to find this muxd is left, saying so; one naming another home is that muxd\'s', async (t) => {
    const home = createFakeHome(t, []);
    const path = join(home.env.home, '.cursor', 'mcp.json');
    mkdirSync(join(path, '..'), { recursive: true });
    const script = join(home.root, 'mux-proxy.js');
    writeFileSync(script, '');
    const text = JSON.stringify({ mcpServers: { bare: { command: process.execPath, args: [script, 'memory'] }, other: { command: process.execPath, args: [script, 'memory'], env: { MUXD_HOME: '/other' } }, ours: { command: process.execPath, args: [script, 'memory'], env: { MUXD_HOME: '/srv/muxd' } } } });
    writeFileSync(path, text);
    const files = findHostFiles(home.env, [host('cursor')]);
    const services = new Map<string, ServerSpec>([['memory', { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: {} }]]);
    const summary = (outcome: FileOutcome | undefined) => outcome?.entries.map((entry) => `${entry.name}=${entry.action}: ${entry.reason ?? ''}`);
    const [plain] = await rewireFiles(options(home, { files, services, proxyEnv: { MUXD_HOME: '/srv/muxd' }, dryRun: true }));
    assert.deepEqual(summary(plain), [
      "bare=already: its env lacks MUXD_HOME=/srv/muxd: from a host that gives mux-proxy a bare environment it looks for another muxd (add it to the entry's env)",
      'other=already: through the muxd of another home (its env has MUXD_HOME=/other): left as it is',
      'ours=already: ',
    ]);
    // Over HTTP no env is needed: ours and the bare one are switched, the other home's is not.
    const [http] = await rewireFiles(httpOptions(home, { files, services, proxyEnv: { MUXD_HOME: '/srv/muxd' }, dryRun: true }));
    assert.deepEqual(summary(http), ['bare=rewire: ', 'other=already: through the muxd of another home (its env has MUXD_HOME=/other): left as it is', 'ours=rewire: ']);
  });

  test('backups are timestamped per file and never overwritten', async (t) => {
    const home = createFakeHome(t, []);
    const store = new BackupStore(home.stateDir);
    const now = new Date('2026-11-22T10:00:00.000Z');
    const first = await store.backup('/home/me/.cursor/mcp.json', 'one', now);
    const second = await store.backup('/home/me/.cursor/mcp.json', 'two', now);
    const other = await store.backup('/work/app/.cursor/mcp.json', 'three', now);
    assert.notEqual(first, second);
    assert.equal(readFileSync(first, 'utf8'), 'one');
    assert.equal(readFileSync(second, 'utf8'), 'two');
    assert.match(first, /mcp\.json-[0-9a-f]{12}\/2026-11-22T10-00-00-000Z\.bak$/);
    assert.match(second, /2026-11-22T10-00-00-000Z-1\.bak$/);
    assert.notEqual(store.fileDir('/home/me/.cursor/mcp.json'), store.fileDir('/work/app/.cursor/mcp.json'), 'keyed by absolute path');
    assert.equal(readFileSync(other, 'utf8'), 'three');
  });

  test('a file tracked by git is left alone unless asked', async (t) => {
    const home = createFakeHome(t, []);
    const project = home.env.projectDir;
    const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: project });
    if (git('init', '-q').status !== 0) {
      t.skip('git is not installed');
      return;
    }
    mkdirSync(join(project, '.cursor'));
    writeFileSync(join(project, '.cursor', 'mcp.json'), '{"mcpServers": {"tool": {"command": "/opt/tool"}}}\n');
    git('add', '.cursor/mcp.json');
    const files = findHostFiles(home.env, [host('cursor')]);
    const services = new Map<string, ServerSpec>([['tool', { command: '/opt/tool', args: [], env: {}, cwd: project }]]);
    const [skipped] = await rewireFiles(options(home, { files, services }));
    assert.match(skipped?.skipped ?? '', /tracked by git/);
    assert.equal(readFileSync(join(project, '.cursor', 'mcp.json'), 'utf8'), '{"mcpServers": {"tool": {"command": "/opt/tool"}}}\n');
    const [done] = await rewireFiles(options(home, { files, services, includeTracked: true }));
    assert.equal(done?.changed, true);
  });
});

const HTTP = { url: 'http://127.0.0.1:7777', token: 'q8Xv1m3Zr7YtK2pW9sLbN4cD6fGhJ0aE5uRiOyTnMwQ' };
const BEARER = { Authorization: `Bearer ${HTTP.token}` };
const url = (service: string) => `${HTTP.url}/mcp/${service}`;

function httpOptions(home: FakeHome, extra: Partial<RewireOptions> = {}): RewireOptions {
  return options(home, { transport: 'http', http: HTTP, ...extra });
}

/** The parsed entry `name` of a host file, by fixture name (or host id). */
function entryOf(home: FakeHome, fixtureName: string, name: string, serversPath?: string[]): unknown {
  const file = findHostFiles(home.env).find((item) => (item.path === home.files[fixtureName] || item.host.id === fixtureName) && (!serversPath || item.serversPath.join('.') === serversPath.join('.')));
  assert.ok(file, fixtureName);
  // Plain objects, for deepEqual (the parsers make null-prototype ones).
  return JSON.parse(JSON.stringify(parseHostDocument(file, readFileSync(file.path, 'utf8')).fields(name) ?? null)) as unknown;
}

/**
 * Checks that `after` differs from `before` only inside the entries named
 * (per servers map of the file: ~/.claude.json has two): putting each
 * entry's original text back in its place gives `before` byte for byte.
 */
function onlyEntriesChanged(path: string, before: string, after: string, entries: ReadonlyArray<{ file: HostFile; name: string }>): void {
  let restored = after;
  for (const { file, name } of entries) {
    const from = parseHostDocument(file, before).region(name);
    const now = parseHostDocument(file, restored).region(name);
    assert.ok(from && now, `${path}: ${name}`);
    restored = applyEdits(restored, [{ ...now, content: before.slice(from.offset, from.offset + from.length) }]);
  }
  assert.equal(restored, before, `${path}: nothing outside ${entries.map((entry) => entry.name).join(', ')} changed`);
}

describe('rewire --transport http', () => {
  test('every host with HTTP gets its remote shape, Claude Desktop stays on mux-proxy, the rest byte for byte, and undo gives back the original bytes', async (t) => {
    const home = createFakeHome(t);
    const original = home.snapshot();
    const outcomes = await rewireFiles(httpOptions(home));
    assert.deepEqual(outcomes.filter((outcome) => outcome.error).map((outcome) => outcome.error), []);
    const entries = Object.fromEntries(
      outcomes.map((outcome) => [`${outcome.host}:${outcome.scope}`, outcome.entries.filter((entry) => entry.action === 'rewire').map((entry) => `${entry.name}=${entry.service ?? 'ad hoc'}/${entry.transport}`)]),
    );
    assert.deepEqual(entries, {
      'claude-code:user': ['memory=memory/http', 'github=ad hoc/stdio'],
      'claude-code:local': ['everything=everything/http'],
      'claude-desktop:user': ['memory=memory/stdio', 'filesystem=filesystem/stdio', 'sqlite=sqlite/stdio'],
      'cursor:user': ['memory=memory-cursor/http', 'local-tool=local-tool/http'],
      'vscode:user': ['github=ad hoc/stdio', 'memory=memory/http', 'fetch=fetch/http'],
      'windsurf:user': ['sequential-thinking=sequential-thinking/http'],
      'codex:user': ['memory=memory/http', 'sqlite=sqlite-codex/http'],
      'gemini:user': ['memory=memory-gemini/http', 'everything=everything-gemini/http'],
      'zed:user': ['memory=memory/http', 'legacy-fetch=fetch/http'],
      'cline:user': ['memory=memory/http', 'fetch=fetch-cline/http'],
      'roo:project': ['sqlite=sqlite-roo/http'],
      'kiro:user': ['fetch=fetch-kiro/http'],
      'copilot-cli:user': ['memory=memory/http', 'sequential-thinking=sequential-thinking/http'],
      'junie:user': ['time=time/stdio'],
      'opencode:user': ['memory=memory/http', 'fetch=fetch/http', 'github=ad hoc/stdio'],
      'continue:user': ['memory=memory/stdio', 'SQLite=sqlite/stdio'],
      'goose:user': ['memory=memory/http', 'time=time/http'],
    });
    const desktop = outcomes.find((outcome) => outcome.host === 'claude-desktop');
    assert.ok(desktop?.entries.every((entry) => /^Claude Desktop has no HTTP transport: kept on mux-proxy \(stdio\)$/.test(entry.reason ?? '')));
    const junie = outcomes.find((outcome) => outcome.host === 'junie');
    assert.match(junie?.entries.find((entry) => entry.name === 'time')?.reason ?? '', /^Junie has no HTTP transport: kept on mux-proxy \(stdio\)$/);

    // Each host's remote shape: the URL and the bearer token; stdio fields gone, every other field kept.
    assert.deepEqual(entryOf(home, 'claude.json', 'memory', ['mcpServers']), { type: 'http', url: url('memory'), headers: BEARER });
    // Claude Code fills in its ${GITHUB_TOKEN:-}: shared ad hoc, over mux-proxy.
    assert.deepEqual(entryOf(home, 'claude.json', 'github', ['mcpServers']), {
      type: 'stdio',
      command: PROXY,
      args: ['--env', 'GITHUB_PERSONAL_ACCESS_TOKEN', '--', 'npx', '-y', '@modelcontextprotocol/server-github'],
      env: { GITHUB_PERSONAL_ACCESS_TOKEN: '${GITHUB_TOKEN:-}' },
      timeout: 30000,
      alwaysLoad: true,
    });
    assert.deepEqual(entryOf(home, 'cursor-mcp.json', 'memory'), { url: url('memory-cursor'), headers: BEARER });
    assert.deepEqual(entryOf(home, 'cursor-mcp.json', 'local-tool'), { url: url('local-tool'), headers: BEARER });
    assert.deepEqual(entryOf(home, 'vscode-mcp.json', 'memory'), { type: 'http', url: url('memory'), headers: BEARER });
    assert.deepEqual(entryOf(home, 'vscode-mcp.json', 'fetch'), { type: 'http', url: url('fetch'), headers: BEARER });
    assert.deepEqual(entryOf(home, 'windsurf-mcp_config.json', 'sequential-thinking'), { serverUrl: url('sequential-thinking'), headers: BEARER, disabled: false, autoApprove: ['sequentialthinking'] });
    assert.deepEqual(entryOf(home, 'codex-config.toml', 'memory'), { url: url('memory'), http_headers: BEARER, startup_timeout_sec: 20 });
    assert.deepEqual(entryOf(home, 'codex-config.toml', 'sqlite'), { url: url('sqlite-codex'), http_headers: BEARER, tool_timeout_sec: 60 });
    assert.deepEqual(entryOf(home, 'gemini-settings.json', 'memory'), { httpUrl: url('memory-gemini'), headers: BEARER, timeout: 30000, trust: false, includeTools: ['read_graph', 'search_nodes'] });
    assert.deepEqual(entryOf(home, 'zed-settings.json', 'memory'), { source: 'custom', url: url('memory'), headers: BEARER });
    assert.deepEqual(entryOf(home, 'zed-settings.json', 'legacy-fetch'), { url: url('fetch'), headers: BEARER, settings: {} });
    assert.deepEqual(entryOf(home, 'claude_desktop_config.json', 'memory'), { command: PROXY, args: ['memory'], env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' } });
    assert.deepEqual(entryOf(home, 'cline_mcp_settings.json', 'memory'), { type: 'streamableHttp', url: url('memory'), headers: BEARER, disabled: false, autoApprove: ['read_graph', 'search_nodes'], timeout: 60 });
    assert.deepEqual(entryOf(home, 'cline_mcp_settings.json', 'fetch'), { type: 'streamableHttp', url: url('fetch-cline'), headers: BEARER, disabled: false, autoApprove: [] });
    assert.deepEqual(entryOf(home, 'roo-mcp.json', 'sqlite'), { type: 'streamable-http', url: url('sqlite-roo'), headers: BEARER, alwaysAllow: ['read_query', 'list_tables'], disabled: false });
    assert.deepEqual(entryOf(home, 'kiro-mcp.json', 'fetch'), { url: url('fetch-kiro'), headers: BEARER, disabled: false, autoApprove: ['fetch'] });
    assert.deepEqual(entryOf(home, 'copilot-mcp-config.json', 'memory'), { type: 'http', url: url('memory'), headers: BEARER, tools: ['*'] });
    assert.deepEqual(entryOf(home, 'copilot-mcp-config.json', 'sequential-thinking'), { type: 'http', url: url('sequential-thinking'), headers: BEARER, tools: ['sequentialthinking'] });
    assert.deepEqual(entryOf(home, 'junie-mcp.json', 'time'), { command: PROXY, args: ['time'], env: {} });

    // Byte for byte outside the rewired entries: comments, tabs, BOM, CRLF, trailing commas, the Codex [..env] table's neighbours.
    const files = findHostFiles(home.env);
    for (const path of new Set(outcomes.filter((item) => item.changed).map((item) => item.file))) {
      const rewired = outcomes
        .filter((item) => item.file === path)
        .flatMap((item) => item.entries.filter((entry) => entry.action === 'rewire').map((entry) => ({ file: files.find((file) => file.path === path && file.scope === item.scope) as HostFile, name: entry.name })));
      const before = Buffer.from(original.get(path.slice(home.root.length + 1)) as string, 'latin1').toString('utf8');
      onlyEntriesChanged(path, before, readFileSync(path, 'utf8'), rewired);
    }
    assert.match(readFileSync(home.files['vscode-mcp.json'] as string, 'utf8'), /\n\t\t\t"type": "http",\n\t\t\t"url": "[^"]+",\n\t\t\t"headers": \{\n\t\t\t\t"Authorization": "Bearer [^"]+"\n\t\t\t\},\n\t\t\},/, 'VS Code: tabs, trailing comma kept');
    assert.ok(!readFileSync(home.files['codex-config.toml'] as string, 'utf8').includes('[mcp_servers.memory.env]'), "Codex: the entry's env table went with it");

    // `muxctl hosts` sees them as muxd's, by the URL.
    for (const file of findHostFiles(home.env)) {
      const doc = parseHostDocument(file, readFileSync(file.path, 'utf8'), { proxyCommand: PROXY, httpUrls: [HTTP.url] });
      for (const outcome of outcomes.filter((item) => item.file === file.path && item.scope === file.scope)) {
        for (const rewired of outcome.entries.filter((entry) => entry.action === 'rewire')) {
          const entry = doc.entries?.find((item) => item.name === rewired.name);
          assert.deepEqual([entry?.kind, entry?.service, entry?.via], ['muxd', rewired.service, rewired.transport], `${file.path}: ${rewired.name}`);
        }
      }
    }
    // Rewiring again changes nothing.
    const again = await rewireFiles(httpOptions(home));
    assert.equal(again.filter((outcome) => outcome.changed).length, 0);

    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.deepEqual(home.snapshot(), original, 'undo restores every file byte for byte');
  });

  test('--dry-run masks the token in every diff and writes nothing; the JSON outcomes hold no token', async (t) => {
    const home = createFakeHome(t);
    const before = home.snapshot();
    const outcomes = await rewireFiles(httpOptions(home, { dryRun: true }));
    assert.deepEqual(home.snapshot(), before);
    assert.equal(existsSync(home.stateDir), false);
    const all = JSON.stringify(outcomes);
    assert.ok(!all.includes(HTTP.token), 'the token is never in the output');
    const cursor = outcomes.find((outcome) => outcome.host === 'cursor')?.diff ?? '';
    assert.match(cursor, /^\+ {8}"Authorization": "Bearer \*\*\*"$/m);
    assert.match(cursor, /^\+ {6}"url": "http:\/\/127\.0\.0\.1:7777\/mcp\/memory-cursor",$/m);
    assert.match(outcomes.find((outcome) => outcome.host === 'codex')?.diff ?? '', /^\+http_headers = \{ Authorization = "Bearer \*\*\*" \}$/m);

    // Undo's dry run shows the token going away, masked too.
    await rewireFiles(httpOptions(home));
    const undo = await undoRewire({ store: new BackupStore(home.stateDir), dryRun: true });
    assert.match(undo.find((outcome) => outcome.host === 'cursor')?.diff ?? '', /^- {8}"Authorization": "\*\*\*"$/m);
    assert.ok(!JSON.stringify(undo).includes(HTTP.token));
  });

  test('switching transports: stdio -> http -> stdio, each seen as muxd\'s, a new token updated in place; undo walks back to the original bytes', async (t) => {
    const home = createFakeHome(t, ['claude.json', 'codex-config.toml', 'cursor-mcp.json', 'zed-settings.json']);
    const original = home.snapshot();
    const claude = home.files['claude.json'] as string;
    // muxd's services stay as import wrote them, while the files change.
    const services = importedServices(home);
    const viaStdio = (extra: Partial<RewireOptions> = {}) => options(home, { services, ...extra });
    const viaHttp = (extra: Partial<RewireOptions> = {}) => httpOptions(home, { services, ...extra });
    await rewireFiles(viaStdio());
    assert.deepEqual(entryOf(home, 'claude.json', 'memory', ['mcpServers']), { type: 'stdio', command: PROXY, args: ['memory'], env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' } });
    const toHttp = await rewireFiles(viaHttp());
    assert.deepEqual(toHttp.find((outcome) => outcome.host === 'claude-code' && outcome.scope === 'user')?.entries.map((entry) => `${entry.name}:${entry.action}:${entry.transport ?? ''}`), ['memory:rewire:http', 'github:already:stdio', 'linear:skip:']);
    assert.deepEqual(entryOf(home, 'claude.json', 'memory', ['mcpServers']), { type: 'http', url: url('memory'), headers: BEARER });

    // A user's own header is kept when the token changes.
    writeFileSync(claude, readFileSync(claude, 'utf8').replace(`"Authorization": "Bearer ${HTTP.token}"`, `"X-Trace": "1",\n        "Authorization": "Bearer ${HTTP.token}"`));
    const rotated = { url: HTTP.url, token: 'rotated-token-value-0123456789' };
    const update = await rewireFiles(viaHttp({ http: rotated }));
    assert.equal(update.find((outcome) => outcome.host === 'claude-code' && outcome.scope === 'user')?.entries[0]?.action, 'rewire');
    assert.deepEqual(entryOf(home, 'claude.json', 'memory', ['mcpServers']), { type: 'http', url: url('memory'), headers: { 'X-Trace': '1', Authorization: 'Bearer rotated-token-value-0123456789' } });

    // Back to stdio: the entries muxd's HTTP URL names are switched (the URL tells them apart from other remotes).
    const toStdio = await rewireFiles(viaStdio({ transport: 'stdio', httpUrls: [HTTP.url] }));
    assert.deepEqual(toStdio.find((outcome) => outcome.host === 'codex')?.entries.map((entry) => `${entry.name}:${entry.action}:${entry.transport ?? ''}`), ['memory:rewire:stdio', 'notion:skip:', 'time:skip:', 'sqlite:rewire:stdio']);
    assert.deepEqual(entryOf(home, 'codex-config.toml', 'memory'), { command: PROXY, args: ['memory'], startup_timeout_sec: 20 });
    assert.deepEqual(entryOf(home, 'zed-settings.json', 'legacy-fetch'), { command: PROXY, args: ['legacy-fetch'], settings: {} });
    assert.deepEqual(entryOf(home, 'claude.json', 'memory', ['mcpServers']), { type: 'stdio', command: PROXY, args: ['memory'] });

    const undone = await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(undone.filter((outcome) => outcome.error).length, 0);
    const now = home.snapshot();
    const claudeKey = claude.slice(home.root.length + 1);
    // Claude Code's memory entry was edited by hand between two rewires: its fields come back, not its bytes.
    assert.deepEqual(JSON.parse(now.get(claudeKey) as string), JSON.parse(original.get(claudeKey) as string));
    now.delete(claudeKey);
    original.delete(claudeKey);
    assert.deepEqual(now, original, 'four rewires undone, newest first, give back the original bytes');
  });

  test('undo after the host rewrote the file puts back the original stdio fields, and leaves an entry the user repointed', async (t) => {
    const home = createFakeHome(t, ['claude.json', 'codex-config.toml']);
    const claude = home.files['claude.json'] as string;
    const codex = home.files['codex-config.toml'] as string;
    const expected = JSON.parse(readFileSync(claude, 'utf8')) as { mcpServers: Record<string, unknown> };
    const codexOriginal = readFileSync(codex, 'utf8');
    await rewireFiles(httpOptions(home));
    // Claude Code rewrites the whole file its own way; the user points the project's everything elsewhere.
    const data = JSON.parse(readFileSync(claude, 'utf8')) as { numStartups: number; mcpServers: Record<string, Record<string, unknown>>; projects: Record<string, { mcpServers: Record<string, Record<string, unknown>> }> };
    data.numStartups = 43;
    const project = data.projects[home.env.projectDir] as { mcpServers: Record<string, Record<string, unknown>> };
    (project.mcpServers['everything'] as Record<string, unknown>)['url'] = 'https://api.example.com/mcp';
    writeFileSync(claude, JSON.stringify(data, null, 2));
    // And a comment added to Codex's file, above the entry (outside it).
    writeFileSync(codex, readFileSync(codex, 'utf8').replace('[mcp_servers.memory]', '# mine\n[mcp_servers.memory]'));

    const outcomes = await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    const restored = JSON.parse(readFileSync(claude, 'utf8')) as { numStartups: number; mcpServers: Record<string, unknown> };
    assert.equal(restored.numStartups, 43);
    assert.deepEqual(restored.mcpServers['memory'], expected.mcpServers['memory'], 'command, args and env are back');
    assert.deepEqual(restored.mcpServers['github'], expected.mcpServers['github'], 'the ad-hoc entry is back too');
    const everything = outcomes.find((outcome) => outcome.host === 'claude-code' && outcome.scope === 'local')?.entries.find((entry) => entry.name === 'everything');
    assert.equal(everything?.action, 'skip');
    assert.match(everything?.reason ?? '', /no longer points at muxd's HTTP front/);
    assert.equal((JSON.parse(readFileSync(claude, 'utf8')) as typeof data).projects[home.env.projectDir]?.mcpServers['everything']?.['url'], 'https://api.example.com/mcp');
    assert.equal(readFileSync(codex, 'utf8'), codexOriginal.replace('[mcp_servers.memory]', '# mine\n[mcp_servers.memory]'), 'Codex: byte for byte but the added comment');
  });

  test("a Gemini entry written \"type\": \"http\" with url keeps its spelling when its token changes, and loses every HTTP field when switched to stdio", async (t) => {
    const home = createFakeHome(t, []);
    const path = join(home.env.home, '.gemini', 'settings.json');
    mkdirSync(join(path, '..'), { recursive: true });
    const original = `{\n  "mcpServers": {\n    "memory": {\n      "type": "http",\n      "url": "${url('memory')}",\n      "headers": { "Authorization": "Bearer old-token-0123456789" },\n      "trust": true\n    }\n  }\n}\n`;
    writeFileSync(path, original);
    const files = findHostFiles(home.env, [host('gemini')]);
    const services = new Map<string, ServerSpec>([['memory', { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: {} }]]);
    const [refreshed] = await rewireFiles(httpOptions(home, { files, services }));
    assert.deepEqual(refreshed?.entries.map((entry) => `${entry.name}:${entry.action}:${entry.transport}`), ['memory:rewire:http']);
    assert.deepEqual(entryOf(home, 'gemini', 'memory'), { type: 'http', url: url('memory'), headers: BEARER, trust: true });
    const [again] = await rewireFiles(httpOptions(home, { files, services }));
    assert.deepEqual([again?.changed, again?.entries[0]?.action], [false, 'already']);

    await rewireFiles(options(home, { files, services, transport: 'stdio', httpUrls: [HTTP.url] }));
    assert.deepEqual(entryOf(home, 'gemini', 'memory'), { command: PROXY, args: ['memory'], trust: true });
    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(readFileSync(path, 'utf8'), original);
  });

  test('a service with http: false stays on mux-proxy; a Codex env table apart from its entry is left, with why', async (t) => {
    const home = createFakeHome(t, ['cursor-mcp.json']);
    const [cursor] = await rewireFiles(httpOptions(home, { httpOff: new Set(['local-tool']) }));
    const localTool = cursor?.entries.find((entry) => entry.name === 'local-tool');
    assert.deepEqual([localTool?.action, localTool?.transport], ['rewire', 'stdio']);
    assert.match(localTool?.reason ?? '', /services.local-tool has http: false/);
    assert.deepEqual(entryOf(home, 'cursor-mcp.json', 'local-tool'), { command: PROXY, args: ['local-tool'] });

    const codexHome = createFakeHome(t, []);
    const path = join(codexHome.env.home, '.codex', 'config.toml');
    mkdirSync(join(path, '..'), { recursive: true });
    const text = '[mcp_servers.tool]\ncommand = "/opt/tool"\n\n[projects."/x"]\ntrust_level = "trusted"\n\n[mcp_servers.tool.env]\nKEY = "v"\n';
    writeFileSync(path, text);
    const files = findHostFiles(codexHome.env, [host('codex')]);
    const services = new Map<string, ServerSpec>([['tool', { command: '/opt/tool', args: [], env: { KEY: 'v' } }]]);
    const [codex] = await rewireFiles(httpOptions(codexHome, { files, services }));
    assert.equal(codex?.entries[0]?.action, 'skip');
    assert.match(codex?.entries[0]?.reason ?? '', /\[mcp_servers\.tool\.env\] is apart from \[mcp_servers\.tool\]/);
    assert.equal(readFileSync(path, 'utf8'), text);
  });
});

describe('rewire: Cline, Roo Code, Kiro, Copilot CLI, Junie', () => {
  test("Cline: the entry gets type \"stdio\" (written where it was missing), autoApprove, timeout and cwd kept; undo gives back the bytes", async (t) => {
    const home = createFakeHome(t, ['cline_mcp_settings.json']);
    const path = home.files['cline_mcp_settings.json'] as string;
    const original = readFileSync(path, 'utf8');
    const [outcome] = await rewireFiles(options(home));
    assert.deepEqual(outcome?.entries.map((entry) => `${entry.name}=${entry.action}`), ['memory=rewire', 'fetch=rewire', 'old-server=skip', 'search=skip']);
    assert.equal(outcome?.reload, 'let Cline pick it up: it watches its settings file and applies changes on save');
    assert.deepEqual(entryOf(home, 'cline_mcp_settings.json', 'memory'), {
      type: 'stdio',
      command: PROXY,
      args: ['memory'],
      env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' },
      disabled: false,
      autoApprove: ['read_graph', 'search_nodes'],
      timeout: 60,
    });
    const text = readFileSync(path, 'utf8');
    assert.ok(text.includes(`"fetch": {\n      "type": "stdio",\n      "command": "${PROXY}",\n      "args": ["fetch"],\n      "cwd": "/home/me",\n      "disabled": false,\n      "autoApprove": []\n    },`), text);
    assert.ok(text.includes('"args": ["/home/me/old/server.js"],\n      "disabled": true'), 'a disabled entry is left as it is');

    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(readFileSync(path, 'utf8'), original);
  });

  test('Copilot CLI: type "local" and tools kept; over HTTP type "http"; back to stdio "local" again; undo walks back to the bytes', async (t) => {
    const home = createFakeHome(t, ['copilot-mcp-config.json']);
    const path = home.files['copilot-mcp-config.json'] as string;
    const original = readFileSync(path, 'utf8');
    const services = importedServices(home);
    await rewireFiles(options(home, { services }));
    assert.deepEqual(entryOf(home, 'copilot-mcp-config.json', 'memory'), { type: 'local', command: PROXY, args: ['memory'], env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' }, tools: ['*'] });
    assert.deepEqual(entryOf(home, 'copilot-mcp-config.json', 'sequential-thinking'), { type: 'local', command: PROXY, args: ['sequential-thinking'], tools: ['sequentialthinking'] });

    const [http] = await rewireFiles(httpOptions(home, { services }));
    assert.deepEqual(http?.entries.map((entry) => `${entry.name}=${entry.action}:${entry.transport ?? ''}`), ['memory=rewire:http', 'sequential-thinking=rewire:http', 'tracker=skip:']);
    assert.deepEqual(entryOf(home, 'copilot-mcp-config.json', 'memory'), { type: 'http', url: url('memory'), headers: BEARER, tools: ['*'] });
    assert.deepEqual(entryOf(home, 'copilot-mcp-config.json', 'tracker'), { type: 'http', url: 'https://tracker.example.com/mcp', headers: { 'X-Toolsets': 'issues' }, tools: ['*'] }, "another remote is not muxd's");

    await rewireFiles(options(home, { services, transport: 'stdio', httpUrls: [HTTP.url] }));
    assert.deepEqual(entryOf(home, 'copilot-mcp-config.json', 'memory'), { type: 'local', command: PROXY, args: ['memory'], tools: ['*'] });

    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(readFileSync(path, 'utf8'), original);
  });

  test('Roo Code project file: no type over stdio, "streamable-http" over HTTP, alwaysAllow and disabled kept; the project is the cwd', async (t) => {
    const home = createFakeHome(t, ['roo-mcp.json']);
    const path = home.files['roo-mcp.json'] as string;
    assert.equal(path, join(home.env.projectDir, '.roo', 'mcp.json'));
    const original = readFileSync(path, 'utf8');
    const services = importedServices(home);
    assert.equal(services.get('sqlite')?.cwd, home.env.projectDir, "a project file's server runs in the project");
    const [stdio] = await rewireFiles(options(home, { services }));
    assert.deepEqual([stdio?.host, stdio?.scope], ['roo', 'project']);
    assert.deepEqual(entryOf(home, 'roo-mcp.json', 'sqlite'), { command: PROXY, args: ['sqlite'], alwaysAllow: ['read_query', 'list_tables'], disabled: false });

    await rewireFiles(httpOptions(home, { services }));
    assert.deepEqual(entryOf(home, 'roo-mcp.json', 'sqlite'), { type: 'streamable-http', url: url('sqlite'), headers: BEARER, alwaysAllow: ['read_query', 'list_tables'], disabled: false });
    // Back to stdio: Roo has no stdio type, so the HTTP one goes.
    await rewireFiles(options(home, { services, transport: 'stdio', httpUrls: [HTTP.url] }));
    assert.deepEqual(entryOf(home, 'roo-mcp.json', 'sqlite'), { command: PROXY, args: ['sqlite'], alwaysAllow: ['read_query', 'list_tables'], disabled: false });

    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(readFileSync(path, 'utf8'), original);
  });

  test('Kiro over HTTP: url and headers with no type, disabled and autoApprove kept, its 4-space layout too', async (t) => {
    const home = createFakeHome(t, ['kiro-mcp.json']);
    const path = home.files['kiro-mcp.json'] as string;
    const original = readFileSync(path, 'utf8');
    const [outcome] = await rewireFiles(httpOptions(home));
    assert.deepEqual(outcome?.entries.map((entry) => `${entry.name}=${entry.action}:${entry.transport ?? ''}`), ['fetch=rewire:http', 'cloud-docs=skip:']);
    assert.deepEqual(entryOf(home, 'kiro-mcp.json', 'fetch'), { url: url('fetch'), headers: BEARER, disabled: false, autoApprove: ['fetch'] });
    const text = readFileSync(path, 'utf8');
    assert.ok(!text.includes('"type"'), 'Kiro has no type field');
    assert.ok(text.includes(`        "fetch": {\n            "url": "${url('fetch')}",\n            "headers": {\n                "Authorization": "Bearer ${HTTP.token}"\n            },\n            "disabled": false,`), text);
    assert.ok(text.includes('"cloud-docs": {\n            "url": "https://cloud-docs.example.com/mcp",'), 'the remote entry is untouched');
    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(readFileSync(path, 'utf8'), original);
  });

  test('Junie over HTTP: like Claude Desktop, it has no HTTP transport and stays on mux-proxy, with why', async (t) => {
    const home = createFakeHome(t, ['junie-mcp.json']);
    const path = home.files['junie-mcp.json'] as string;
    const original = readFileSync(path, 'utf8');
    const [outcome] = await rewireFiles(httpOptions(home));
    const time = outcome?.entries.find((entry) => entry.name === 'time');
    assert.deepEqual([time?.action, time?.transport, time?.reason], ['rewire', 'stdio', 'Junie has no HTTP transport: kept on mux-proxy (stdio)']);
    assert.equal(outcome?.entries.find((entry) => entry.name === 'remote')?.action, 'skip', 'a url marks a remote entry');
    assert.deepEqual(entryOf(home, 'junie-mcp.json', 'time'), { command: PROXY, args: ['time'], env: {} });
    assert.ok(!readFileSync(path, 'utf8').includes(HTTP.token), 'no token written');
    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(readFileSync(path, 'utf8'), original);
  });
});

describe('rewire: opencode, Continue, Goose', () => {
  const PROXY_JS = '/opt/muxd/lib/mux-proxy.js';

  test('opencode: one command list [node, mux-proxy.js, service] with type "local", enabled and environment kept; over HTTP type "remote"; undo gives back the bytes', async (t) => {
    const home = createFakeHome(t, ['opencode.jsonc']);
    const path = home.files['opencode.jsonc'] as string;
    const original = readFileSync(path, 'utf8');
    const services = importedServices(home);
    const [stdio] = await rewireFiles(options(home, { services, proxyCommand: PROXY_JS }));
    assert.deepEqual(stdio?.entries.map((entry) => `${entry.name}=${entry.action}`), ['memory=rewire', 'fetch=rewire', 'github=rewire', 'old-server=skip', 'docs=skip']);
    assert.match(stdio?.entries[2]?.reason ?? '', /^\{env:GITHUB_TOKEN\} is filled in by opencode: shared ad hoc/);
    assert.deepEqual(entryOf(home, 'opencode.jsonc', 'github'), {
      type: 'local',
      command: [process.execPath, PROXY_JS, '--env', 'GITHUB_PERSONAL_ACCESS_TOKEN', '--', 'npx', '-y', '@modelcontextprotocol/server-github'],
      environment: { GITHUB_PERSONAL_ACCESS_TOKEN: '{env:GITHUB_TOKEN}' },
    });
    assert.deepEqual(entryOf(home, 'opencode.jsonc', 'memory'), { type: 'local', command: [process.execPath, PROXY_JS, 'memory'], environment: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' }, enabled: true });
    assert.deepEqual(entryOf(home, 'opencode.jsonc', 'fetch'), { type: 'local', command: [process.execPath, PROXY_JS, 'fetch'], timeout: 10000 });
    const text = readFileSync(path, 'utf8');
    assert.ok(text.includes('  // Models and keys are set elsewhere; these are the MCP servers.\n'), 'comments kept');
    assert.ok(text.includes(`"fetch",\n      ],\n      "timeout": 10000, /* ms */\n    },`), 'trailing commas and the inline comment kept');

    const [http] = await rewireFiles(httpOptions(home, { services, proxyCommand: PROXY_JS }));
    assert.deepEqual(http?.entries.filter((entry) => entry.action === 'rewire').map((entry) => `${entry.name}:${entry.transport}`), ['memory:http', 'fetch:http']);
    assert.deepEqual(entryOf(home, 'opencode.jsonc', 'memory'), { type: 'remote', url: url('memory'), headers: BEARER, enabled: true });
    assert.deepEqual(entryOf(home, 'opencode.jsonc', 'fetch'), { type: 'remote', url: url('fetch'), headers: BEARER, timeout: 10000 });
    assert.deepEqual(entryOf(home, 'opencode.jsonc', 'docs'), { type: 'remote', url: 'https://docs.example.com/mcp', headers: { 'X-Api-Key': '{env:DOCS_KEY}' } }, "another remote is not muxd's");

    await rewireFiles(options(home, { services, proxyCommand: PROXY_JS, transport: 'stdio', httpUrls: [HTTP.url] }));
    assert.deepEqual(entryOf(home, 'opencode.jsonc', 'memory'), { type: 'local', command: [process.execPath, PROXY_JS, 'memory'], enabled: true });

    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(readFileSync(path, 'utf8'), original);
  });

  test('Continue: the list item keeps its name and gets command and args; over HTTP it stays on mux-proxy, with why; undo gives back the bytes', async (t) => {
    const home = createFakeHome(t, ['continue-config.yaml']);
    const path = home.files['continue-config.yaml'] as string;
    const original = readFileSync(path, 'utf8');
    const [stdio] = await rewireFiles(options(home));
    assert.deepEqual(stdio?.entries.map((entry) => `${entry.name}=${entry.action}${entry.service ? `:${entry.service}` : ''}`), ['memory=rewire:memory', 'SQLite=rewire:SQLite', 'Docs=skip']);
    assert.deepEqual(entryOf(home, 'continue-config.yaml', 'memory'), { name: 'memory', command: PROXY, args: ['memory'], env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' } });
    assert.deepEqual(entryOf(home, 'continue-config.yaml', 'SQLite'), { name: 'SQLite', command: PROXY, args: ['SQLite'], connectionTimeout: 20000 });
    const text = readFileSync(path, 'utf8');
    assert.ok(text.startsWith(original.slice(0, original.indexOf('  - name: memory'))), 'the models and comments before the servers are byte for byte');
    assert.ok(text.endsWith(original.slice(original.indexOf('  - name: Docs'))), 'the remote entry and what follows are byte for byte');
    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(readFileSync(path, 'utf8'), original);

    const [http] = await rewireFiles(httpOptions(home));
    const memory = http?.entries.find((entry) => entry.name === 'memory');
    assert.deepEqual([memory?.action, memory?.transport, memory?.reason], ['rewire', 'stdio', 'Continue has no HTTP transport: kept on mux-proxy (stdio)']);
    assert.ok(!readFileSync(path, 'utf8').includes(HTTP.token), 'no token written');
    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(readFileSync(path, 'utf8'), original);
  });

  test('Goose: cmd/args over stdio, streamable_http with uri and headers over HTTP, the other fields kept, builtins untouched; undo walks back to the bytes', async (t) => {
    const home = createFakeHome(t, ['goose-config.yaml']);
    const path = home.files['goose-config.yaml'] as string;
    const original = readFileSync(path, 'utf8');
    const services = importedServices(home);
    const builtins = (text: string) => [text.slice(text.indexOf('  developer:'), text.indexOf('  # Added by hand')), text.slice(text.indexOf('  computercontroller:'))];
    const [stdio] = await rewireFiles(options(home, { services }));
    assert.deepEqual(stdio?.entries.map((entry) => `${entry.name}=${entry.action}`), ['developer=skip', 'memory=rewire', 'time=rewire', 'computercontroller=skip', 'todo=skip', 'docs=skip']);
    assert.match(stdio?.entries[0]?.reason ?? '', /a builtin extension/);
    assert.deepEqual(entryOf(home, 'goose-config.yaml', 'memory'), {
      args: ['memory'],
      bundled: null,
      cmd: PROXY,
      description: 'Knowledge graph memory',
      enabled: true,
      env_keys: [],
      envs: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' },
      name: 'memory',
      timeout: 300,
      type: 'stdio',
    });
    assert.deepEqual(builtins(readFileSync(path, 'utf8')), builtins(original), 'builtins and the remote entry are byte for byte');

    const [http] = await rewireFiles(httpOptions(home, { services }));
    assert.deepEqual(http?.entries.filter((entry) => entry.action === 'rewire').map((entry) => `${entry.name}:${entry.transport}`), ['memory:http', 'time:http']);
    assert.deepEqual(entryOf(home, 'goose-config.yaml', 'memory'), {
      uri: url('memory'),
      headers: BEARER,
      bundled: null,
      description: 'Knowledge graph memory',
      enabled: true,
      env_keys: [],
      name: 'memory',
      timeout: 300,
      type: 'streamable_http',
    });
    assert.deepEqual(entryOf(home, 'goose-config.yaml', 'time'), { uri: url('time'), headers: BEARER, enabled: true, name: 'time', timeout: 300, type: 'streamable_http' });
    const text = readFileSync(path, 'utf8');
    assert.ok(text.includes(`    timeout: 300 # seconds\n    type: streamable_http\n`), 'the comment on a kept field stays');
    assert.deepEqual(builtins(text), builtins(original));
    // Seen as muxd's by the URL: rewiring again changes nothing.
    const again = await rewireFiles(httpOptions(home, { services }));
    assert.equal(again[0]?.changed, false);

    await rewireFiles(options(home, { services, transport: 'stdio', httpUrls: [HTTP.url] }));
    assert.deepEqual(entryOf(home, 'goose-config.yaml', 'time'), { cmd: PROXY, args: ['time'], enabled: true, name: 'time', timeout: 300, type: 'stdio' });

    await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(readFileSync(path, 'utf8'), original);
  });

  test('Goose: --dry-run masks envs values and the token', async (t) => {
    const home = createFakeHome(t, ['goose-config.yaml']);
    const [outcome] = await rewireFiles(httpOptions(home, { dryRun: true }));
    const diff = outcome?.diff ?? '';
    assert.match(diff, /^-      MEMORY_FILE_PATH: \*\*\*$/m);
    assert.match(diff, /^\+      Authorization: "Bearer \*\*\*"$/m);
    assert.ok(!diff.includes(HTTP.token) && !diff.includes('/home/me/.memory.jsonl'));
  });
});

describe('updateFileAtomic', () => {
  function tempFile(t: TestContext, text: string): { path: string; dir: string } {
    const home = createFakeHome(t, []);
    const path = join(home.root, 'file.json');
    writeFileSync(path, text);
    return { path, dir: home.root };
  }

  test('computes again when the file changed between the read and the rename', async (t) => {
    const { path } = tempFile(t, 'one');
    let calls = 0;
    const update = await updateFileAtomic(path, (text) => {
      calls++;
      // A host writes the file while muxctl is busy, once.
      if (calls === 1) writeFileSync(path, 'two');
      return `${text}!`;
    });
    assert.equal(calls, 2);
    assert.equal(readFileSync(path, 'utf8'), 'two!');
    assert.equal(update?.before, 'two');
  });

  test('gives up on a file that keeps changing, leaving it and no temp file', async (t) => {
    const { path, dir } = tempFile(t, '0');
    let n = 0;
    await assert.rejects(
      updateFileAtomic(path, (text) => {
        writeFileSync(path, String(++n));
        return text + 'x';
      }),
      /kept changing/,
    );
    assert.equal(readFileSync(path, 'utf8'), String(n));
    assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tmp')), []);
  });

  test('writes through a symlink (the link stays) and keeps the mode', async (t) => {
    const { path, dir } = tempFile(t, 'a');
    chmodSync(path, 0o640);
    const link = join(dir, 'link.json');
    symlinkSync(path, link);
    const update = await updateFileAtomic(link, (text) => text + 'b');
    assert.equal(update?.file, path);
    assert.equal(readFileSync(path, 'utf8'), 'ab');
    assert.equal(readFileSync(link, 'utf8'), 'ab');
    assert.equal(spawnSync('stat', ['-c', '%a', path]).stdout.toString().trim(), '640');
  });

  test('refuses a read-only file', async (t) => {
    const { path } = tempFile(t, 'a');
    chmodSync(path, 0o444);
    await assert.rejects(updateFileAtomic(path, (text) => text + 'b'), /read-only/);
  });
});
