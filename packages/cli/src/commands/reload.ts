import type { CommandModule } from 'yargs';
import { ControlMethods } from '@muxd/protocol';
import { notice, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';

interface ReloadArgs extends GlobalArgs {
  allowEmpty: boolean;
}

export const reloadCommand: CommandModule<GlobalArgs, ReloadArgs> = {
  command: 'reload',
  describe: 'Re-read the config: start new services, stop removed ones, restart changed ones, keep the rest, and apply the http block',
  builder: (yargs) =>
    yargs.option('allow-empty', {
      type: 'boolean',
      default: false,
      describe: 'Apply a config that defines no services (stopping every one); refused otherwise, as a truncated file looks the same',
    }) as never,
  handler: async (argv) => {
    const result = await withDaemon((client) => client.request(ControlMethods.Reload, { allowEmpty: argv.allowEmpty }));
    if (argv.json) {
      printJson(result);
      return;
    }
    console.log(`reloaded ${result.configFile}`);
    const show = (label: string, names: string[]) => {
      if (names.length > 0) console.log(`  ${label}: ${names.join(', ')}`);
    };
    show('added', result.added);
    show('removed', result.removed);
    show('restarted (changed)', result.changed);
    show('unchanged', result.unchanged);
    for (const note of result.notes) notice(note);
  },
};
