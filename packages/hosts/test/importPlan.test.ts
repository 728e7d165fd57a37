// Planning an import: dedupe, visible conflict naming, skips with reasons,
// host variables kept as text.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostDocument } from '../src/hostFiles.js';
import { findHostFiles, hostById } from '../src/hostRegistry.js';
import type { HostDefinition, HostFile } from '../src/hostRegistry.js';
import { planImport } from '../src/importPlan.js';
import type { HostFileEntries } from '../src/importPlan.js';
import type { ServerSpec } from '../src/serverEntry.js';
import { createFakeHome } from './fakeHome.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function read(files: HostFile[]): HostFileEntries[] {
  return files.map((file) => ({ file, entries: parseHostDocument(file, readFileSync(file.path, 'utf8')).entries ?? [] }));
}

describe('planImport', () => {
  test('every fixture host: identical servers shared, different ones renamed visibly, the rest skipped with reasons', (t) => {
    const home = createFakeHome(t);
    const plan = planImport(read(findHostFiles(home.env)), new Map(), home.env.projectDir, {});
    const byName = Object.fromEntries(plan.services.map((service) => [service.name, service]));
    assert.deepEqual(Object.keys(byName), [
      'memory',
      'everything',
      'filesystem',
      'sqlite',
      'memory-cursor',
      'puppeteer',
      'local-tool',
      'fetch',
      'sequential-thinking',
      'sqlite-codex',
      'memory-gemini',
      'everything-gemini',
      'fetch-cline',
      'sqlite-roo',
      'fetch-kiro',
      'time',
    ]);
    // memory: the same server in Claude Code, Claude Desktop, VS Code, Codex, Zed, Cline, Copilot CLI, opencode, Continue and Goose is one service.
    assert.deepEqual(
      byName['memory']?.sources.map((source) => `${source.host}/${source.entry}`),
      ['claude-code/memory', 'claude-desktop/memory', 'vscode/memory', 'codex/memory', 'zed/memory', 'cline/memory', 'copilot-cli/memory', 'opencode/memory', 'continue/memory', 'goose/memory'],
    );
    assert.deepEqual(byName['sequential-thinking']?.sources.map((source) => `${source.host}/${source.entry}`), ['windsurf/sequential-thinking', 'copilot-cli/sequential-thinking']);
    // Roo Code's project file runs in the project; Cline's cwd is kept, so it is not VS Code's fetch.
    assert.equal(byName['sqlite-roo']?.spec.cwd, home.env.projectDir);
    assert.deepEqual(byName['fetch-cline']?.spec, { command: 'uvx', args: ['mcp-server-fetch'], env: {}, cwd: '/home/me' });
    // A different name for the same server shares it too, said out loud.
    assert.deepEqual(byName['fetch']?.sources.map((source) => `${source.host}/${source.entry}`), ['vscode/fetch', 'zed/legacy-fetch', 'opencode/fetch']);
    assert.ok(plan.notes.includes("'legacy-fetch' in Zed (user) is the same server as service 'fetch': they share it"));
    assert.ok(plan.notes.includes("conflict: 'memory' in Cursor (user) differs from service 'memory' ('memory' in Claude Code (user)); imported as 'memory-cursor'"));
    // Local scope: npx -y <package> runs the same anywhere, so no cwd.
    assert.equal(byName['everything']?.spec.cwd, undefined);
    // cmd /c unwrapped; npx kept.
    assert.equal(byName['filesystem']?.spec.command, 'npx');
    // A value only the host fills in (VS Code's input, Claude Code's ${VAR}, opencode's {env:...}) keeps the entry out: rewire shares it ad hoc.
    assert.ok(plan.notes.some((note) => note.includes("'puppeteer' in Cursor (user) reads an envFile")));
    const skipped = Object.fromEntries(plan.skipped.map(({ source, reason }) => [`${source.host}/${source.entry}`, reason]));
    assert.deepEqual(Object.keys(skipped).sort(), [
      'claude-code/github',
      'claude-code/linear',
      'cline/old-server',
      'cline/search',
      'codex/notion',
      'codex/time',
      'continue/Docs',
      'copilot-cli/tracker',
      'cursor/context7',
      'gemini/deepwiki',
      'goose/computercontroller',
      'goose/developer',
      'goose/docs',
      'goose/todo',
      'junie/remote',
      'kiro/cloud-docs',
      'opencode/docs',
      'opencode/github',
      'opencode/old-server',
      'roo/docs',
      'vscode/github',
      'vscode/remote-docs',
      'windsurf/figma',
      'windsurf/old-server',
      'zed/postgres-context-server',
      'zed/remote',
    ]);
    assert.match(skipped['claude-code/linear'] as string, /remote server \(http\): muxd runs stdio servers/);
    assert.equal(skipped['vscode/github'], '${input:github_token} is filled in by VS Code: muxctl rewire shares the entry as it is (mux-proxy --env), the value staying in VS Code');
    assert.equal(skipped['claude-code/github'], '${GITHUB_TOKEN:-} is filled in by Claude Code: muxctl rewire shares the entry as it is (mux-proxy --env), the value staying in Claude Code');
    assert.match(skipped['opencode/github'] as string, /^\{env:GITHUB_TOKEN\} is filled in by opencode/);
    assert.match(skipped['zed/postgres-context-server'] as string, /extension server/);
    assert.equal(skipped['windsurf/old-server'], 'disabled in the host');
    assert.equal(skipped['cline/old-server'], 'disabled in the host');
    assert.match(skipped['cline/search'] as string, /remote server \(streamableHttp\)/);
    assert.match(skipped['roo/docs'] as string, /remote server \(streamable-http\)/);
    assert.match(skipped['kiro/cloud-docs'] as string, /remote server \(url\)/);
    assert.match(skipped['junie/remote'] as string, /remote server \(url\)/);
  });

  test("opencode's command list, Continue's named list and Goose's cmd/envs become services; builtins and opencode variables as muxd must see them", (t) => {
    const home = createFakeHome(t, ['opencode.jsonc', 'continue-config.yaml', 'goose-config.yaml']);
    const plan = planImport(read(findHostFiles(home.env)), new Map(), home.env.projectDir, {});
    const services = Object.fromEntries(plan.services.map((service) => [service.name, { spec: service.spec, from: service.sources.map((source) => `${source.host}/${source.entry}`) }]));
    assert.deepEqual(services['memory'], {
      spec: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' } },
      from: ['opencode/memory', 'continue/memory', 'goose/memory'],
    });
    assert.deepEqual(services['fetch']?.spec, { command: 'uvx', args: ['mcp-server-fetch'], env: {} });
    assert.equal(services['github'], undefined, 'opencode fills in {env:GITHUB_TOKEN}: left to rewire');
    assert.deepEqual(services['SQLite'], { spec: { command: 'uvx', args: ['mcp-server-sqlite', '--db-path', '/home/me/test.db'], env: {} }, from: ['continue/SQLite'] });
    assert.deepEqual(services['time'], { spec: { command: 'uvx', args: ['mcp-server-time', '--local-timezone=Europe/Paris'], env: {} }, from: ['goose/time'] });
    const skipped = Object.fromEntries(plan.skipped.map(({ source, reason }) => [`${source.host}/${source.entry}`, reason]));
    assert.deepEqual(skipped, {
      'opencode/github': '{env:GITHUB_TOKEN} is filled in by opencode: muxctl rewire shares the entry as it is (mux-proxy --env), the value staying in opencode',
      'opencode/old-server': 'disabled in the host',
      'opencode/docs': 'a remote server (remote): muxd runs stdio servers',
      'continue/Docs': 'a remote server (streamable-http): muxd runs stdio servers',
      'goose/developer': "a builtin extension (the host manages it): not muxd's to run",
      'goose/computercontroller': "a builtin extension (the host manages it): not muxd's to run",
      'goose/todo': "a platform extension (the host manages it): not muxd's to run",
      'goose/docs': 'a remote server (streamable_http): muxd runs stdio servers',
    });
  });

  test('services already in the config are kept: identical entries match them, different ones get a new name', (t) => {
    const home = createFakeHome(t, ['claude_desktop_config.json']);
    const existing = new Map<string, ServerSpec>([
      ['memory', { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' } }],
      ['sqlite', { command: 'sqlite-mcp', args: [], env: {} }],
    ]);
    const plan = planImport(read(findHostFiles(home.env)), existing, home.env.projectDir, {});
    assert.deepEqual(
      plan.services.map((service) => [service.name, service.status]),
      [
        ['memory', 'present'],
        ['filesystem', 'new'],
        ['sqlite-claude-desktop', 'new'],
      ],
    );
    assert.ok(plan.notes.some((note) => note.includes("differs from service 'sqlite' (muxd's config); imported as 'sqlite-claude-desktop'")));
  });

  test("an entry muxd could not load is skipped, not written (${workspaceFolder}, an unset ${VAR})", (t) => {
    const home = createFakeHome(t, []);
    const file = findHostFiles(home.env)[0];
    assert.equal(file, undefined);
    const fake = { path: '/p/.vscode/mcp.json', scope: 'project', format: 'jsonc', serversPath: ['servers'], host: { id: 'vscode', name: 'VS Code', remoteKeys: ['url'] } } as unknown as HostFile;
    const doc = parseHostDocument(
      fake,
      '{"servers": {"ws": {"command": "node", "args": ["${workspaceFolder}/server.js"]}, "tok": {"command": "x", "env": {"T": "${TOKEN}"}}, "ok": {"command": "y", "env": {"T": "${TOKEN:-none}"}}}}',
    );
    const plan = planImport([{ file: fake, entries: doc.entries ?? [] }], new Map(), '/p', {});
    assert.deepEqual(plan.services.map((service) => service.name), ['ok']);
    assert.match(plan.skipped[0]?.reason as string, /workspaceFolder is not set/);
    assert.match(plan.skipped[1]?.reason as string, /TOKEN is not set/);
    assert.equal(plan.services[0]?.spec.cwd, undefined, 'a project file\'s server with no relative path runs anywhere');
  });

  test("cwd is part of a project server's identity only where it can matter: a relative path, or the entry's own cwd", (t) => {
    const home = createFakeHome(t, []);
    const project = home.env.projectDir;
    mkdirSync(join(project, 'tools'), { recursive: true });
    writeFileSync(join(project, 'index'), '');
    writeFileSync(join(project, 'run-server'), '', { mode: 0o755 });
    const memory = { type: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' } };
    const local = {
      memory,
      fetch: { command: 'uvx', args: ['mcp-server-fetch', '--user-agent=muxd'] },
      tools: { command: 'node', args: ['./tools/server.js'] },
      dist: { command: 'node', args: ['dist/index.js'] },
      script: { command: 'python', args: ['server.py'] },
      db: { command: 'uvx', args: ['mcp-server-sqlite', '--db-path=app.db'] },
      bare: { command: 'node', args: ['index'] },
      envPath: { command: 'npx', args: ['-y', 'some-server'], env: { DATA: './data' } },
      local: { command: './bin/server' },
      here: { command: 'run-server' },
      remote: { command: 'npx', args: ['-y', 'mcp-remote', 'https://mcp.example.com/sse'] },
    };
    mkdirSync(home.env.home, { recursive: true });
    writeFileSync(join(home.env.home, '.claude.json'), JSON.stringify({ mcpServers: { memory, fetch: local.fetch }, projects: { [project]: { mcpServers: local } } }));
    // Gemini's project file, with a cwd of its own for the same fetch.
    mkdirSync(join(project, '.gemini'), { recursive: true });
    writeFileSync(join(project, '.gemini', 'settings.json'), JSON.stringify({ mcpServers: { fetch: { ...local.fetch, cwd: '/srv' } } }));
    const plan = planImport(read(findHostFiles(home.env)), new Map(), project, { PATH: process.env['PATH'] ?? '' });
    const specs = Object.fromEntries(plan.services.map((service) => [service.name, [service.spec.cwd ?? null, service.sources.map((source) => `${source.host}:${source.scope}`).join(' ')]]));
    assert.deepEqual(specs, {
      // The same command in the user scope and a project: one service, one child.
      memory: [null, 'claude-code:user claude-code:local'],
      fetch: [null, 'claude-code:user claude-code:local'],
      tools: [project, 'claude-code:local'],
      dist: [project, 'claude-code:local'],
      script: [project, 'claude-code:local'],
      db: [project, 'claude-code:local'],
      bare: [project, 'claude-code:local'],
      envPath: [project, 'claude-code:local'],
      local: [project, 'claude-code:local'],
      // A bare command not on PATH but in the project.
      here: [project, 'claude-code:local'],
      remote: [null, 'claude-code:local'],
      // A cwd the entry sets is its own: another server.
      'fetch-gemini': ['/srv', 'gemini:project'],
    });
    // A service an older muxctl imported with the project as cwd is still the one a local entry runs.
    const earlier = new Map<string, ServerSpec>([['memory', { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' }, cwd: project }]]);
    const again = planImport(read(findHostFiles(home.env, [hostById('claude-code') as HostDefinition])), earlier, project, {});
    assert.deepEqual(again.services.find((service) => service.name === 'memory')?.sources.map((source) => source.scope), ['local']);
    assert.equal(again.services.filter((service) => service.spec.command === 'npx' && service.spec.args[1] === '@modelcontextprotocol/server-memory').length, 2, 'the user-scope entry, with no cwd, is not the project one');
  });

  test('names that are not service names are made into ones, and said so', (t) => {
    const home = createFakeHome(t, []);
    const fake = { path: '/h/.cursor/mcp.json', scope: 'user', format: 'json', serversPath: ['mcpServers'], host: { id: 'cursor', name: 'Cursor', remoteKeys: ['url'] } } as unknown as HostFile;
    const doc = parseHostDocument(fake, '{"mcpServers": {"My Server/v2": {"command": "a"}, "@scope/pkg": {"command": "b"}}}');
    const plan = planImport([{ file: fake, entries: doc.entries ?? [] }], new Map(), home.env.projectDir, {});
    assert.deepEqual(plan.services.map((service) => service.name), ['My-Server-v2', 'scope-pkg']);
    assert.ok(plan.notes.some((note) => note.startsWith("'My Server/v2' in Cursor (user) is imported as 'My-Server-v2'")));
  });

  test('entries named like members of every JavaScript object become names muxd takes; env keys are all kept, and a __proto__ one is skipped with why', (t) => {
    const home = createFakeHome(t, []);
    const fake = { path: '/h/.cursor/mcp.json', scope: 'user', format: 'json', serversPath: ['mcpServers'], host: { id: 'cursor', name: 'Cursor', remoteKeys: ['url'] } } as unknown as HostFile;
    const doc = parseHostDocument(
      fake,
      '{"mcpServers": {"constructor": {"command": "a"}, "__proto__": {"command": "b"}, "toString": {"command": "c", "env": {"constructor": "x"}}, "envy": {"command": "d", "env": {"__proto__": "y"}}}}',
    );
    const plan = planImport([{ file: fake, entries: doc.entries ?? [] }], new Map(), home.env.projectDir, {});
    assert.deepEqual(plan.services.map((service) => service.name), ['constructor-server', 'proto__', 'toString-server']);
    assert.deepEqual(Object.entries(plan.services[2]?.spec.env ?? {}), [['constructor', 'x']]);
    assert.ok(plan.notes.some((note) => note.startsWith("'constructor' in Cursor (user) is imported as 'constructor-server' (service names use letters, digits, '.', '_' and '-', and none every JavaScript object has)")));
    assert.deepEqual(plan.skipped.map((skip) => [skip.source.entry, skip.reason]), [
      ['envy', 'muxd could not start it as written: env.__proto__: "__proto__" cannot be a key (it would set a prototype and vanish); remove it'],
    ]);
  });
});
