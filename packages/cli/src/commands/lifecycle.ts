import type { CommandModule } from 'yargs';
import { ControlMethods } from '@muxd/protocol';
import { CliError } from '../cliError.js';
import { withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';

interface Args extends GlobalArgs {
  name: string;
}

/** What each action should leave a service as. */
const EXPECTED: Record<string, readonly string[]> = {
  start: ['online', 'idle'],
  restart: ['online', 'idle'],
  stop: ['stopped'],
};

function lifecycleCommand(action: 'start' | 'stop' | 'restart', describe: string): CommandModule<GlobalArgs, Args> {
  const method = { start: ControlMethods.Start, stop: ControlMethods.Stop, restart: ControlMethods.Restart }[action];
  return {
    command: `${action} <name>`,
    describe,
    builder: (yargs) => yargs.positional('name', { type: 'string', demandOption: true, describe: 'Service name, or "all"' }),
    handler: async (argv) => {
      const result = await withDaemon((client) => client.request(method, { name: argv.name }));
      if (argv.json) printJson(result);
      const failed = result.services.filter((service) => !EXPECTED[action]?.includes(service.status));
      if (!argv.json) {
        for (const service of result.services) {
          const pids = service.pids.length > 0 ? ` (pid ${service.pids.join(', ')})` : '';
          console.log(`${service.name}: ${service.status}${pids}`);
        }
      }
      if (failed.length > 0) {
        throw new CliError(failed.map((service) => `${service.name} did not ${action}: ${service.error ?? `it is ${service.status}`}`).join('\n'));
      }
    },
  };
}

export const startCommand = lifecycleCommand('start', 'Start a service (or revive an errored one); waits until it is up');
export const stopCommand = lifecycleCommand('stop', 'Stop a service after its in-flight requests (up to stopTimeout); it stays stopped');
export const restartCommand = lifecycleCommand('restart', 'Restart a service; connected clients stay connected');
