import { homedir } from 'node:os';
import { resolve } from 'node:path';

/**
 * What host config paths are computed from. Injectable so that tests run
 * against a fake HOME in a temp dir; empty variables count as unset.
 */
export interface HostEnv {
  home: string;
  platform: NodeJS.Platform;
  /** The project whose project-scope files (`.mcp.json`, `.vscode/mcp.json`...) are read. */
  projectDir: string;
  XDG_CONFIG_HOME?: string | undefined;
  APPDATA?: string | undefined;
  LOCALAPPDATA?: string | undefined;
  CLAUDE_CONFIG_DIR?: string | undefined;
  CODEX_HOME?: string | undefined;
}

/** The host environment of this process: `HOME` (else the OS home), the platform, and `projectDir` (default: the current directory). */
export function hostEnvFromProcess(projectDir?: string, env: NodeJS.ProcessEnv = process.env): HostEnv {
  const set = (name: string): string | undefined => env[name] || undefined;
  return {
    home: set('HOME') ?? homedir(),
    platform: process.platform,
    projectDir: resolve(projectDir ?? process.cwd()),
    XDG_CONFIG_HOME: set('XDG_CONFIG_HOME'),
    APPDATA: set('APPDATA'),
    LOCALAPPDATA: set('LOCALAPPDATA'),
    CLAUDE_CONFIG_DIR: set('CLAUDE_CONFIG_DIR'),
    CODEX_HOME: set('CODEX_HOME'),
  };
}
