// Reading and editing each host format in place: entries are classified as
// the host means them, and a rewire changes the transport fields and nothing else.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEdits, valueAt } from '../src/hostDocument.js';
import type { Transport } from '../src/hostDocument.js';
import { parseHostDocument } from '../src/hostFiles.js';
import { hostById } from '../src/hostRegistry.js';
import type { FileFormat, HostFile, HostId } from '../src/hostRegistry.js';
import { EntryKind } from '../src/serverEntry.js';
import type { MuxdMarks } from '../src/serverEntry.js';
import { fixture } from './fakeHome.js';

const PROXY = '/opt/muxd/node_modules/.bin/mux-proxy';

function fileFor(hostId: HostId, format: FileFormat, serversPath: string[]): Pick<HostFile, 'path' | 'serversPath' | 'host' | 'format'> {
  const host = hostById(hostId);
  assert.ok(host);
  return { path: `/fake/${hostId}`, serversPath, host, format };
}

const FILES = {
  'claude_desktop_config.json': fileFor('claude-desktop', 'json', ['mcpServers']),
  'claude.json': fileFor('claude-code', 'json', ['mcpServers']),
  'cursor-mcp.json': fileFor('cursor', 'json', ['mcpServers']),
  'vscode-mcp.json': fileFor('vscode', 'jsonc', ['servers']),
  'windsurf-mcp_config.json': fileFor('windsurf', 'json', ['mcpServers']),
  'codex-config.toml': fileFor('codex', 'toml', ['mcp_servers']),
  'gemini-settings.json': fileFor('gemini', 'jsonc', ['mcpServers']),
  'zed-settings.json': fileFor('zed', 'jsonc', ['context_servers']),
  'cline_mcp_settings.json': fileFor('cline', 'json', ['mcpServers']),
  'roo-mcp.json': fileFor('roo', 'json', ['mcpServers']),
  'kiro-mcp.json': fileFor('kiro', 'json', ['mcpServers']),
  'copilot-mcp-config.json': fileFor('copilot-cli', 'json', ['mcpServers']),
  'junie-mcp.json': fileFor('junie', 'json', ['mcpServers']),
  'opencode.jsonc': fileFor('opencode', 'jsonc', ['mcp']),
  'continue-config.yaml': fileFor('continue', 'yaml', ['mcpServers']),
  'goose-config.yaml': fileFor('goose', 'yaml', ['extensions']),
} as const;

/** Rewires `names` in `text` and checks the result: the new transport reads back, and putting the old entry text back gives the original bytes. */
function rewire(file: Pick<HostFile, 'path' | 'serversPath' | 'host' | 'format'>, text: string, names: string[]): string {
  const doc = parseHostDocument(file, text);
  const target = (name: string): Transport => ({ command: PROXY, args: [name], ...(file.host.stdioType ? { type: file.host.stdioType } : {}) });
  const after = applyEdits(text, names.flatMap((name) => doc.swap(name, target(name))));
  const rewired = parseHostDocument(file, after, { proxyCommand: PROXY });
  let restored = after;
  for (const name of names) {
    const entry = rewired.entries?.find((item) => item.name === name);
    assert.equal(entry?.kind, EntryKind.Muxd, `${name} goes through muxd after the swap`);
    assert.equal(entry?.service, name);
    const transport = rewired.transport(name);
    assert.equal(transport?.command, PROXY);
    assert.deepEqual(transport?.args, [name]);
    if (file.host.stdioType) assert.equal(transport?.type, file.host.stdioType);
    const now = rewired.region(name);
    const before = doc.region(name);
    assert.ok(now && before);
    // Byte-exact outside the entry: the original entry text in its place gives back the original file.
    restored = applyEdits(restored, [{ offset: parseHostDocument(file, restored).region(name)?.offset as number, length: parseHostDocument(file, restored).region(name)?.length as number, content: text.slice(before.offset, before.offset + before.length) }]);
  }
  assert.equal(restored, text, 'only the rewired entries changed');
  return after;
}

describe('reading host files', () => {
  test('classifies every fixture entry as its host means it', () => {
    const kinds = (name: keyof typeof FILES) =>
      Object.fromEntries((parseHostDocument(FILES[name], fixture(name)).entries ?? []).map((entry) => [entry.name, entry.kind]));
    assert.deepEqual(kinds('claude_desktop_config.json'), { memory: 'stdio', filesystem: 'stdio', sqlite: 'stdio' });
    assert.deepEqual(kinds('claude.json'), { memory: 'stdio', github: 'stdio', linear: 'remote' });
    assert.deepEqual(kinds('cursor-mcp.json'), { memory: 'stdio', context7: 'remote', puppeteer: 'stdio', 'local-tool': 'stdio' });
    assert.deepEqual(kinds('vscode-mcp.json'), { github: 'stdio', memory: 'stdio', fetch: 'stdio', 'remote-docs': 'remote' });
    assert.deepEqual(kinds('windsurf-mcp_config.json'), { 'sequential-thinking': 'stdio', 'old-server': 'disabled', figma: 'remote' });
    assert.deepEqual(kinds('codex-config.toml'), { memory: 'stdio', notion: 'remote', time: 'disabled', sqlite: 'stdio' });
    assert.deepEqual(kinds('gemini-settings.json'), { memory: 'stdio', everything: 'stdio', deepwiki: 'remote' });
    assert.deepEqual(kinds('zed-settings.json'), { 'postgres-context-server': 'extension', memory: 'stdio', 'legacy-fetch': 'stdio', remote: 'remote' });
    assert.deepEqual(kinds('cline_mcp_settings.json'), { memory: 'stdio', fetch: 'stdio', 'old-server': 'disabled', search: 'remote' });
    assert.deepEqual(kinds('roo-mcp.json'), { sqlite: 'stdio', docs: 'remote' });
    assert.deepEqual(kinds('kiro-mcp.json'), { fetch: 'stdio', 'cloud-docs': 'remote' });
    assert.deepEqual(kinds('copilot-mcp-config.json'), { memory: 'stdio', 'sequential-thinking': 'stdio', tracker: 'remote' });
    assert.deepEqual(kinds('junie-mcp.json'), { time: 'stdio', remote: 'remote' });
  });

  test('specs: cmd /c unwrapped, Zed nested commands read, host variables kept as text, envFile noted', () => {
    const entry = (name: keyof typeof FILES, entryName: string) => parseHostDocument(FILES[name], fixture(name)).entries?.find((item) => item.name === entryName);
    assert.deepEqual(entry('claude_desktop_config.json', 'filesystem')?.spec, {
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-filesystem', 'C:\\Users\\me\\Documents'],
      env: {},
    });
    assert.deepEqual(entry('zed-settings.json', 'legacy-fetch')?.spec, { command: 'uvx', args: ['mcp-server-fetch'], env: {} });
    assert.equal(entry('vscode-mcp.json', 'github')?.spec?.env['GITHUB_PERSONAL_ACCESS_TOKEN'], '${input:github_token}');
    assert.deepEqual(entry('cursor-mcp.json', 'puppeteer')?.hostOnly, ['envFile']);
    assert.deepEqual(entry('codex-config.toml', 'sqlite')?.spec, { command: 'uvx', args: [], env: {}, cwd: '/home/me/data' });
    assert.deepEqual(entry('codex-config.toml', 'memory')?.spec?.env, { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' });
  });

  test("each host's own HTTP spelling at muxd's URL is a muxd entry; Junie's too", () => {
    const base = 'http://127.0.0.1:7777';
    const kind = (name: keyof typeof FILES, entry: Record<string, unknown>) => {
      const found = parseHostDocument(FILES[name], JSON.stringify({ mcpServers: { a: entry } }), { httpUrls: [base] }).entries?.[0];
      return [found?.kind, found?.service, found?.via];
    };
    assert.deepEqual(kind('cline_mcp_settings.json', { type: 'streamableHttp', url: `${base}/mcp/m`, headers: {} }), ['muxd', 'm', 'http']);
    assert.deepEqual(kind('roo-mcp.json', { type: 'streamable-http', url: `${base}/mcp/m` }), ['muxd', 'm', 'http']);
    assert.deepEqual(kind('kiro-mcp.json', { url: `${base}/mcp/m` }), ['muxd', 'm', 'http']);
    assert.deepEqual(kind('copilot-mcp-config.json', { type: 'http', url: `${base}/mcp/m`, tools: ['*'] }), ['muxd', 'm', 'http']);
    assert.deepEqual(kind('junie-mcp.json', { url: `${base}/mcp/m` }), ['muxd', 'm', 'http']);
    assert.deepEqual(kind('copilot-mcp-config.json', { type: 'local', command: '/x/bin/mux-proxy', args: ['m'], tools: ['*'] }), ['muxd', 'm', 'stdio']);
  });

  test("entries at muxd's HTTP URL are muxd entries, with the service from /mcp/<service>; other URLs stay remote", () => {
    const text = (url: string) => `{"mcpServers": {"a": {"type": "http", "url": ${JSON.stringify(url)}, "headers": {"Authorization": "Bearer x"}}}}`;
    const kind = (url: string, httpUrls?: string[]) => {
      const entry = parseHostDocument(FILES['claude.json'], text(url), httpUrls ? { httpUrls } : {}).entries?.[0];
      return [entry?.kind, entry?.service, entry?.via];
    };
    const base = 'http://127.0.0.1:7777';
    assert.deepEqual(kind(`${base}/mcp/memory`, [base]), ['muxd', 'memory', 'http']);
    assert.deepEqual(kind(`${base}/mcp/my%20svc/`, [base]), ['muxd', 'my svc', 'http']);
    assert.deepEqual(kind(`${base}/mcp/memory`), ['remote', undefined, undefined], 'no known URL: a remote server');
    assert.deepEqual(kind('http://127.0.0.1:7778/mcp/memory', [base]), ['remote', undefined, undefined], 'another port');
    assert.deepEqual(kind(`${base}/other/memory`, [base]), ['remote', undefined, undefined]);
    // Gemini: `httpUrl` is Streamable HTTP; its `url`, SSE by the docs, tries Streamable HTTP first and reaches muxd too.
    const gemini = (key: string) => parseHostDocument(FILES['gemini-settings.json'], `{"mcpServers": {"a": {${JSON.stringify(key)}: "${base}/mcp/m"}}}`, { httpUrls: [base] }).entries?.[0]?.kind;
    assert.deepEqual([gemini('httpUrl'), gemini('url')], ['muxd', 'muxd']);
    // Codex: `url` in TOML.
    const codex = parseHostDocument(FILES['codex-config.toml'], `[mcp_servers.a]\nurl = "${base}/mcp/m"\nhttp_headers = { Authorization = "Bearer x" }\n`, { httpUrls: [base] });
    assert.deepEqual([codex.entries?.[0]?.kind, codex.entries?.[0]?.service], ['muxd', 'm']);
  });

  test("an entry at muxd's front in any host's HTTP spelling is muxd's, and so is one at a loopback address sending muxd's token", () => {
    const base = 'http://127.0.0.1:7777';
    const token = 'q8Xv1m3Zr7YtK2pW9sLbN4cD6fGhJ0aE5uRiOyTnMwQ';
    const read = (name: keyof typeof FILES, entry: Record<string, unknown>, marks: MuxdMarks = { httpUrls: [base] }) => {
      const found = parseHostDocument(FILES[name], JSON.stringify({ [FILES[name].serversPath[0] as string]: { a: entry } }), marks).entries?.[0];
      return [found?.kind, found?.service, found?.via, found?.urlKey];
    };
    // Gemini CLI, as its users write it: "type": "http" with url, or httpUrl; muxd's token in the headers.
    const bearer = { Authorization: `Bearer ${token}` };
    assert.deepEqual(read('gemini-settings.json', { type: 'http', url: `${base}/mcp/memory`, headers: bearer }), ['muxd', 'memory', 'http', 'url']);
    assert.deepEqual(read('gemini-settings.json', { httpUrl: `${base}/mcp/memory`, headers: bearer, trust: true }), ['muxd', 'memory', 'http', 'httpUrl']);
    // Another host's spelling in a host's file still points at muxd.
    for (const key of ['url', 'httpUrl', 'serverUrl', 'uri']) {
      for (const name of ['claude_desktop_config.json', 'cursor-mcp.json', 'windsurf-mcp_config.json', 'kiro-mcp.json', 'junie-mcp.json', 'cline_mcp_settings.json'] as const) {
        assert.deepEqual(read(name, { [key]: `${base}/mcp/m` }), ['muxd', 'm', 'http', key], `${name}: ${key}`);
      }
    }
    // No known base URL (muxd down, an ephemeral port, localhost for 127.0.0.1): muxd's token tells.
    const byToken = { httpToken: token };
    assert.deepEqual(read('gemini-settings.json', { type: 'http', url: 'http://localhost:40123/mcp/memory', headers: bearer }, byToken), ['muxd', 'memory', 'http', 'url']);
    assert.deepEqual(read('claude.json', { type: 'http', url: 'http://127.0.0.1:40123/mcp/m', headers: { authorization: `bearer ${token}` } }, byToken), ['muxd', 'm', 'http', 'url']);
    const codex = parseHostDocument(FILES['codex-config.toml'], `[mcp_servers.a]\nurl = "http://[::1]:40123/mcp/m"\nhttp_headers = { Authorization = "Bearer ${token}" }\n`, byToken).entries?.[0];
    assert.deepEqual([codex?.kind, codex?.service], ['muxd', 'm']);
    assert.deepEqual(read('claude.json', { type: 'http', url: 'http://localhost:40123/mcp/m', headers: { Authorization: 'Bearer other' } }, byToken)[0], 'remote', 'another token');
    assert.deepEqual(read('claude.json', { type: 'http', url: 'https://mcp.example.com/mcp/m', headers: bearer }, byToken)[0], 'remote', 'not a loopback address');
    assert.deepEqual(read('claude.json', { type: 'http', url: 'http://localhost:40123/other', headers: bearer }, byToken)[0], 'remote', 'not /mcp/<service>');
  });

  test('entries already through mux-proxy are muxd entries, by path or by name', () => {
    const file = FILES['claude.json'];
    const doc = parseHostDocument(file, '{"mcpServers": {"a": {"command": "/x/bin/mux-proxy", "args": ["svc"]}, "b": {"command": "node", "args": ["/y/mux-proxy.js", "other"]}}}');
    assert.deepEqual(
      doc.entries?.map((entry) => [entry.kind, entry.service]),
      [
        ['muxd', 'svc'],
        ['muxd', 'other'],
      ],
    );
  });

  test('a syntax error names the file and the line', () => {
    assert.throws(() => parseHostDocument(FILES['claude.json'], '{\n  "mcpServers": {\n    "a": }\n}'), /\/fake\/claude-code: cannot parse: .* at line 3/);
    assert.throws(() => parseHostDocument(FILES['codex-config.toml'], '[mcp_servers.a]\ncommand = \n'), /\/fake\/codex: cannot parse/);
  });

  test('a file without the servers map has no entries (not an error)', () => {
    assert.equal(parseHostDocument(FILES['zed-settings.json'], '// only comments\n{ "theme": "One" }\n').entries, undefined);
    assert.equal(parseHostDocument(FILES['codex-config.toml'], 'model = "o3"\n').entries, undefined);
    assert.equal(parseHostDocument(FILES['claude.json'], '').entries, undefined);
  });
});

describe('rewiring each host format in place', () => {
  test('Claude Desktop: command/args swapped, no type written, preferences untouched', () => {
    const text = fixture('claude_desktop_config.json');
    const after = rewire(FILES['claude_desktop_config.json'], text, ['memory', 'filesystem', 'sqlite']);
    assert.ok(!after.includes('"type"'), 'Claude Desktop has no type field: stdio is implied');
    assert.ok(after.includes('"args": ["memory"],'), 'a one-line args stays on one line');
    assert.ok(after.includes(`"args": [\n        "sqlite"\n      ]`), 'a multi-line args keeps its layout');
    assert.ok(after.endsWith('  "preferences": {\n    "quickEntryShortcut": "off",\n    "menuBarEnabled": false\n  }\n}\n'));
  });

  test('Claude Code: sibling keys (projects, oauthAccount) and extra fields (timeout, alwaysLoad) kept', () => {
    const text = fixture('claude.json');
    const after = rewire(FILES['claude.json'], text, ['memory', 'github']);
    assert.ok(after.includes('"timeout": 30000,\n      "alwaysLoad": true'));
    assert.ok(after.includes('"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN:-}"'), 'host variables stay unresolved');
    const local = fileFor('claude-code', 'json', ['projects', '/home/me/work/app', 'mcpServers']);
    const both = rewire(local, after, ['everything']);
    assert.ok(both.includes('"hasTrustDialogAccepted": true'));
  });

  test('Cursor: BOM and CRLF kept; a one-line entry gets args inline', () => {
    const text = fixture('cursor-mcp.json');
    const after = rewire(FILES['cursor-mcp.json'], text, ['memory', 'local-tool']);
    assert.ok(after.startsWith('\uFEFF{\r\n'));
    assert.ok(!/[^\r]\n/.test(after), 'every line still ends in CRLF');
    assert.ok(after.includes(`"local-tool": {"command": "${PROXY}", "args": ["local-tool"]}`));
  });

  test('VS Code: tabs, comments and trailing commas kept; type written where missing; inputs untouched', () => {
    const text = fixture('vscode-mcp.json');
    const after = rewire(FILES['vscode-mcp.json'], text, ['github', 'memory', 'fetch']);
    assert.ok(after.includes(`\t\t/* the memory server, shared with Claude */\n\t\t"memory": {\n\t\t\t"type": "stdio",\n\t\t\t"command": "${PROXY}", // no type: VS Code guesses stdio\n\t\t\t"args": ["memory"],\n`));
    assert.ok(after.includes(`\t\t\t"args": [\n\t\t\t\t"github",\n\t\t\t],\n`), 'a multi-line args keeps its indentation and trailing comma');
    assert.ok(after.includes('"${input:github_token}"'));
    assert.equal(after.slice(0, after.indexOf('"servers"')), text.slice(0, text.indexOf('"servers"')), 'comments and inputs before the servers are untouched');
  });

  test('Windsurf: disabled and autoApprove kept', () => {
    const after = rewire(FILES['windsurf-mcp_config.json'], fixture('windsurf-mcp_config.json'), ['sequential-thinking']);
    assert.ok(after.includes(`"args": ["sequential-thinking"],\n      "disabled": false,\n      "autoApprove": ["sequentialthinking"]`));
  });

  test('Codex: BOM, CRLF, comments and quoting of other lines kept; args added on its own line when missing', () => {
    const text = fixture('codex-config.toml');
    const after = rewire(FILES['codex-config.toml'], text, ['memory', 'sqlite']);
    assert.ok(after.startsWith('\uFEFF# Codex configuration\r\n'));
    assert.ok(!/[^\r]\n/.test(after), 'every line still ends in CRLF');
    assert.ok(after.includes(`command = "${PROXY}"  # from npm\r\nargs = [\r\n  "memory",\r\n]\r\nstartup_timeout_sec = 20`));
    assert.ok(after.includes(`[mcp_servers.sqlite]\r\ncommand = "${PROXY}" # no args yet\r\nargs = ["sqlite"]\r\ncwd = "/home/me/data"`));
    assert.ok(after.includes('[mcp_servers.memory.env]\r\nMEMORY_FILE_PATH = "/home/me/.memory.jsonl"'));
  });

  test('Codex: inline tables are edited in place; dotted keys are refused with a reason', () => {
    const file = FILES['codex-config.toml'];
    const inline = '[mcp_servers]\nfs = { command = "npx", args = ["-y", "fs"], env = { A = "1" } } # inline\n';
    assert.equal(rewire(file, inline, ['fs']), `[mcp_servers]\nfs = { command = "${PROXY}", args = ["fs"], env = { A = "1" } } # inline\n`);
    const bare = 'mcp_servers.x = { command = "uvx" }\n';
    assert.equal(rewire(file, bare, ['x']), `mcp_servers.x = { command = "${PROXY}", args = ["x"] }\n`);
    const dotted = 'mcp_servers.fs.command = "npx"\nmcp_servers.fs.args = ["fs"]\n';
    assert.throws(() => parseHostDocument(file, dotted).swap('fs', { command: PROXY, args: ['fs'] }), /dotted keys/);
  });

  test('Gemini CLI: trust, includeTools, cwd and timeout kept', () => {
    const after = rewire(FILES['gemini-settings.json'], fixture('gemini-settings.json'), ['memory', 'everything']);
    assert.ok(after.includes('"timeout": 30000,\n      "trust": false,\n      "includeTools": ["read_graph", "search_nodes"]'));
    assert.ok(after.includes(`"args": ["everything"],\n      "cwd": "/home/me"`));
  });

  test('Zed: flat and nested command forms; extension entries and the rest untouched', () => {
    const text = fixture('zed-settings.json');
    const after = rewire(FILES['zed-settings.json'], text, ['memory', 'legacy-fetch']);
    assert.ok(after.includes(`"command": {\n        "path": "${PROXY}",\n        "args": ["legacy-fetch"],\n        "env": {}\n      },\n      "settings": {}`));
    assert.ok(after.includes('"source": "custom",\n      "command"'));
    assert.ok(after.startsWith('// Zed settings\n'));
    assert.ok(after.includes('"database_url": "postgresql://me:hunter2@localhost/db"'));
  });

  test('JSON insertion layouts: last property with and without comments and trailing commas', () => {
    const file = FILES['vscode-mcp.json'];
    const cases: Array<[string, string]> = [
      ['{"servers": {"a": {"command": "x"}}}', `{"servers": {"a": {"type": "stdio", "command": "${PROXY}", "args": ["a"]}}}`],
      ['{\n  "servers": {\n    "a": {\n      "command": "x" // why\n    }\n  }\n}', `{\n  "servers": {\n    "a": {\n      "type": "stdio",\n      "command": "${PROXY}", // why\n      "args": ["a"]\n    }\n  }\n}`],
      ['{\n\t"servers": {\n\t\t"a": {\n\t\t\t"command": "x",\n\t\t},\n\t},\n}', `{\n\t"servers": {\n\t\t"a": {\n\t\t\t"type": "stdio",\n\t\t\t"command": "${PROXY}",\n\t\t\t"args": ["a"],\n\t\t},\n\t},\n}`],
      ['{"servers": {"a": {"command": "x", "env": {}}}}', `{"servers": {"a": {"type": "stdio", "command": "${PROXY}", "args": ["a"], "env": {}}}}`],
    ];
    for (const [text, expected] of cases) assert.equal(rewire(file, text, ['a']), expected);
  });

  test("setMapEntries with swap: env keys added where each format keeps them, every other byte as it was", () => {
    const apply = (file: Pick<HostFile, 'path' | 'serversPath' | 'host' | 'format'>, text: string, entries: Array<[string, string]> = [['MUXD_HOME', '/m']], swapToo = true) => {
      const doc = parseHostDocument(file, text);
      const swap = swapToo ? doc.swap('a', { command: PROXY, args: ['a'] }) : [];
      return applyEdits(text, [...swap, ...doc.setMapEntries('a', file.host.stdioFields?.env ?? 'env', entries)]);
    };
    const json = FILES['claude_desktop_config.json'];
    const cases: Array<[string, string]> = [
      // No env: after the args, after the command when swap adds the args, before a last command.
      ['{"mcpServers": {"a": {"command": "x", "args": ["y"]}}}', `{"mcpServers": {"a": {"command": "${PROXY}", "args": ["a"], "env": {"MUXD_HOME": "/m"}}}}`],
      ['{"mcpServers": {"a": {"command": "x", "disabled": false}}}', `{"mcpServers": {"a": {"command": "${PROXY}", "args": ["a"], "env": {"MUXD_HOME": "/m"}, "disabled": false}}}`],
      ['{\n  "mcpServers": {\n    "a": {\n      "command": "x" // why\n    }\n  }\n}', `{\n  "mcpServers": {\n    "a": {\n      "env": {"MUXD_HOME": "/m"},\n      "command": "${PROXY}", // why\n      "args": ["a"]\n    }\n  }\n}`],
      // An env: a key after its last one (trailing comma kept), a value replaced, an empty one filled.
      ['{\n\t"mcpServers": {\n\t\t"a": {\n\t\t\t"command": "x",\n\t\t\t"env": {\n\t\t\t\t"K": "v",\n\t\t\t},\n\t\t},\n\t},\n}', `{\n\t"mcpServers": {\n\t\t"a": {\n\t\t\t"command": "${PROXY}",\n\t\t\t"args": ["a"],\n\t\t\t"env": {\n\t\t\t\t"K": "v",\n\t\t\t\t"MUXD_HOME": "/m",\n\t\t\t},\n\t\t},\n\t},\n}`],
      ['{"mcpServers": {"a": {"command": "x", "args": [], "env": {"MUXD_HOME": "/old", "K": "v"}}}}', `{"mcpServers": {"a": {"command": "${PROXY}", "args": ["a"], "env": {"MUXD_HOME": "/m", "K": "v"}}}}`],
      ['{"mcpServers": {"a": {"command": "x", "env": {}}}}', `{"mcpServers": {"a": {"command": "${PROXY}", "args": ["a"], "env": {"MUXD_HOME": "/m"}}}}`],
    ];
    for (const [text, expected] of cases) assert.equal(apply(json, text), expected);
    // Zed's nested command keeps its env inside it.
    const zed = `{"context_servers": {"a": {"command": {"path": "x", "args": [], "env": {}}, "settings": {}}}}`;
    assert.equal(apply(FILES['zed-settings.json'], zed), `{"context_servers": {"a": {"command": {"path": "${PROXY}", "args": ["a"], "env": {"MUXD_HOME": "/m"}}, "settings": {}}}}`);

    const toml = FILES['codex-config.toml'];
    const tomlCases: Array<[string, string]> = [
      ['[mcp_servers.a]\ncommand = "x"\n\n[mcp_servers.a.env]\nK = "v"\n\n[other]\n', `[mcp_servers.a]\ncommand = "${PROXY}"\nargs = ["a"]\n\n[mcp_servers.a.env]\nK = "v"\nMUXD_HOME = "/m"\n\n[other]\n`],
      ['[mcp_servers.a]\ncommand = "x"\nenv = { K = "v" }\n', `[mcp_servers.a]\ncommand = "${PROXY}"\nargs = ["a"]\nenv = { K = "v", MUXD_HOME = "/m" }\n`],
      ['[mcp_servers.a]\ncommand = "x"\nenv = {}\n', `[mcp_servers.a]\ncommand = "${PROXY}"\nargs = ["a"]\nenv = { MUXD_HOME = "/m" }\n`],
      ['[mcp_servers.a]\ncommand = "x"\nenv.K = "v"\n', `[mcp_servers.a]\ncommand = "${PROXY}"\nargs = ["a"]\nenv.K = "v"\nenv.MUXD_HOME = "/m"\n`],
      ['[mcp_servers.a]\ncommand = "x"\n', `[mcp_servers.a]\ncommand = "${PROXY}"\nargs = ["a"]\nenv = { MUXD_HOME = "/m" }\n`],
      ['[mcp_servers]\na = { command = "x" }\n', `[mcp_servers]\na = { command = "${PROXY}", args = ["a"], env = { MUXD_HOME = "/m" } }\n`],
      ['[mcp_servers.a]\ncommand = "x"\n\n[mcp_servers.a.env]\nMUXD_HOME = "/old"\n', `[mcp_servers.a]\ncommand = "${PROXY}"\nargs = ["a"]\n\n[mcp_servers.a.env]\nMUXD_HOME = "/m"\n`],
    ];
    for (const [text, expected] of tomlCases) assert.equal(apply(toml, text), expected);
    assert.throws(() => apply(toml, '[mcp_servers.a]\ncommand = "x"\n\n[other]\nk = 1\n\n[mcp_servers.a.env]\nK = "v"\n'), /is apart from \[mcp_servers\.a\]; move it right under that table/);

    const goose = FILES['goose-config.yaml'];
    const yamlCases: Array<[string, string]> = [
      ['extensions:\n  a:\n    cmd: x\n    envs:\n      K: v # mine\n    type: stdio\n', `extensions:\n  a:\n    cmd: ${PROXY}\n    args: [a]\n    envs:\n      K: v # mine\n      MUXD_HOME: /m\n    type: stdio\n`],
      ['extensions:\n  a:\n    cmd: x\n    envs: {}\n    type: stdio\n', `extensions:\n  a:\n    cmd: ${PROXY}\n    args: [a]\n    envs:\n      MUXD_HOME: /m\n    type: stdio\n`],
      ['extensions:\n  a:\n    cmd: x\n    type: stdio\n', `extensions:\n  a:\n    cmd: ${PROXY}\n    args: [a]\n    type: stdio\n    envs:\n      MUXD_HOME: /m\n`],
      ['extensions:\n  a:\n    cmd: x\n    envs:\n      MUXD_HOME: /old\n', `extensions:\n  a:\n    cmd: ${PROXY}\n    args: [a]\n    envs:\n      MUXD_HOME: /m\n`],
    ];
    for (const [text, expected] of yamlCases) assert.equal(apply(goose, text), expected);
  });

  test('an entry already pointing at the proxy needs no edit', () => {
    const file = FILES['claude_desktop_config.json'];
    const text = `{"mcpServers": {"a": {"command": "${PROXY}", "args": ["a"]}}}`;
    assert.deepEqual(parseHostDocument(file, text).swap('a', { command: PROXY, args: ['a'] }), []);
  });
});

describe('opencode, Continue and Goose', () => {
  const entriesOf = (name: keyof typeof FILES, text = fixture(name)) => parseHostDocument(FILES[name], text).entries ?? [];

  test("classifies their entries: opencode's one command list, Continue's named list, Goose's builtins as extensions", () => {
    const kinds = (name: keyof typeof FILES) => Object.fromEntries(entriesOf(name).map((entry) => [entry.name, entry.kind]));
    assert.deepEqual(kinds('opencode.jsonc'), { memory: 'stdio', fetch: 'stdio', github: 'stdio', 'old-server': 'disabled', docs: 'remote' });
    assert.deepEqual(kinds('continue-config.yaml'), { memory: 'stdio', SQLite: 'stdio', Docs: 'remote' });
    assert.deepEqual(kinds('goose-config.yaml'), { developer: 'extension', memory: 'stdio', time: 'stdio', computercontroller: 'extension', todo: 'extension', docs: 'remote' });
    const specs = (name: keyof typeof FILES) => Object.fromEntries(entriesOf(name).filter((entry) => entry.spec).map((entry) => [entry.name, entry.spec]));
    assert.deepEqual(specs('opencode.jsonc')['memory'], { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' } });
    assert.deepEqual(specs('opencode.jsonc')['github']?.env, { GITHUB_PERSONAL_ACCESS_TOKEN: '{env:GITHUB_TOKEN}' }, 'an opencode variable is kept as written');
    assert.deepEqual(specs('continue-config.yaml')['SQLite'], { command: 'uvx', args: ['mcp-server-sqlite', '--db-path', '/home/me/test.db'], env: {} });
    assert.deepEqual(specs('goose-config.yaml')['memory'], { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: { MEMORY_FILE_PATH: '/home/me/.memory.jsonl' } });
    assert.equal(entriesOf('goose-config.yaml').find((entry) => entry.name === 'developer')?.detail, 'a builtin extension (the host manages it)');
    assert.equal(entriesOf('goose-config.yaml').find((entry) => entry.name === 'todo')?.detail, 'a platform extension (the host manages it)');
  });

  test("Continue: an item without a name, or a second one with the same name, is not an entry muxd touches", () => {
    const text = 'mcpServers:\n  - command: a\n  - name: x\n    command: b\n  - name: x\n    command: c\n';
    assert.deepEqual(entriesOf('continue-config.yaml', text).map((entry) => `${entry.name}:${entry.kind}:${entry.detail ?? ''}`), ['#1:invalid:no name', 'x:stdio:', '#3:invalid:a second entry named "x"']);
  });

  test("each one's own HTTP spelling at muxd's URL is a muxd entry", () => {
    const marks = { httpUrls: ['http://127.0.0.1:7777'] };
    const opencode = parseHostDocument(FILES['opencode.jsonc'], '{"mcp": {"m": {"type": "remote", "url": "http://127.0.0.1:7777/mcp/memory"}}}', marks);
    assert.deepEqual(opencode.entries?.map((entry) => [entry.kind, entry.service, entry.via]), [['muxd', 'memory', 'http']]);
    const goose = parseHostDocument(FILES['goose-config.yaml'], 'extensions:\n  m:\n    type: streamable_http\n    uri: http://127.0.0.1:7777/mcp/memory\n', marks);
    assert.deepEqual(goose.entries?.map((entry) => [entry.kind, entry.service, entry.via]), [['muxd', 'memory', 'http']]);
  });

  test('opencode: the command list becomes [proxy, service], keeping its lines; comments and trailing commas kept', () => {
    const after = rewire(FILES['opencode.jsonc'], fixture('opencode.jsonc'), ['memory', 'fetch']);
    assert.ok(after.includes(`"command": ["${PROXY}", "memory"],\n      "environment": {\n        "MEMORY_FILE_PATH": "/home/me/.memory.jsonl",\n      },\n      "enabled": true,`), after);
    assert.ok(after.includes(`"command": [\n        "${PROXY}",\n        "fetch",\n      ],\n      "timeout": 10000, /* ms */`), after);
    assert.ok(!after.includes('"args"'), 'opencode has no args field');
  });

  test('Continue: the named item gets command and args, a block list stays a block list; comments kept', () => {
    const after = rewire(FILES['continue-config.yaml'], fixture('continue-config.yaml'), ['memory', 'SQLite']);
    assert.ok(after.includes(`  - name: memory\n    command: ${PROXY}\n    args:\n      - memory\n    env:\n      MEMORY_FILE_PATH: /home/me/.memory.jsonl   # the file the other hosts use\n`), after);
    assert.ok(after.includes(`  - name: SQLite\n    command: ${PROXY}\n    args: [SQLite]\n    connectionTimeout: 20000 # ms\n`), after);
  });

  test('Goose: cmd and args swapped, type, envs, timeout, description kept; builtins and the rest of the file untouched', () => {
    const text = fixture('goose-config.yaml');
    const after = rewire(FILES['goose-config.yaml'], text, ['memory', 'time']);
    assert.ok(after.includes(`  memory:\n    args:\n    - memory\n    bundled: null\n    cmd: ${PROXY}\n    description: Knowledge graph memory\n`), after);
    assert.ok(after.includes(`    args: [time]\n    cmd: ${PROXY}\n    enabled: true\n    envs: {}\n`), after);
    assert.ok(after.startsWith(text.slice(0, text.indexOf('  # Added by hand'))), 'the builtin before it is byte for byte');
  });

  test('YAML: a missing field is added on its own line; flow-style entries and anchors are refused with how to fix them', () => {
    const file = FILES['goose-config.yaml'];
    const text = 'extensions:\n  a:\n    type: stdio\n    cmd: old   # the program\n    timeout: 300\n';
    const doc = parseHostDocument(file, text);
    const after = applyEdits(text, doc.swap('a', { command: PROXY, args: ['a'], type: 'stdio' }));
    assert.equal(after, `extensions:\n  a:\n    type: stdio\n    cmd: ${PROXY}   # the program\n    args: [a]\n    timeout: 300\n`);
    const flow = parseHostDocument(file, 'extensions:\n  a: {type: stdio, cmd: old}\n');
    assert.throws(() => flow.swap('a', { command: PROXY, args: ['a'] }), /flow style/);
    const anchored = parseHostDocument(file, 'base: &b\n  cmd: old\nextensions:\n  a:\n    type: stdio\n    cmd: x\n    envs: *b\n');
    assert.throws(() => anchored.swap('a', { command: PROXY, args: ['a'] }), /anchors, aliases or merge keys/);
  });

  test('YAML: a syntax error names the file and the line', () => {
    assert.throws(() => parseHostDocument(FILES['goose-config.yaml'], 'extensions:\n  a: 1\n  a: 2\nother: 1\n'), /^Error: \/fake\/goose: cannot parse: Map keys must be unique at line 3/);
  });
});

describe('valueAt', () => {
  test('reads own keys only: an entry named constructor or toString is not found in Object.prototype', () => {
    const value = { mcpServers: { memory: { command: 'x' } } };
    assert.deepEqual(valueAt(value, ['mcpServers', 'memory']), { command: 'x' });
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) assert.equal(valueAt(value, ['mcpServers', name]), undefined, name);
    assert.equal(valueAt({ mcpServers: JSON.parse('{"__proto__": {"command": "y"}}') as object }, ['mcpServers', '__proto__', 'command']), 'y');
  });
});
