import type { CommandModule } from 'yargs';
import { ControlMethods } from '@muxd/protocol';
import { CliError } from '../cliError.js';
import { withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson, table } from '../format.js';
import { RUN_COLUMNS, runRow } from '../historyRows.js';

interface Args extends GlobalArgs {
  name: string | undefined;
  limit: number;
}

export const historyCommand: CommandModule<GlobalArgs, Args> = {
  command: 'history [name]',
  describe: 'Runs and restarts, newest first: start, end, pid, exit code or signal, reason',
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', describe: 'Service name; omit for all' })
      .option('limit', { alias: 'n', type: 'number', default: 20, describe: 'How many runs' }) as never,
  handler: async (argv) => {
    const params = argv.name === undefined ? { limit: argv.limit } : { name: argv.name, limit: argv.limit };
    const result = await withDaemon((client) => client.request(ControlMethods.History, params));
    if (argv.json) {
      printJson(result);
    } else if (result.runs.length === 0 && !result.databaseError) {
      console.log('no runs recorded');
    } else {
      console.log(table(['SERVICE', ...RUN_COLUMNS], result.runs.map((run) => [run.service, ...runRow(run)])));
    }
    if (result.databaseError) throw new CliError(`history unavailable: ${result.databaseError}`);
  },
};
