import { accessSync, constants, existsSync, lstatSync, readFileSync, readdirSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import type { CommandModule } from 'yargs';
import { findConfigFile } from '@muxd/config';
import { ControlMethods } from '@muxd/protocol';
import { canConnect } from '@muxd/runtime/socket';
import { resolvePaths } from '@muxd/protocol/paths';
import { readProcessTable } from '@muxd/runtime/processes';
import type { ProcessInfo } from '@muxd/runtime/processes';
import { CliError } from '../cliError.js';
import { paths, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { formatMemory, printJson } from '../format.js';
import { captureSettings, servicePlan } from '../service/serviceFiles.js';
import { VERSION } from '../version.js';

type Level = 'ok' | 'warn' | 'fail';

interface Check {
  name: string;
  level: Level;
  detail: string;
  /** What to do about it. */
  fix?: string;
}

/** An MCP server running outside muxd, which rewiring would fold in. */
interface StrayServer {
  pid: number;
  rssBytes: number;
  command: string;
  /** The process that started it (the host), if known. */
  parent: string;
}

/** An MCP server another muxd runs (another `MUXD_HOME`): not this muxd's, not a stray either. */
interface OtherMuxdServer {
  pid: number;
  rssBytes: number;
  command: string;
  /** The muxd that runs it. */
  muxdPid: number;
  /** That muxd's home (its state directory), when its environment can be read (Linux). */
  home?: string;
}

function findOnPath(name: string, pathValue: string): string | undefined {
  for (const dir of pathValue.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** The PATH the user service gets: from its installed file, else what install would write. */
function servicePath(): { path: string; from: string } {
  const plan = servicePlan(process.platform, captureSettings());
  if (existsSync(plan.file)) {
    const text = readFileSync(plan.file, 'utf8');
    const systemd = /^Environment="?PATH=([^"\n]+)"?$/m.exec(text)?.[1];
    const launchd = /<key>PATH<\/key>\s*<string>([^<]*)<\/string>/.exec(text)?.[1];
    const found = systemd ?? launchd;
    if (found) return { path: found, from: plan.file };
  }
  return { path: captureSettings().path, from: 'this shell (no service installed)' };
}

function checkPath(): Check[] {
  const { path, from } = servicePath();
  return ['node', 'npx'].map((tool) => {
    const found = findOnPath(tool, path);
    return found
      ? { name: `${tool} on the service's PATH`, level: 'ok' as const, detail: `${found} (PATH from ${from})` }
      : {
          name: `${tool} on the service's PATH`,
          level: (tool === 'node' ? 'fail' : 'warn') as Level,
          detail: `not found in the PATH from ${from}`,
          fix: 'run muxctl service install from a shell where it is found, to capture that PATH',
        };
  });
}

function checkSocketDirectory(): Check[] {
  const { runDir } = paths();
  if (!existsSync(runDir)) return [{ name: 'socket directory', level: 'ok', detail: `${runDir} does not exist yet (muxd creates it 0700)` }];
  const stat = lstatSync(runDir);
  const uid = process.getuid?.();
  const checks: Check[] = [];
  if (!stat.isDirectory()) {
    checks.push({ name: 'socket directory', level: 'fail', detail: `${runDir} is not a directory`, fix: `remove it, or set MUXD_HOME` });
  } else if (uid !== undefined && stat.uid !== uid) {
    checks.push({ name: 'socket directory', level: 'fail', detail: `${runDir} belongs to uid ${stat.uid}, not you`, fix: 'set MUXD_HOME to a directory of your own' });
  } else if ((stat.mode & 0o077) !== 0) {
    checks.push({ name: 'socket directory', level: 'warn', detail: `${runDir} is mode ${(stat.mode & 0o777).toString(8)}, others can reach the sockets`, fix: `chmod 700 ${runDir} (muxd does it at start)` });
  } else {
    checks.push({ name: 'socket directory', level: 'ok', detail: `${runDir} is 0700 and yours` });
  }
  return checks;
}

async function checkSockets(daemonRunning: boolean): Promise<Check> {
  const { runDir } = paths();
  const stale: string[] = [];
  if (existsSync(runDir)) {
    for (const name of readdirSync(runDir)) {
      const path = join(runDir, name);
      if (lstatSync(path).isSocket() && !(await canConnect(path))) stale.push(name);
    }
  }
  if (stale.length === 0) return { name: 'stale sockets', level: 'ok', detail: 'none' };
  return {
    name: 'stale sockets',
    level: 'warn',
    detail: `${stale.join(', ')} in ${runDir} answer no connection`,
    fix: daemonRunning ? 'muxctl reload, or muxctl daemon stop && muxctl daemon start' : 'harmless: muxd reclaims them at start',
  };
}

const MCP_SERVER = /@modelcontextprotocol\/server-|mcp-server|server-mcp|\bmcp[-_][\w-]*server|\bmcp\b.*\bserver\b/i;

/**
 * True for a muxd daemon, by its command line: node running @muxd/daemon's
 * `dist/main.js`, its `bin/muxd.js`, or the linked `muxd` bin.
 */
export function isMuxdCommand(command: string): boolean {
  const [program, script] = command.split(' ');
  const isDaemon = (path: string | undefined) =>
    path !== undefined && (/\/daemon\/dist\/main\.js$/.test(path) || /\/(?:@muxd\/daemon|packages\/daemon)\/bin\/muxd\.js$/.test(path) || basename(path) === 'muxd');
  return isDaemon(program) || (program !== undefined && /^node(\.exe)?$/.test(basename(program)) && isDaemon(script));
}

/** A muxd's home (its state directory), from its environment: readable on Linux, for processes of this user. */
function muxdHome(pid: number): string | undefined {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const env = Object.fromEntries(environ.filter((line) => line.includes('=')).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    return resolvePaths(env).stateDir;
  } catch {
    return undefined;
  }
}

/**
 * MCP servers not started by this muxd: those no muxd started (the
 * processes rewiring would save), and those another muxd runs, told apart
 * by the muxd among their ancestors (muxd spawns each child itself).
 */
async function mcpServers(daemonPid: number | undefined): Promise<{ strays: StrayServer[]; others: OtherMuxdServer[] }> {
  const table = await readProcessTable();
  const ownHome = paths().stateDir;
  /** The pid of the nearest muxd above `info`, if any. */
  const muxdAbove = (info: ProcessInfo): number | undefined => {
    for (let current = table.get(info.ppid), hops = 0; current && hops < 64; current = table.get(current.ppid), hops++) {
      if (current.pid === daemonPid || isMuxdCommand(current.command)) return current.pid;
    }
    return undefined;
  };
  const strays: StrayServer[] = [];
  const others: OtherMuxdServer[] = [];
  for (const info of table.values()) {
    if (info.pid === process.pid || !MCP_SERVER.test(info.command) || /mux-proxy|muxctl/.test(info.command) || isMuxdCommand(info.command)) continue;
    // npm's wrapper and the server it starts are one server: count the leaf.
    const hasServerChild = [...table.values()].some((child) => child.ppid === info.pid && MCP_SERVER.test(child.command));
    if (hasServerChild) continue;
    const muxdPid = muxdAbove(info);
    if (muxdPid === undefined) {
      strays.push({ pid: info.pid, rssBytes: info.rss, command: info.command, parent: table.get(info.ppid)?.command.split(' ')[0] ?? '?' });
      continue;
    }
    if (muxdPid === daemonPid) continue;
    const home = muxdHome(muxdPid);
    // This home's muxd, seen while muxctl could not ask it (it was starting or stopping).
    if (home !== undefined && home === ownHome) continue;
    others.push({ pid: info.pid, rssBytes: info.rss, command: info.command, muxdPid, ...(home === undefined ? {} : { home }) });
  }
  return { strays, others };
}

export const doctorCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'doctor',
  describe: 'Check the setup: service PATH, socket permissions, stale sockets, versions, MCP servers running outside muxd (and those of other muxd instances, apart)',
  handler: async (argv) => {
    const checks: Check[] = [...checkPath(), ...checkSocketDirectory()];
    const daemonRunning = await canConnect(paths().controlSocket);
    let daemonPid: number | undefined;
    if (daemonRunning) {
      const { daemon } = await withDaemon((client) => client.request(ControlMethods.List), { autoStart: false });
      daemonPid = daemon.pid;
      checks.push(
        daemon.version === VERSION
          ? { name: 'versions', level: 'ok', detail: `muxd and muxctl are both ${VERSION}` }
          : { name: 'versions', level: 'warn', detail: `muxd is ${daemon.version}, muxctl is ${VERSION}`, fix: 'muxctl daemon stop && muxctl daemon start' },
      );
      if (daemon.databaseError) checks.push({ name: 'history database', level: 'warn', detail: daemon.databaseError, fix: 'check the disk and the state directory; muxd keeps serving meanwhile' });
      if (daemon.logError) checks.push({ name: 'logs', level: 'warn', detail: daemon.logError, fix: 'free space in the log directory; muxd keeps serving meanwhile' });
    } else {
      checks.push({ name: 'muxd', level: 'warn', detail: 'not running', fix: 'muxctl daemon start (muxctl and mux-proxy also start it on demand)' });
    }
    checks.push(await checkSockets(daemonRunning));
    const configFile = process.env['MUXD_CONFIG'] || (await findConfigFile());
    checks.push(configFile ? { name: 'config', level: 'ok', detail: configFile } : { name: 'config', level: 'warn', detail: 'no config file', fix: 'muxctl import' });
    const { strays, others } = await mcpServers(daemonPid);
    const strayMemory = strays.reduce((sum, stray) => sum + stray.rssBytes, 0);
    checks.push(
      strays.length === 0
        ? { name: 'MCP servers outside muxd', level: 'ok', detail: 'none' }
        : {
            name: 'MCP servers outside muxd',
            level: 'warn',
            detail: `${strays.length} process${strays.length === 1 ? '' : 'es'} using ${formatMemory(strayMemory)}`,
            fix: 'muxctl import && muxctl rewire, then restart those hosts',
          },
    );
    // Another muxd's children (another MUXD_HOME) are not this one's to fold in: listed apart, by home.
    const homes = [...new Set(others.map((other) => other.home ?? `muxd pid ${other.muxdPid}`))];
    if (others.length > 0) {
      checks.push({ name: 'MCP servers of other muxd instances', level: 'ok', detail: `${others.length} process${others.length === 1 ? '' : 'es'} served by another muxd (home ${homes.join(', ')})` });
    }
    if (argv.json) {
      printJson({ checks, strays, otherMuxd: others });
    } else {
      const mark: Record<Level, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };
      const row = (pid: number, rssBytes: number, command: string, from: string) => `      pid ${pid}  ${formatMemory(rssBytes).padStart(6)}  ${command.slice(0, 100)}  (${from})`;
      const listed: Record<string, string[]> = {
        'MCP servers outside muxd': strays.map((stray) => row(stray.pid, stray.rssBytes, stray.command, `from ${stray.parent}`)),
        'MCP servers of other muxd instances': others.map((other) => row(other.pid, other.rssBytes, other.command, `muxd pid ${other.muxdPid}${other.home === undefined ? '' : `, home ${other.home}`}`)),
      };
      for (const check of checks) {
        console.log(`${mark[check.level]}  ${check.name}: ${check.detail}`);
        if (check.fix && check.level !== 'ok') console.log(`      -> ${check.fix}`);
        for (const line of listed[check.name] ?? []) console.log(line);
      }
    }
    if (checks.some((check) => check.level === 'fail')) throw new CliError('doctor found problems that stop muxd from working (marked FAIL)');
  },
};
