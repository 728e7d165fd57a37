import type { CommandModule } from 'yargs';
import { ControlMethods, UPDATE_PROGRESS_NOTIFICATION } from '@muxd/protocol';
import type { UpdateResult } from '@muxd/protocol';
import { CliError } from '../cliError.js';
import { withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';

interface Args extends GlobalArgs {
  name: string | undefined;
}

/** One service's line: `memory: @scope/pkg 1.0.0 -> 1.1.0 (restarted)`. */
function describeOutcome(service: UpdateResult['services'][number]): string {
  const what = service.package ?? 'no package';
  if (service.failed) return `${service.name}: ${what} ${service.from ?? '-'}: update failed: ${service.note ?? 'unknown error'}`;
  const versions = service.from !== null && service.from === service.to ? `${service.to} (already the newest)` : `${service.from ?? '-'} -> ${service.to ?? '-'}`;
  const restarted = service.restarted ? ' (restarted)' : '';
  return `${service.name}: ${what} ${versions}${restarted}${service.note ? `; ${service.note}` : ''}`;
}

export const updateCommand: CommandModule<GlobalArgs, Args> = {
  command: 'update [name]',
  describe: 'Install the newest version of the package a runner service (npx ...) runs, then restart it; clients stay connected',
  builder: (yargs) => yargs.positional('name', { type: 'string', describe: 'Service name; every service that runs a package runner when left out' }),
  handler: async (argv) => {
    const result = await withDaemon((client) => client.request(ControlMethods.Update, argv.name === undefined ? {} : { name: argv.name }), {
      onNotification: (method, params) => {
        // Progress goes to stderr, so --json output stays parseable.
        if (method !== UPDATE_PROGRESS_NOTIFICATION) return;
        const { service, line } = params;
        if (typeof service === 'string' && typeof line === 'string') process.stderr.write(`${service}: ${line}\n`);
      },
    });
    if (argv.json) printJson(result);
    else if (result.services.length === 0) console.log('no service runs a package runner (npx, npm exec, pnpm dlx, yarn dlx, bunx): nothing to update');
    else for (const service of result.services) console.log(describeOutcome(service));
    const failed = result.services.filter((service) => service.failed);
    if (failed.length > 0) throw new CliError(`update failed for ${failed.map((service) => service.name).join(', ')}; the old version keeps running`);
  },
};
