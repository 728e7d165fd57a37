/**
 * A fake home holding every fixture host file where its host looks for it
 * (Linux layout; Roo Code's in the project), for tests that run muxctl's host code without touching
 * the real one.
 */
import type { TestContext } from 'node:test';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostEnv } from '../src/hostEnv.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures/hosts/', import.meta.url));

/** The fixture's text, as bytes decoded as UTF-8 (BOM kept). */
export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

/** The project path the Claude Code fixture's local scope is keyed on. */
export const FIXTURE_PROJECT = '/home/me/work/app';

export interface FakeHome {
  root: string;
  env: HostEnv;
  /** muxd's state directory (backups). */
  stateDir: string;
  /** Absolute path of each installed fixture, by fixture name. */
  files: Record<string, string>;
  /** Every file under the home and XDG dirs with its bytes (a snapshot to compare). */
  snapshot(): Map<string, string>;
}

const PLACES: Record<string, (home: string, xdg: string, project: string) => string> = {
  'claude.json': (home) => join(home, '.claude.json'),
  'claude_desktop_config.json': (_home, xdg) => join(xdg, 'Claude', 'claude_desktop_config.json'),
  'cursor-mcp.json': (home) => join(home, '.cursor', 'mcp.json'),
  'vscode-mcp.json': (_home, xdg) => join(xdg, 'Code', 'User', 'mcp.json'),
  'windsurf-mcp_config.json': (home) => join(home, '.codeium', 'windsurf', 'mcp_config.json'),
  'codex-config.toml': (home) => join(home, '.codex', 'config.toml'),
  'gemini-settings.json': (home) => join(home, '.gemini', 'settings.json'),
  'zed-settings.json': (_home, xdg) => join(xdg, 'zed', 'settings.json'),
  'cline_mcp_settings.json': (_home, xdg) => join(xdg, 'Code', 'User', 'globalStorage', 'saoudrizwan.claude-dev', 'settings', 'cline_mcp_settings.json'),
  'roo-mcp.json': (_home, _xdg, project) => join(project, '.roo', 'mcp.json'),
  'kiro-mcp.json': (home) => join(home, '.kiro', 'settings', 'mcp.json'),
  'copilot-mcp-config.json': (home) => join(home, '.copilot', 'mcp-config.json'),
  'junie-mcp.json': (home) => join(home, '.junie', 'mcp', 'mcp.json'),
  'opencode.jsonc': (_home, xdg) => join(xdg, 'opencode', 'opencode.jsonc'),
  'continue-config.yaml': (home) => join(home, '.continue', 'config.yaml'),
  'goose-config.yaml': (_home, xdg) => join(xdg, 'goose', 'config.yaml'),
};

/** Makes a temp home with the fixtures `names` (default: all) installed; removed after the test. */
export function createFakeHome(t: Pick<TestContext, 'after'>, names: string[] = Object.keys(PLACES)): FakeHome {
  const root = mkdtempSync(join(tmpdir(), 'muxctl-hosts-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const home = join(root, 'home');
  const xdg = join(root, 'xdg');
  const project = join(root, 'project');
  mkdirSync(project, { recursive: true });
  const files: Record<string, string> = {};
  for (const name of names) {
    const place = PLACES[name];
    if (!place) throw new Error(`no place for fixture ${name}`);
    const path = place(home, xdg, project);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, fixture(name).replaceAll(FIXTURE_PROJECT, project));
    files[name] = path;
  }
  const env: HostEnv = { home, platform: 'linux', projectDir: project, XDG_CONFIG_HOME: xdg };
  return {
    root,
    env,
    stateDir: join(root, 'state'),
    files,
    snapshot() {
      const result = new Map<string, string>();
      const walk = (dir: string) => {
        let names: string[];
        try {
          names = readdirSync(dir);
        } catch {
          return;
        }
        for (const name of names) {
          const path = join(dir, name);
          if (statSync(path).isDirectory()) walk(path);
          else result.set(relative(root, path), readFileSync(path, 'latin1'));
        }
      };
      walk(home);
      walk(xdg);
      walk(project);
      return result;
    },
  };
}
