import type { CommandModule } from 'yargs';
import { findConfigFile, loadConfigFile, requireServices } from '@muxd/config';
import { ControlMethods } from '@muxd/protocol';
import { CliError, ExitCodes } from '../cliError.js';
import { notice, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';

interface CheckArgs extends GlobalArgs {
  file: string | undefined;
  allowEmpty: boolean;
}

/** The config file muxd uses: the running daemon's, else `$MUXD_CONFIG`, else the one muxd would find. */
export async function configFileInUse(): Promise<{ file: string | undefined; from: 'daemon' | 'search' }> {
  try {
    const status = await withDaemon((client) => client.request(ControlMethods.Status), { autoStart: false });
    return { file: status.configFile || undefined, from: 'daemon' };
  } catch {
    return { file: process.env['MUXD_CONFIG'] || (await findConfigFile()), from: 'search' };
  }
}

const checkCommand: CommandModule<GlobalArgs, CheckArgs> = {
  command: 'check [file]',
  describe: 'Validate a config file (default: the one muxd uses)',
  builder: (yargs) =>
    yargs
      .positional('file', { type: 'string', describe: 'Config file' })
      .option('allow-empty', { type: 'boolean', default: false, describe: 'Accept a config that defines no services (an empty file fails otherwise, as a truncated one looks the same)' }) as never,
  handler: async (argv) => {
    const file = argv.file ?? (await configFileInUse()).file;
    if (!file) throw new CliError('no config file found; pass one: muxctl config check FILE', ExitCodes.Usage);
    let config;
    try {
      config = await loadConfigFile(file);
    } catch (error) {
      throw new CliError((error as Error).message, ExitCodes.Usage);
    }
    if (!argv.allowEmpty) {
      try {
        requireServices(config, '--allow-empty accepts that');
      } catch (error) {
        throw new CliError((error as Error).message, ExitCodes.Failure);
      }
    }
    const services = [...config.services.keys()];
    if (argv.json) printJson({ file: config.file, valid: true, services, notes: config.notes });
    else console.log(`${config.file}: valid, ${services.length} service${services.length === 1 ? '' : 's'}${services.length ? `: ${services.join(', ')}` : ''}`);
    if (!argv.json) for (const note of config.notes) notice(note);
  },
};

const pathCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'path',
  describe: 'Print the config file muxd uses',
  handler: async (argv) => {
    const { file, from } = await configFileInUse();
    if (argv.json) printJson({ file: file ?? null, from });
    else if (file) console.log(file);
    else throw new CliError('no config file found (muxctl import writes one)', ExitCodes.Failure);
  },
};

export const configCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'config <command>',
  describe: 'Check the config or show where it is',
  builder: (yargs) => yargs.command(checkCommand).command(pathCommand).demandCommand(1) as never,
  handler: () => undefined,
};
