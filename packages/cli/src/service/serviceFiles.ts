import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { daemonEntry } from '../daemonLauncher.js';
import { globalBinFor } from './globalBin.js';

/**
 * Where the launchd/ and systemd/ templates are: beside muxctl's bundle in
 * the published `muxd` package, else at the repository's root.
 */
const TEMPLATE_ROOTS = [fileURLToPath(new URL('./', import.meta.url)), fileURLToPath(new URL('../../../../', import.meta.url))];

/** What goes into a service definition, captured when it is installed. */
export interface ServiceSettings {
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of muxd's entry point. */
  muxd: string;
  /** PATH for the daemon: the installer's, plus where node (and npx) live. */
  path: string;
  /** Passed on when set at install time. */
  env: Record<string, string>;
  home: string;
  uid: number;
}

export function captureSettings(env: NodeJS.ProcessEnv = process.env, configFile?: string): ServiceSettings {
  const nodeDir = dirname(process.execPath);
  // Services start without the login shell: make sure node and npx are found.
  const parts = [...new Set([nodeDir, ...(env['PATH'] ?? '').split(':').filter(Boolean)])];
  const passed: Record<string, string> = {};
  if (env['MUXD_HOME']) passed['MUXD_HOME'] = env['MUXD_HOME'];
  if (configFile) passed['MUXD_CONFIG'] = configFile;
  return {
    node: process.execPath,
    muxd: globalBinFor(daemonEntry(), 'muxd'),
    path: parts.join(':'),
    env: passed,
    home: env['HOME'] || homedir(),
    uid: process.getuid?.() ?? 0,
  };
}

function template(relative: string): string {
  const path = TEMPLATE_ROOTS.map((root) => join(root, relative)).find((candidate) => existsSync(candidate));
  if (path === undefined) throw new Error(`service template missing: ${relative} (looked in ${TEMPLATE_ROOTS.join(', ')}); reinstall muxd`);
  return readFileSync(path, 'utf8');
}

/** systemd quoting for a value inside `Environment="KEY=value"`. */
function systemdQuote(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%');
}

function xmlEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The user unit, from systemd/muxd.service. */
export function renderSystemdUnit(settings: ServiceSettings): string {
  const extra = Object.entries(settings.env)
    .map(([key, value]) => `Environment="${key}=${systemdQuote(value)}"\n`)
    .join('');
  return template('systemd/muxd.service')
    .replace(/^#.*\n/gm, '')
    .replace('Environment=PATH=@PATH@\n', `Environment="PATH=${systemdQuote(settings.path)}"\n${extra}`)
    .replace('@NODE@', settings.node)
    .replace('@MUXD@', settings.muxd)
    .replace(/^\n+/, '');
}

/** The launchd agent, from launchd/dev.muxd.plist. */
export function renderLaunchdPlist(settings: ServiceSettings): string {
  const extra = Object.entries(settings.env)
    .map(([key, value]) => `    <key>${xmlEscape(key)}</key>\n    <string>${xmlEscape(value)}</string>\n`)
    .join('');
  return template('launchd/dev.muxd.plist')
    .replace(/<!--[\s\S]*?-->\n/, '')
    .replace('<string>@PATH@</string>\n', `<string>${xmlEscape(settings.path)}</string>\n${extra}`)
    .replace('@NODE@', xmlEscape(settings.node))
    .replace('@MUXD@', xmlEscape(settings.muxd))
    .replaceAll('@LOGS@', xmlEscape(join(settings.home, 'Library', 'Logs', 'muxd')));
}

export const LAUNCHD_LABEL = 'dev.muxd';

/** Where each service manager wants the file, and the commands that load and unload it. */
export function servicePlan(platform: NodeJS.Platform, settings: ServiceSettings, env: NodeJS.ProcessEnv = process.env) {
  if (platform === 'darwin') {
    const file = join(settings.home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
    const domain = `gui/${settings.uid}`;
    return {
      manager: 'launchd' as const,
      file,
      logDir: join(settings.home, 'Library', 'Logs', 'muxd'),
      content: renderLaunchdPlist(settings),
      install: [['launchctl', 'bootstrap', domain, file]],
      uninstall: [['launchctl', 'bootout', `${domain}/${LAUNCHD_LABEL}`]],
      status: [['launchctl', 'print', `${domain}/${LAUNCHD_LABEL}`]],
      note: undefined,
    };
  }
  const configHome = env['XDG_CONFIG_HOME'] || join(settings.home, '.config');
  return {
    manager: 'systemd' as const,
    file: join(configHome, 'systemd', 'user', 'muxd.service'),
    logDir: undefined,
    content: renderSystemdUnit(settings),
    install: [
      ['systemctl', '--user', 'daemon-reload'],
      ['systemctl', '--user', 'enable', '--now', 'muxd.service'],
    ],
    uninstall: [
      ['systemctl', '--user', 'disable', '--now', 'muxd.service'],
      ['systemctl', '--user', 'daemon-reload'],
    ],
    status: [['systemctl', '--user', 'status', '--no-pager', 'muxd.service']],
    note: `to keep muxd running while you are logged out: loginctl enable-linger ${env['USER'] ?? '$USER'}`,
  };
}
