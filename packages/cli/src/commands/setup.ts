import { intro, log, note, outro, spinner } from '@clack/prompts';
import type { CommandModule } from 'yargs';
import { MuxdTransports } from '@muxd/hosts';
import type { MuxdTransport } from '@muxd/hosts';
import { CliError, ExitCodes } from '../cliError.js';
import { notice } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';
import { applySetup } from '../setup/applySetup.js';
import type { SetupChoices, SetupProgress } from '../setup/applySetup.js';
import { choicesFromFlags } from '../setup/choicesFromFlags.js';
import { gatherSetup } from '../setup/setupPlan.js';
import type { SetupContext } from '../setup/setupPlan.js';
import { setupSummary } from '../setup/setupSummary.js';
import { askChoices, spinnerProgress } from '../setup/setupWizard.js';

interface SetupArgs extends GlobalArgs {
  yes: boolean;
  servers: string | undefined;
  hosts: string | undefined;
  transport: MuxdTransport | undefined;
  'service-install': boolean;
  'dry-run': boolean;
  project: string | undefined;
}

/** Progress as lines on stderr (stdout stays for the summary or the JSON). */
const lineProgress: SetupProgress = {
  start: (message) => notice(`${message}...`),
  stop: (message) => notice(message),
};

export const setupCommand: CommandModule<GlobalArgs, SetupArgs> = {
  command: 'setup',
  describe: "Move the hosts' MCP servers onto muxd: pick servers and hosts, then import, start muxd, check health and rewire",
  builder: (yargs) =>
    yargs
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Ask nothing: use the flags below (all servers and hosts by default)' })
      .option('servers', { type: 'string', describe: 'With --yes: servers to run in muxd, comma-separated, or all (default)' })
      .option('hosts', { type: 'string', describe: 'With --yes: hosts to rewire, comma-separated host ids, or all (default)' })
      .option('transport', { choices: MuxdTransports, describe: 'With --yes: stdio (mux-proxy) or http (muxd\'s HTTP front, for hosts that speak it)' })
      .option('service-install', { type: 'boolean', default: false, describe: 'With --yes: install muxd as a user service started at login (--no-service-install: do not)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Show what setup would do; write nothing, start nothing' })
      .option('project', { type: 'string', describe: 'Project whose project-scope files to read (default: the current directory)' }) as never,
  handler: async (argv) => {
    const dryRun = argv['dry-run'];
    if (argv.json && !argv.yes) throw new CliError('--json needs --yes: the wizard asks its questions in a terminal', ExitCodes.Usage);
    const flagged = (['servers', 'hosts', 'transport'] as const).filter((flag) => argv[flag] !== undefined);
    if (!argv.yes && flagged.length > 0) throw new CliError(`${flagged.map((flag) => `--${flag}`).join(', ')} go${flagged.length === 1 ? 'es' : ''} with --yes; without it, the wizard asks`, ExitCodes.Usage);
    if (!argv.yes && !(process.stdin.isTTY && process.stdout.isTTY)) {
      throw new CliError('muxctl setup asks questions in a terminal; without one, pass --yes (with --servers, --hosts, --transport as needed)', ExitCodes.Usage);
    }
    const interactive = !argv.yes;
    let context: SetupContext;
    let choices: SetupChoices | undefined;
    if (interactive) {
      intro(dryRun ? 'muxctl setup (dry run)' : 'muxctl setup');
      const spin = spinner();
      spin.start("reading the hosts' configs and looking for running servers");
      try {
        context = await gatherSetup(argv.project);
      } catch (error) {
        spin.error('could not read the setup');
        throw error;
      }
      spin.stop(`${context.servers.length} server${context.servers.length === 1 ? '' : 's'} found in ${context.found.entries.length} host file${context.found.entries.length === 1 ? '' : 's'}`);
      choices = await askChoices(context, dryRun);
      if (!choices) {
        outro('nothing changed');
        return;
      }
    } else {
      context = await gatherSetup(argv.project);
      choices = await choicesFromFlags(context, { servers: argv.servers, hosts: argv.hosts, transport: argv.transport, serviceInstall: argv['service-install'] });
    }
    const result = await applySetup(context, choices, dryRun, interactive ? spinnerProgress() : lineProgress);
    if (argv.json) {
      printJson(result);
    } else if (interactive) {
      note(setupSummary(result).join('\n'), 'Summary');
      if (result.problems.length === 0) outro(dryRun ? 'dry run: nothing was written' : 'everything configured goes through muxd now');
      else log.error(`${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`);
    } else {
      console.log(setupSummary(result).join('\n'));
    }
    if (result.problems.length > 0) throw new CliError(result.problems.join('; '));
  },
};
