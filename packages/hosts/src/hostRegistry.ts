/**
 * Every MCP host muxctl knows: where its config files are on each platform,
 * their format, where the servers map sits, how it spells a stdio entry and
 * a Streamable HTTP one, and how to make it read a changed file
 * (shared/docs/hosts.md).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { posix, win32 } from 'node:path';
import { isJsonObject } from '@muxd/protocol';
import type { HostEnv } from './hostEnv.js';
import type { EntryDialect } from './serverEntry.js';

export const HostIds = ['claude-code', 'claude-desktop', 'cursor', 'vscode', 'windsurf', 'codex', 'gemini', 'zed', 'cline', 'roo', 'kiro', 'copilot-cli', 'junie', 'opencode', 'continue', 'goose'] as const;
export type HostId = (typeof HostIds)[number];

export const HostScopes = { User: 'user', Local: 'local', Project: 'project' } as const;
export type HostScope = (typeof HostScopes)[keyof typeof HostScopes];

export type FileFormat = 'json' | 'jsonc' | 'toml' | 'yaml';

/** One config file a host may have. */
export interface HostFileLocation {
  /** Absolute. */
  path: string;
  scope: HostScope;
  format: FileFormat;
  /** Keys from the document root to the servers map. */
  serversPath: string[];
  /** Which variant (`Insiders`, `profile 1a2b`, `Next`), when the host has several. */
  variant?: string;
  /** The project a local-scope file belongs to, when it is not the current one (relative commands run there). */
  projectDir?: string;
}

export interface HostDefinition extends EntryDialect {
  id: HostId;
  name: string;
  /** What to do so the host uses the changed file. */
  reload: string;
  /** The `type` written on a rewired entry, for hosts that have the field. */
  stdioType?: string;
  locate(env: HostEnv): HostFileLocation[];
}

/** A host config file that exists. */
export interface HostFile extends HostFileLocation {
  host: HostDefinition;
}

/** How a host file is named in listings and --json output. */
export interface HostFileLabel {
  host: string;
  hostName: string;
  scope: HostScope;
  variant?: string;
  file: string;
}

export function labelOf(file: HostFile): HostFileLabel {
  return {
    host: file.host.id,
    hostName: file.host.name,
    scope: file.scope,
    ...(file.variant === undefined ? {} : { variant: file.variant }),
    file: file.path,
  };
}

function pathApi(env: HostEnv) {
  return env.platform === 'win32' ? win32 : posix;
}

/** `~/.config` or `$XDG_CONFIG_HOME`. */
function xdgConfig(env: HostEnv): string {
  return env.XDG_CONFIG_HOME ?? pathApi(env).join(env.home, '.config');
}

/** Where Electron apps keep per-user data: `Application Support` on macOS, `%APPDATA%` on Windows, XDG elsewhere. */
function appData(env: HostEnv): string {
  const { join } = pathApi(env);
  if (env.platform === 'darwin') return join(env.home, 'Library', 'Application Support');
  if (env.platform === 'win32') return env.APPDATA ?? join(env.home, 'AppData', 'Roaming');
  return xdgConfig(env);
}

const json = (path: string, scope: HostScope, serversPath: string[], variant?: string): HostFileLocation => ({
  path,
  scope,
  format: 'json',
  serversPath,
  ...(variant === undefined ? {} : { variant }),
});

/** A user file under the home directory and a project file, each with a top-level `mcpServers` map. */
function homeAndProject(env: HostEnv, userPath: readonly string[], projectPath: readonly string[], format: 'json' | 'jsonc' = 'json'): HostFileLocation[] {
  const { join } = pathApi(env);
  return [
    { ...json(join(env.home, ...userPath), HostScopes.User, ['mcpServers']), format },
    { ...json(join(env.projectDir, ...projectPath), HostScopes.Project, ['mcpServers']), format },
  ];
}

/**
 * The VS Code family: editors whose extensions keep their settings under
 * `<appData>/<product>/User/globalStorage/<extension id>`, each with the
 * variant it is listed as (none for VS Code itself).
 */
const VSCODE_FAMILY: ReadonlyArray<readonly [product: string, variant: string | undefined]> = [
  ['Code', undefined],
  ['Code - Insiders', 'Insiders'],
  ['Cursor', 'Cursor'],
  ['Windsurf', 'Windsurf'],
  ['VSCodium', 'VSCodium'],
];

/** An extension's settings file in every editor of the VS Code family. */
function extensionSettings(env: HostEnv, extensionId: string, fileName: string): HostFileLocation[] {
  const { join } = pathApi(env);
  return VSCODE_FAMILY.map(([product, variant]) => json(join(appData(env), product, 'User', 'globalStorage', extensionId, 'settings', fileName), HostScopes.User, ['mcpServers'], variant));
}

/** `${VAR}` and `${VAR:-default}`, as a shell writes them (and Claude Code expands them). */
const SHELL_BRACES = /\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}/;
/** The predefined variables of VS Code and its forks (`${workspaceFolder}`, `${userHome}`...); `${input:...}`, `${env:...}` are every host's. */
const EDITOR_VARIABLES = /\$\{(?:workspaceFolder|workspaceFolderBasename|userHome|pathSeparator|\/)\}/;

export const HOSTS: readonly HostDefinition[] = [
  {
    id: 'claude-code',
    name: 'Claude Code',
    reload: 'start a new Claude Code session (running ones keep their servers until restarted; /mcp shows them)',
    stdioType: 'stdio',
    remoteKeys: ['url'],
    http: { urlKey: 'url', headersKey: 'headers', type: 'http' },
    // It expands `${VAR}` and `${VAR:-default}` from its own environment.
    hostVariables: SHELL_BRACES,
    locate(env) {
      const { join } = pathApi(env);
      const userFile = join(env.CLAUDE_CONFIG_DIR ?? env.home, '.claude.json');
      // `claude mcp add` writes to the local scope by default: one servers map per project in ~/.claude.json.
      // The current project's is listed as plain `local`; every other project with servers, under its path.
      const otherProjects = projectsWithServers(userFile).filter((project) => project !== env.projectDir);
      return [
        json(userFile, HostScopes.User, ['mcpServers']),
        json(userFile, HostScopes.Local, ['projects', env.projectDir, 'mcpServers']),
        ...otherProjects.map((project) => ({ ...json(userFile, HostScopes.Local, ['projects', project, 'mcpServers'], project), projectDir: project })),
        json(join(env.projectDir, '.mcp.json'), HostScopes.Project, ['mcpServers']),
      ];
    },
  },
  {
    id: 'claude-desktop',
    name: 'Claude Desktop',
    reload: 'quit Claude Desktop completely (menu bar or tray: Quit) and open it again',
    remoteKeys: ['url'],
    locate(env) {
      const { join } = pathApi(env);
      const name = 'claude_desktop_config.json';
      const files = [json(join(appData(env), 'Claude', name), HostScopes.User, ['mcpServers'])];
      if (env.platform === 'win32') {
        const local = env.LOCALAPPDATA ?? join(env.home, 'AppData', 'Local');
        // The Microsoft Store build (the default download since Feb 2026) is virtualized here.
        files.push(json(join(local, 'Packages', 'Claude_pzs8sxrjxfjjc', 'LocalCache', 'Roaming', 'Claude', name), HostScopes.User, ['mcpServers'], 'Store'));
      }
      return files;
    },
  },
  {
    id: 'cursor',
    name: 'Cursor',
    reload: 'Cursor picks up the change; if a server stays red, toggle it off and on in Settings > MCP',
    remoteKeys: ['url'],
    http: { urlKey: 'url', headersKey: 'headers' },
    hostVariables: EDITOR_VARIABLES,
    locate(env) {
      return homeAndProject(env, ['.cursor', 'mcp.json'], ['.cursor', 'mcp.json']);
    },
  },
  {
    id: 'vscode',
    name: 'VS Code',
    reload: 'VS Code restarts changed servers (confirm its trust prompt); else run "MCP: List Servers" and restart them',
    stdioType: 'stdio',
    remoteKeys: ['url'],
    http: { urlKey: 'url', headersKey: 'headers', type: 'http' },
    hostVariables: EDITOR_VARIABLES,
    locate(env) {
      const { join } = pathApi(env);
      const files: HostFileLocation[] = [];
      for (const [product, variant] of [['Code', undefined], ['Code - Insiders', 'Insiders']] as const) {
        const userDir = join(appData(env), product, 'User');
        files.push({ ...json(join(userDir, 'mcp.json'), HostScopes.User, ['servers'], variant), format: 'jsonc' });
        for (const profile of listDirs(join(userDir, 'profiles'))) {
          files.push({ ...json(join(userDir, 'profiles', profile, 'mcp.json'), HostScopes.User, ['servers'], `${variant ? `${variant} ` : ''}profile ${profile}`), format: 'jsonc' });
        }
      }
      files.push({ ...json(join(env.projectDir, '.vscode', 'mcp.json'), HostScopes.Project, ['servers']), format: 'jsonc' });
      return files;
    },
  },
  {
    id: 'windsurf',
    name: 'Windsurf',
    reload: "press refresh in Windsurf's MCP panel (Cascade > MCP servers)",
    remoteKeys: ['serverUrl', 'url'],
    http: { urlKey: 'serverUrl', headersKey: 'headers' },
    locate(env) {
      const { join } = pathApi(env);
      return [
        json(join(env.home, '.codeium', 'windsurf', 'mcp_config.json'), HostScopes.User, ['mcpServers']),
        json(join(env.home, '.codeium', 'windsurf-next', 'mcp_config.json'), HostScopes.User, ['mcpServers'], 'Next'),
      ];
    },
  },
  {
    id: 'codex',
    name: 'Codex CLI',
    reload: 'restart Codex (it reads config.toml at start)',
    remoteKeys: ['url'],
    http: { urlKey: 'url', headersKey: 'http_headers' },
    locate(env) {
      const { join } = pathApi(env);
      return [
        { path: join(env.CODEX_HOME ?? join(env.home, '.codex'), 'config.toml'), scope: HostScopes.User, format: 'toml', serversPath: ['mcp_servers'] },
        { path: join(env.projectDir, '.codex', 'config.toml'), scope: HostScopes.Project, format: 'toml', serversPath: ['mcp_servers'] },
      ];
    },
  },
  {
    id: 'gemini',
    name: 'Gemini CLI',
    reload: 'restart Gemini CLI (or /mcp refresh in a running one)',
    // `url` is SSE there (unless `"type": "http"`), but Gemini CLI tries Streamable HTTP first; `httpUrl` is Streamable HTTP.
    remoteKeys: ['httpUrl', 'url'],
    http: { urlKey: 'httpUrl', headersKey: 'headers' },
    // It expands `$VAR` and `${VAR}` in every string of settings.json.
    hostVariables: /\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*/,
    locate(env) {
      return homeAndProject(env, ['.gemini', 'settings.json'], ['.gemini', 'settings.json'], 'jsonc');
    },
  },
  {
    id: 'zed',
    name: 'Zed',
    reload: 'Zed restarts context servers when settings.json is saved',
    remoteKeys: ['url'],
    http: { urlKey: 'url', headersKey: 'headers' },
    zed: true,
    locate(env) {
      const { join } = pathApi(env);
      const userDir = env.platform === 'win32' ? join(appData(env), 'Zed') : join(xdgConfig(env), 'zed');
      return [
        { ...json(join(userDir, 'settings.json'), HostScopes.User, ['context_servers']), format: 'jsonc' },
        { ...json(join(env.projectDir, '.zed', 'settings.json'), HostScopes.Project, ['context_servers']), format: 'jsonc' },
      ];
    },
  },
  {
    id: 'cline',
    name: 'Cline',
    reload: 'let Cline pick it up: it watches its settings file and applies changes on save',
    stdioType: 'stdio',
    remoteKeys: ['url'],
    http: { urlKey: 'url', headersKey: 'headers', type: 'streamableHttp' },
    locate(env) {
      return extensionSettings(env, 'saoudrizwan.claude-dev', 'cline_mcp_settings.json');
    },
  },
  {
    id: 'roo',
    name: 'Roo Code',
    reload: "let Roo Code apply it on save, or restart the server in Roo's MCP panel",
    remoteKeys: ['url'],
    http: { urlKey: 'url', headersKey: 'headers', type: 'streamable-http' },
    locate(env) {
      const { join } = pathApi(env);
      return [...extensionSettings(env, 'rooveterinaryinc.roo-cline', 'mcp_settings.json'), json(join(env.projectDir, '.roo', 'mcp.json'), HostScopes.Project, ['mcpServers'])];
    },
  },
  {
    id: 'kiro',
    name: 'Kiro',
    reload: 'let Kiro reconnect its servers, which it does when the file is saved',
    remoteKeys: ['url'],
    http: { urlKey: 'url', headersKey: 'headers' },
    locate(env) {
      return homeAndProject(env, ['.kiro', 'settings', 'mcp.json'], ['.kiro', 'settings', 'mcp.json']);
    },
  },
  {
    id: 'copilot-cli',
    name: 'GitHub Copilot CLI',
    reload: 'start a new copilot session',
    stdioType: 'local',
    remoteKeys: ['url'],
    http: { urlKey: 'url', headersKey: 'headers', type: 'http' },
    locate(env) {
      // Its other project file, `.mcp.json`, is Claude Code's: listed once, as that host's.
      return homeAndProject(env, ['.copilot', 'mcp-config.json'], ['.github', 'mcp.json']);
    },
  },
  {
    id: 'junie',
    name: 'Junie',
    reload: "restart Junie's session (or the IDE)",
    // Its remote spelling is not settled: stdio only, as Claude Desktop.
    remoteKeys: ['url'],
    locate(env) {
      return homeAndProject(env, ['.junie', 'mcp', 'mcp.json'], ['.junie', 'mcp', 'mcp.json']);
    },
  },
  {
    id: 'opencode',
    name: 'opencode',
    reload: 'restart opencode (it reads its config at start)',
    stdioType: 'local',
    remoteKeys: ['url'],
    http: { urlKey: 'url', headersKey: 'headers', type: 'remote' },
    // `command` is one list: the program, then its arguments.
    stdioFields: { command: 'command', env: 'environment' },
    locate(env) {
      const { join } = pathApi(env);
      // The V1 layout, `mcp.<name>`; the V2 one (`mcp.servers.<name>`) is not settled and not read.
      const files = (dir: string, scope: HostScope) =>
        ['opencode.json', 'opencode.jsonc'].map((name): HostFileLocation => ({ path: join(dir, name), scope, format: 'jsonc', serversPath: ['mcp'] }));
      return [...files(join(xdgConfig(env), 'opencode'), HostScopes.User), ...files(env.projectDir, HostScopes.Project)];
    },
  },
  {
    id: 'continue',
    name: 'Continue',
    reload: 'let Continue reload config.yaml, which it does on save (else reload the editor window)',
    // Its remote entries take `type` and `url`; headers are not settled: stdio only, as Claude Desktop.
    remoteKeys: ['url'],
    listedBy: 'name',
    locate(env) {
      const { join } = pathApi(env);
      return [{ path: join(env.home, '.continue', 'config.yaml'), scope: HostScopes.User, format: 'yaml', serversPath: ['mcpServers'] }];
    },
  },
  {
    id: 'goose',
    name: 'Goose',
    reload: 'start a new Goose session (or restart the desktop app): it reads config.yaml at start',
    stdioType: 'stdio',
    remoteKeys: ['uri'],
    http: { urlKey: 'uri', headersKey: 'headers', type: 'streamable_http' },
    stdioFields: { command: 'cmd', args: 'args', env: 'envs' },
    // `extensions` holds its builtins (`builtin`, `platform`, `frontend`...) too: those are Goose's.
    entryTypes: ['stdio', 'streamable_http'],
    locate(env) {
      const { join } = pathApi(env);
      const dir = env.platform === 'win32' ? join(env.APPDATA ?? join(env.home, 'AppData', 'Roaming'), 'Block', 'goose', 'config') : join(xdgConfig(env), 'goose');
      return [{ path: join(dir, 'config.yaml'), scope: HostScopes.User, format: 'yaml', serversPath: ['extensions'] }];
    },
  },
];

/** The projects of a Claude Code user file that have at least one server of their own, in file order. */
function projectsWithServers(userFile: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(userFile, 'utf8'));
  } catch {
    return []; // Missing or unreadable: reading the file itself reports why.
  }
  const projects = isJsonObject(parsed) ? parsed['projects'] : undefined;
  if (!isJsonObject(projects)) return [];
  return Object.keys(projects).filter((project) => {
    const entry = projects[project];
    const servers = isJsonObject(entry) ? entry['mcpServers'] : undefined;
    return isJsonObject(servers) && Object.keys(servers).length > 0;
  });
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  } catch {
    return [];
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The host with this id; undefined for an unknown one. */
export function hostById(id: string): HostDefinition | undefined {
  return HOSTS.find((host) => host.id === id);
}

/**
 * The config files of `hosts` (default: all) that exist, in registry order.
 * A project file that is also the user file (run from the home directory) is
 * listed once, as the user file.
 */
export function findHostFiles(env: HostEnv, hosts: readonly HostDefinition[] = HOSTS): HostFile[] {
  const found: HostFile[] = [];
  const seen = new Set<string>();
  for (const host of hosts) {
    for (const location of host.locate(env)) {
      const key = `${location.path}\0${location.serversPath.join('\0')}`;
      if (seen.has(key) || !existsSync(location.path) || !isFile(location.path)) continue;
      seen.add(key);
      found.push({ ...location, host });
    }
  }
  return found;
}

/** "Claude Code (user)", "VS Code (Insiders, user)". */
export function describeFile(file: { host: { name: string }; scope: string; variant?: string | undefined }): string {
  return `${file.host.name} (${file.variant ? `${file.variant}, ` : ''}${file.scope})`;
}
