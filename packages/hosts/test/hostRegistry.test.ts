// Where each host keeps its config, computed from an injected environment.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostEnv } from '../src/hostEnv.js';
import { hostEnvFromProcess } from '../src/hostEnv.js';
import { HOSTS, describeFile, findHostFiles, hostById } from '../src/hostRegistry.js';
import { parseHostDocument } from '../src/hostFiles.js';
import { planImport } from '../src/importPlan.js';
import { createFakeHome } from './fakeHome.js';

function paths(env: HostEnv): Record<string, string[]> {
  return Object.fromEntries(HOSTS.map((host) => [host.id, host.locate(env).map((location) => `${location.scope}${location.variant ? `(${location.variant})` : ''} ${location.path}`)]));
}

describe('host config locations', () => {
  test('Linux: XDG config home, ~ dotfiles, the project directory', () => {
    const located = paths({ home: '/home/me', platform: 'linux', projectDir: '/work/app', XDG_CONFIG_HOME: '/xdg' });
    assert.deepEqual(located['claude-code'], ['user /home/me/.claude.json', 'local /home/me/.claude.json', 'project /work/app/.mcp.json']);
    assert.deepEqual(located['claude-desktop'], ['user /xdg/Claude/claude_desktop_config.json']);
    assert.deepEqual(located['cursor'], ['user /home/me/.cursor/mcp.json', 'project /work/app/.cursor/mcp.json']);
    assert.deepEqual(located['vscode'], ['user /xdg/Code/User/mcp.json', 'user(Insiders) /xdg/Code - Insiders/User/mcp.json', 'project /work/app/.vscode/mcp.json']);
    assert.deepEqual(located['windsurf'], ['user /home/me/.codeium/windsurf/mcp_config.json', 'user(Next) /home/me/.codeium/windsurf-next/mcp_config.json']);
    assert.deepEqual(located['codex'], ['user /home/me/.codex/config.toml', 'project /work/app/.codex/config.toml']);
    assert.deepEqual(located['gemini'], ['user /home/me/.gemini/settings.json', 'project /work/app/.gemini/settings.json']);
    assert.deepEqual(located['zed'], ['user /xdg/zed/settings.json', 'project /work/app/.zed/settings.json']);
    assert.deepEqual(located['cline'], [
      'user /xdg/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
      'user(Insiders) /xdg/Code - Insiders/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
      'user(Cursor) /xdg/Cursor/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
      'user(Windsurf) /xdg/Windsurf/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
      'user(VSCodium) /xdg/VSCodium/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
    ]);
    assert.deepEqual(located['roo'], [
      'user /xdg/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json',
      'user(Insiders) /xdg/Code - Insiders/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json',
      'user(Cursor) /xdg/Cursor/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json',
      'user(Windsurf) /xdg/Windsurf/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json',
      'user(VSCodium) /xdg/VSCodium/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json',
      'project /work/app/.roo/mcp.json',
    ]);
    assert.deepEqual(located['kiro'], ['user /home/me/.kiro/settings/mcp.json', 'project /work/app/.kiro/settings/mcp.json']);
    assert.deepEqual(located['copilot-cli'], ['user /home/me/.copilot/mcp-config.json', 'project /work/app/.github/mcp.json']);
    assert.deepEqual(located['junie'], ['user /home/me/.junie/mcp/mcp.json', 'project /work/app/.junie/mcp/mcp.json']);
    assert.deepEqual(located['opencode'], ['user /xdg/opencode/opencode.json', 'user /xdg/opencode/opencode.jsonc', 'project /work/app/opencode.json', 'project /work/app/opencode.jsonc']);
    assert.deepEqual(located['continue'], ['user /home/me/.continue/config.yaml']);
    assert.deepEqual(located['goose'], ['user /xdg/goose/config.yaml']);
  });

  test('opencode, Continue and Goose: their formats and where the servers are', () => {
    const env: HostEnv = { home: '/home/me', platform: 'linux', projectDir: '/work/app' };
    const shape = (id: string) => hostById(id)?.locate(env).map((location) => `${location.format} ${location.serversPath.join('.')} ${location.path}`);
    assert.deepEqual(shape('opencode'), [
      'jsonc mcp /home/me/.config/opencode/opencode.json',
      'jsonc mcp /home/me/.config/opencode/opencode.jsonc',
      'jsonc mcp /work/app/opencode.json',
      'jsonc mcp /work/app/opencode.jsonc',
    ]);
    assert.deepEqual(shape('continue'), ['yaml mcpServers /home/me/.continue/config.yaml']);
    assert.deepEqual(shape('goose'), ['yaml extensions /home/me/.config/goose/config.yaml']);
  });

  test("Copilot CLI's .mcp.json is Claude Code's project file: only Claude Code lists it", () => {
    const env: HostEnv = { home: '/home/me', platform: 'linux', projectDir: '/work/app' };
    const owners = HOSTS.filter((host) => host.locate(env).some((location) => location.path === '/work/app/.mcp.json')).map((host) => host.id);
    assert.deepEqual(owners, ['claude-code']);
  });

  test('CLAUDE_CONFIG_DIR and CODEX_HOME move those files; no XDG means ~/.config', () => {
    const located = paths({ home: '/home/me', platform: 'linux', projectDir: '/p', CLAUDE_CONFIG_DIR: '/cc', CODEX_HOME: '/cx' });
    assert.equal(located['claude-code']?.[0], 'user /cc/.claude.json');
    assert.equal(located['codex']?.[0], 'user /cx/config.toml');
    assert.equal(located['zed']?.[0], 'user /home/me/.config/zed/settings.json');
    assert.equal(located['claude-desktop']?.[0], 'user /home/me/.config/Claude/claude_desktop_config.json');
  });

  test('macOS: Application Support for Claude Desktop and VS Code; Zed stays in ~/.config', () => {
    const located = paths({ home: '/Users/me', platform: 'darwin', projectDir: '/p' });
    assert.equal(located['claude-desktop']?.[0], 'user /Users/me/Library/Application Support/Claude/claude_desktop_config.json');
    assert.equal(located['vscode']?.[0], 'user /Users/me/Library/Application Support/Code/User/mcp.json');
    assert.equal(located['zed']?.[0], 'user /Users/me/.config/zed/settings.json');
    assert.deepEqual(located['cline'], [
      'user /Users/me/Library/Application Support/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
      'user(Insiders) /Users/me/Library/Application Support/Code - Insiders/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
      'user(Cursor) /Users/me/Library/Application Support/Cursor/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
      'user(Windsurf) /Users/me/Library/Application Support/Windsurf/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
      'user(VSCodium) /Users/me/Library/Application Support/VSCodium/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
    ]);
    assert.equal(located['roo']?.[2], 'user(Cursor) /Users/me/Library/Application Support/Cursor/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json');
    assert.equal(located['roo']?.[5], 'project /p/.roo/mcp.json');
    assert.deepEqual(located['kiro'], ['user /Users/me/.kiro/settings/mcp.json', 'project /p/.kiro/settings/mcp.json']);
    assert.deepEqual(located['copilot-cli'], ['user /Users/me/.copilot/mcp-config.json', 'project /p/.github/mcp.json']);
    assert.deepEqual(located['junie'], ['user /Users/me/.junie/mcp/mcp.json', 'project /p/.junie/mcp/mcp.json']);
    // opencode and Goose keep to ~/.config on macOS too; Continue to ~/.continue everywhere.
    assert.deepEqual(located['opencode'], ['user /Users/me/.config/opencode/opencode.json', 'user /Users/me/.config/opencode/opencode.jsonc', 'project /p/opencode.json', 'project /p/opencode.jsonc']);
    assert.deepEqual(located['continue'], ['user /Users/me/.continue/config.yaml']);
    assert.deepEqual(located['goose'], ['user /Users/me/.config/goose/config.yaml']);
  });

  test('Windows: %APPDATA%, and the Store build of Claude Desktop under %LOCALAPPDATA%', () => {
    const located = paths({ home: 'C:\\Users\\me', platform: 'win32', projectDir: 'C:\\src\\app', APPDATA: 'C:\\Users\\me\\AppData\\Roaming', LOCALAPPDATA: 'C:\\Users\\me\\AppData\\Local' });
    assert.deepEqual(located['claude-desktop'], [
      'user C:\\Users\\me\\AppData\\Roaming\\Claude\\claude_desktop_config.json',
      'user(Store) C:\\Users\\me\\AppData\\Local\\Packages\\Claude_pzs8sxrjxfjjc\\LocalCache\\Roaming\\Claude\\claude_desktop_config.json',
    ]);
    assert.equal(located['vscode']?.[0], 'user C:\\Users\\me\\AppData\\Roaming\\Code\\User\\mcp.json');
    assert.equal(located['zed']?.[0], 'user C:\\Users\\me\\AppData\\Roaming\\Zed\\settings.json');
    assert.equal(located['cursor']?.[1], 'project C:\\src\\app\\.cursor\\mcp.json');
    assert.deepEqual(located['cline'], [
      'user C:\\Users\\me\\AppData\\Roaming\\Code\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json',
      'user(Insiders) C:\\Users\\me\\AppData\\Roaming\\Code - Insiders\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json',
      'user(Cursor) C:\\Users\\me\\AppData\\Roaming\\Cursor\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json',
      'user(Windsurf) C:\\Users\\me\\AppData\\Roaming\\Windsurf\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json',
      'user(VSCodium) C:\\Users\\me\\AppData\\Roaming\\VSCodium\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json',
    ]);
    assert.equal(located['roo']?.[0], 'user C:\\Users\\me\\AppData\\Roaming\\Code\\User\\globalStorage\\rooveterinaryinc.roo-cline\\settings\\mcp_settings.json');
    assert.equal(located['roo']?.[5], 'project C:\\src\\app\\.roo\\mcp.json');
    assert.deepEqual(located['kiro'], ['user C:\\Users\\me\\.kiro\\settings\\mcp.json', 'project C:\\src\\app\\.kiro\\settings\\mcp.json']);
    assert.deepEqual(located['copilot-cli'], ['user C:\\Users\\me\\.copilot\\mcp-config.json', 'project C:\\src\\app\\.github\\mcp.json']);
    assert.deepEqual(located['junie'], ['user C:\\Users\\me\\.junie\\mcp\\mcp.json', 'project C:\\src\\app\\.junie\\mcp\\mcp.json']);
    assert.deepEqual(located['opencode'], [
      'user C:\\Users\\me\\.config\\opencode\\opencode.json',
      'user C:\\Users\\me\\.config\\opencode\\opencode.jsonc',
      'project C:\\src\\app\\opencode.json',
      'project C:\\src\\app\\opencode.jsonc',
    ]);
    assert.deepEqual(located['continue'], ['user C:\\Users\\me\\.continue\\config.yaml']);
    assert.deepEqual(located['goose'], ['user C:\\Users\\me\\AppData\\Roaming\\Block\\goose\\config\\config.yaml']);
  });

  test('Windows without APPDATA: the VS Code family under AppData\\Roaming of the home', () => {
    const located = paths({ home: 'C:\\Users\\me', platform: 'win32', projectDir: 'C:\\p' });
    assert.equal(located['cline']?.[3], 'user(Windsurf) C:\\Users\\me\\AppData\\Roaming\\Windsurf\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json');
    assert.equal(located['roo']?.[4], 'user(VSCodium) C:\\Users\\me\\AppData\\Roaming\\VSCodium\\User\\globalStorage\\rooveterinaryinc.roo-cline\\settings\\mcp_settings.json');
    assert.equal(located['goose']?.[0], 'user C:\\Users\\me\\AppData\\Roaming\\Block\\goose\\config\\config.yaml');
  });

  test('the environment of a process: empty variables are unset, the project defaults to the current directory', () => {
    const env = hostEnvFromProcess(undefined, { HOME: '/h', XDG_CONFIG_HOME: '', CODEX_HOME: '/c' });
    assert.equal(env.home, '/h');
    assert.equal(env.XDG_CONFIG_HOME, undefined);
    assert.equal(env.CODEX_HOME, '/c');
    assert.equal(env.projectDir, process.cwd());
  });
});

describe('findHostFiles', () => {
  test('lists the files that exist, VS Code profiles included, in registry order', (t) => {
    const home = createFakeHome(t, ['cursor-mcp.json', 'vscode-mcp.json']);
    const profile = join(home.env.XDG_CONFIG_HOME as string, 'Code', 'User', 'profiles', '1a2b3c', 'mcp.json');
    mkdirSync(join(profile, '..'), { recursive: true });
    writeFileSync(profile, '{"servers": {}}');
    writeFileSync(join(home.env.projectDir, '.mcp.json'), '{"mcpServers": {}}');
    const found = findHostFiles(home.env).map((file) => `${file.host.id} ${file.scope}${file.variant ? ` ${file.variant}` : ''}`);
    assert.deepEqual(found, ['claude-code project', 'cursor user', 'vscode user', 'vscode user profile 1a2b3c']);
  });

  test('Cline and Roo Code are found in each editor of the VS Code family, named by it', (t) => {
    const home = createFakeHome(t, []);
    const xdg = home.env.XDG_CONFIG_HOME as string;
    const put = (path: string) => {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, '{"mcpServers": {}}');
    };
    put(join(xdg, 'Cursor', 'User', 'globalStorage', 'saoudrizwan.claude-dev', 'settings', 'cline_mcp_settings.json'));
    put(join(xdg, 'Code', 'User', 'globalStorage', 'saoudrizwan.claude-dev', 'settings', 'cline_mcp_settings.json'));
    put(join(xdg, 'VSCodium', 'User', 'globalStorage', 'rooveterinaryinc.roo-cline', 'settings', 'mcp_settings.json'));
    put(join(home.env.projectDir, '.roo', 'mcp.json'));
    // Another extension's settings in the same editor are nobody's.
    put(join(xdg, 'Windsurf', 'User', 'globalStorage', 'other.extension', 'settings', 'mcp_settings.json'));
    assert.deepEqual(findHostFiles(home.env).map(describeFile), ['Cline (user)', 'Cline (Cursor, user)', 'Roo Code (VSCodium, user)', 'Roo Code (project)']);
  });

  test('Kiro and Junie run from the home directory: the shared file once, as the user file', (t) => {
    const home = createFakeHome(t, []);
    for (const path of [join(home.env.home, '.kiro', 'settings', 'mcp.json'), join(home.env.home, '.junie', 'mcp', 'mcp.json')]) {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, '{"mcpServers": {}}');
    }
    const found = findHostFiles({ ...home.env, projectDir: home.env.home }, [hostById('kiro')!, hostById('junie')!]);
    assert.deepEqual(found.map((file) => `${file.host.id} ${file.scope}`), ['kiro user', 'junie user']);
  });

  test('opencode: whichever of opencode.json and opencode.jsonc exists, user and project', (t) => {
    const home = createFakeHome(t, ['opencode.jsonc', 'goose-config.yaml', 'continue-config.yaml']);
    writeFileSync(join(home.env.projectDir, 'opencode.json'), '{"mcp": {}}');
    const found = findHostFiles(home.env, [hostById('opencode')!, hostById('continue')!, hostById('goose')!]);
    assert.deepEqual(
      found.map((file) => `${file.host.id} ${file.scope} ${file.path.slice(home.root.length + 1)}`),
      ['opencode user xdg/opencode/opencode.jsonc', 'opencode project project/opencode.json', 'continue user home/.continue/config.yaml', 'goose user xdg/goose/config.yaml'],
    );
  });

  test('a project that is the home directory lists the shared file once, as the user file', (t) => {
    const home = createFakeHome(t, ['cursor-mcp.json']);
    const found = findHostFiles({ ...home.env, projectDir: home.env.home }, [hostById('cursor')!]);
    assert.deepEqual(found.map((file) => file.scope), ['user']);
  });
});

describe("Claude Code's local scope (claude mcp add's default): every project with servers", () => {
  test('each project in ~/.claude.json with servers of its own is listed under its path; its relative commands import to run there', (t) => {
    const home = mkdtempSync(join(tmpdir(), 'muxd-claude-projects-'));
    t.after(() => rmSync(home, { recursive: true, force: true }));
    const server = (script: string) => ({ type: 'stdio', command: 'node', args: [script] });
    writeFileSync(
      join(home, '.claude.json'),
      JSON.stringify({
        mcpServers: {},
        projects: {
          '/p/current': { mcpServers: { here: server('here.js') } },
          '/p/other': { allowedTools: [], mcpServers: { tools: server('./tools/server.js') } },
          '/p/empty': { mcpServers: {} },
          '/p/none': { allowedTools: [] },
        },
      }),
    );
    const env: HostEnv = { home, platform: 'linux', projectDir: '/p/current' };
    const files = findHostFiles(env, [hostById('claude-code') as NonNullable<ReturnType<typeof hostById>>]);
    assert.deepEqual(
      files.map((file) => [file.scope, file.variant ?? null, file.serversPath.join(' > ')]),
      [
        ['user', null, 'mcpServers'],
        ['local', null, 'projects > /p/current > mcpServers'],
        ['local', '/p/other', 'projects > /p/other > mcpServers'],
      ],
    );
    const entries = files.map((file) => ({ file, entries: parseHostDocument(file, readFileSync(file.path, 'utf8')).entries ?? [] }));
    const plan = planImport(entries, new Map(), env.projectDir, {});
    assert.deepEqual(
      plan.services.map((service) => [service.name, service.spec.args, service.spec.cwd]),
      [
        ['here', ['here.js'], '/p/current'],
        ['tools', ['./tools/server.js'], '/p/other'],
      ],
    );
  });

  test('an unreadable ~/.claude.json lists only the current project, as before', (t) => {
    const home = mkdtempSync(join(tmpdir(), 'muxd-claude-broken-'));
    t.after(() => rmSync(home, { recursive: true, force: true }));
    writeFileSync(join(home, '.claude.json'), '{ not json');
    const located = hostById('claude-code')?.locate({ home, platform: 'linux', projectDir: '/p/current' }) ?? [];
    assert.deepEqual(
      located.map((location) => `${location.scope} ${location.serversPath.join(' > ')}`),
      ['user mcpServers', 'local projects > /p/current > mcpServers', 'project mcpServers'],
    );
  });
});
