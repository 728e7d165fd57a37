import type { CommandModule } from 'yargs';
import { ControlMethods } from '@muxd/protocol';
import type { DaemonStatus } from '@muxd/protocol';
import { readCrashRecord } from '@muxd/runtime/crash';
import type { LastCrash } from '@muxd/protocol';
import { ensureDaemon } from '../daemonLauncher.js';
import { canConnect } from '@muxd/runtime/socket';
import { CliError, ExitCodes } from '../cliError.js';
import { notice, paths, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { formatDuration, formatTime, printJson } from '../format.js';

const startCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'start',
  describe: 'Start muxd in the background (logs go to its log file)',
  handler: async (argv) => {
    let outcome: 'running' | 'started';
    try {
      outcome = await ensureDaemon(paths(), { onStarting: () => notice('starting muxd...') });
    } catch (error) {
      throw new CliError((error as Error).message);
    }
    const status = await withDaemon((client) => client.request(ControlMethods.Status), { autoStart: false });
    if (argv.json) printJson({ outcome, ...status });
    else console.log(outcome === 'started' ? `muxd started (pid ${status.pid})` : `muxd is already running (pid ${status.pid})`);
  },
};

const stopCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'stop',
  describe: 'Shut muxd down: stop every child and remove the sockets',
  handler: async (argv) => {
    const home = paths();
    if (!(await canConnect(home.controlSocket))) {
      if (argv.json) printJson({ stopped: false, running: false });
      else console.log('muxd is not running');
      return;
    }
    const { pid } = await withDaemon((client) => client.request(ControlMethods.Shutdown), { autoStart: false });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 50));
    if (isAlive(pid)) throw new CliError(`muxd (pid ${pid}) is still shutting down after 30 s`);
    if (argv.json) printJson({ stopped: true, pid });
    else console.log(`muxd stopped (pid ${pid})`);
  },
};

/** "last crash  2026-01-02 03:04:05Z (5m ago), pid 42: Error: boom (full stack in FILE)" */
function crashLine(crash: LastCrash): string {
  return `last crash  ${formatTime(crash.at)} (${formatDuration(Date.now() - crash.at)} ago), pid ${crash.pid}: ${crash.message} (full stack in ${crash.file})`;
}

const statusCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'status',
  describe: 'Is muxd running? Its pid, version, uptime, config and directories, and how it last crashed',
  handler: async (argv) => {
    let status: DaemonStatus;
    try {
      status = await withDaemon((client) => client.request(ControlMethods.Status), { autoStart: false });
    } catch (error) {
      if (error instanceof CliError && error.exitCode === ExitCodes.NotRunning) {
        // Read here: no daemon runs to read it.
        const lastCrash = readCrashRecord(paths());
        if (argv.json) printJson({ running: false, lastCrash });
        else console.log(['muxd is not running', ...(lastCrash ? [crashLine(lastCrash)] : [])].join('\n'));
        process.exitCode = ExitCodes.NotRunning;
        return;
      }
      throw error;
    }
    if (argv.json) {
      printJson({ running: true, ...status });
      return;
    }
    console.log(`muxd ${status.version} running, pid ${status.pid}, up ${formatDuration(Date.now() - status.startedAt)}`);
    console.log(`config   ${status.configFile || '(none)'}`);
    console.log(`sockets  ${status.home.runDir}`);
    console.log(`state    ${status.home.stateDir}`);
    console.log(`logs     ${status.home.logDir}`);
    if (status.lastCrash) console.log(crashLine(status.lastCrash));
    if (status.databaseError) notice(`history is not being saved: ${status.databaseError}`);
    if (status.logError) notice(`logs are not being written: ${status.logError}`);
  },
};

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const daemonCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'daemon <command>',
  describe: 'Start, stop or inspect muxd itself',
  builder: (yargs) => yargs.command(startCommand).command(stopCommand).command(statusCommand).demandCommand(1) as never,
  handler: () => undefined,
};
