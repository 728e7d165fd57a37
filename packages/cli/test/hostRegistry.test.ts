// Where each host keeps its config, computed from an injected environment.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostEnv } from '../src/hosts/hostEnv.js';
import { hostEnvFromProcess } from '../src/hosts/hostEnv.js';
import { HOSTS, findHostFiles, hostById } from '../src/hosts/hostRegistry.js';
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

  test('a project that is the home directory lists the shared file once, as the user file', (t) => {
    const home = createFakeHome(t, ['cursor-mcp.json']);
    const found = findHostFiles({ ...home.env, projectDir: home.env.home }, [hostById('cursor')!]);
    assert.deepEqual(found.map((file) => file.scope), ['user']);
  });
});
