import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CommandModule } from 'yargs';
import { findConfigFile } from '@muxd/config';
import { ControlMethods } from '@muxd/protocol';
import { canConnect } from '@muxd/runtime/socket';
import { CliError } from '../cliError.js';
import { notice, paths, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';
import { captureSettings, servicePlan } from '../service/serviceFiles.js';

interface Args extends GlobalArgs {
  dryRun: boolean;
}

/** What `service install` writes and runs. */
export type ServicePlan = ReturnType<typeof servicePlan>;

/** The user service of this platform, for the config muxd uses. Throws `CliError` on a platform with neither systemd nor launchd. */
export async function userServicePlan(): Promise<ServicePlan> {
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    throw new CliError(`muxctl service supports systemd (Linux) and launchd (macOS), not ${process.platform}`);
  }
  const configFile = process.env['MUXD_CONFIG'] || (await findConfigFile());
  return servicePlan(process.platform, captureSettings(process.env, configFile));
}

/** Runs each command, echoing it first; stops at the first failure. */
function run(commands: string[][], dryRun: boolean, tolerate = false): void {
  for (const [command, ...args] of commands) {
    process.stderr.write(`$ ${[command, ...args].join(' ')}\n`);
    if (dryRun || !command) continue;
    const result = spawnSync(command, args, { stdio: 'inherit' });
    if (result.error) throw new CliError(`cannot run ${command}: ${result.error.message}`);
    if (result.status !== 0 && !tolerate) throw new CliError(`${[command, ...args].join(' ')} failed (exit ${result.status})`);
  }
}

/** Writes through a temp file and a rename, so a half-written unit never exists. */
function writeAtomically(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode: 0o644 });
  renameSync(temp, file);
}

/**
 * Installs muxd as a user service from `p` (`servicePlan()`): writes the
 * unit or agent file (unless it is the same already), stops a muxd started
 * by hand (it would hold the lock the service's muxd needs), and runs the
 * manager's commands, each echoed on stderr. With `dryRun` it only echoes
 * the commands. Throws `CliError` when one fails.
 */
export async function installService(p: ServicePlan, dryRun = false): Promise<void> {
  if (dryRun) {
    run(p.install, true);
    return;
  }
  const unchanged = existsSync(p.file) && readFileSync(p.file, 'utf8') === p.content;
  if (!unchanged) writeAtomically(p.file, p.content);
  notice(`${unchanged ? 'unchanged' : 'wrote'} ${p.file}`);
  if (p.logDir) mkdirSync(p.logDir, { recursive: true });
  // A muxd started by hand would hold the lock the service's muxd needs.
  if (await canConnect(paths().controlSocket)) {
    notice('stopping the muxd that is running now, so the service can take over');
    await withDaemon((client) => client.request(ControlMethods.Shutdown), { autoStart: false });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (await canConnect(paths().controlSocket))) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  run(p.install, false);
}

const installCommand: CommandModule<GlobalArgs, Args> = {
  command: 'install',
  describe: 'Install muxd as a user service started at login (systemd or launchd)',
  builder: (yargs) => yargs.option('dry-run', { type: 'boolean', default: false, describe: 'Print the file and the commands; change nothing' }) as never,
  handler: async (argv) => {
    const p = await userServicePlan();
    if (argv.json) printJson({ manager: p.manager, file: p.file, content: p.content, commands: p.install, dryRun: argv.dryRun });
    else if (argv.dryRun) process.stdout.write(`# ${p.file}\n${p.content}`);
    await installService(p, argv.dryRun);
    if (argv.dryRun) return;
    if (p.note) notice(p.note);
    if (!argv.json) console.log(`muxd is installed as a ${p.manager} user service`);
  },
};

const uninstallCommand: CommandModule<GlobalArgs, Args> = {
  command: 'uninstall',
  describe: 'Stop the muxd user service and remove it',
  builder: (yargs) => yargs.option('dry-run', { type: 'boolean', default: false, describe: 'Print the commands; change nothing' }) as never,
  handler: async (argv) => {
    const p = await userServicePlan();
    if (!existsSync(p.file)) {
      if (argv.json) printJson({ manager: p.manager, file: p.file, installed: false });
      else console.log(`muxd is not installed as a ${p.manager} service (no ${p.file})`);
      return;
    }
    run(p.uninstall, argv.dryRun, true);
    process.stderr.write(`$ rm ${p.file}\n`);
    if (!argv.dryRun) rmSync(p.file);
    if (argv.json) printJson({ manager: p.manager, file: p.file, removed: !argv.dryRun, dryRun: argv.dryRun });
    else if (!argv.dryRun) console.log(`removed the ${p.manager} service`);
  },
};

const statusCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'status',
  describe: 'Is muxd installed as a user service, and is it up to date?',
  handler: async (argv) => {
    const p = await userServicePlan();
    const installed = existsSync(p.file);
    const current = installed && readFileSync(p.file, 'utf8') === p.content;
    const running = await canConnect(paths().controlSocket);
    if (argv.json) {
      printJson({ manager: p.manager, file: p.file, installed, upToDate: current, daemonRunning: running });
      return;
    }
    console.log(`${p.manager} service ${installed ? `installed at ${p.file}` : 'not installed'}`);
    if (installed && !current) notice('the installed file differs from what install would write now (node, paths or PATH changed): run muxctl service install');
    console.log(`muxd ${running ? 'is' : 'is not'} running`);
  },
};

export const serviceCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'service <command>',
  describe: 'Install muxd as a systemd or launchd user service',
  builder: (yargs) => yargs.command(installCommand).command(uninstallCommand).command(statusCommand).demandCommand(1) as never,
  handler: () => undefined,
};
