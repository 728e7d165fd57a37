import type { CommandModule } from 'yargs';
import { ControlMethods } from '@muxd/protocol';
import type { ReloadResult } from '@muxd/protocol';
import { notice, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';

export const reloadCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'reload',
  describe: 'Re-read the config: start new services, stop removed ones, restart changed ones, keep the rest, and apply the http block',
  handler: async (argv) => {
    const result = await withDaemon((client) => client.request<ReloadResult>(ControlMethods.Reload));
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
