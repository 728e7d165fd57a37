#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { MuxErrorCodes, RpcError, resolvePaths } from '@muxd/protocol';
import { CliError, ExitCodes } from './cliError.js';
import { configCommand } from './commands/config.js';
import { COMPLETION_COMMAND, COMPLETION_DESCRIPTION, completeMuxctl, isCompletionRequest, printCompletions } from './completion.js';
import { daemonCommand } from './commands/daemon.js';
import { dashboardCommand } from './commands/dashboard.js';
import { describeCommand } from './commands/describe.js';
import { doctorCommand } from './commands/doctor.js';
import { healthCommand } from './commands/health.js';
import { hostsCommand } from './commands/hosts.js';
import { httpCommand } from './commands/http.js';
import { historyCommand } from './commands/history.js';
import { importCommand } from './commands/import.js';
import { restartCommand, startCommand, stopCommand } from './commands/lifecycle.js';
import { logsCommand } from './commands/logs.js';
import { lsCommand } from './commands/ls.js';
import { monitCommand } from './commands/monit.js';
import { reloadCommand } from './commands/reload.js';
import { rewireCommand } from './commands/rewire.js';
import { serviceCommand } from './commands/service.js';
import { updateCommand } from './commands/update.js';
import { setupCommand } from './commands/setup.js';
import { VERSION } from './version.js';

/** The one place muxctl turns an error into a message and an exit code. */
function report(error: unknown): number {
  if (error instanceof CliError) {
    process.stderr.write(`muxctl: ${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof RpcError) {
    process.stderr.write(`muxctl: ${error.message}\n`);
    // A config muxd could not load (reload) exits as `config check` does.
    const code = (error.data as { code?: unknown } | undefined)?.code;
    return code === MuxErrorCodes.ConfigInvalid || code === MuxErrorCodes.ConfigNotFound ? ExitCodes.Usage : ExitCodes.Failure;
  }
  const logDir = resolvePaths().logDir;
  process.stderr.write(`muxctl: internal error: ${(error as Error)?.stack ?? String(error)}\n(muxd's log is in ${logDir}/daemon)\n`);
  return ExitCodes.Failure;
}

let usageError: string | undefined;
const cli = yargs(hideBin(process.argv))
  .scriptName('muxctl')
  .usage('$0 <command>\n\nControl muxd, the supervisor that shares each MCP server among all your sessions.')
  .option('json', { type: 'boolean', default: false, describe: 'Print machine-readable JSON' })
  .command(lsCommand)
  .command(describeCommand)
  .command(startCommand)
  .command(stopCommand)
  .command(restartCommand)
  .command(logsCommand)
  .command(monitCommand)
  .command(historyCommand)
  .command(healthCommand)
  .command(reloadCommand)
  .command(configCommand)
  .command(daemonCommand)
  .command(hostsCommand)
  .command(importCommand)
  .command(rewireCommand)
  .command(serviceCommand)
  .command(setupCommand)
  .command(doctorCommand)
  .command(httpCommand)
  .command(dashboardCommand)
  .command(updateCommand)
  .completion(COMPLETION_COMMAND, COMPLETION_DESCRIPTION, completeMuxctl)
  .demandCommand(1, 'name a command (muxctl --help lists them)')
  .recommendCommands()
  .strict()
  .version(VERSION)
  .help()
  .fail((message, error) => {
    if (error) throw error;
    usageError = message;
  });

try {
  if (isCompletionRequest()) await printCompletions(cli);
  else await cli.parseAsync();
  if (usageError !== undefined) {
    process.stderr.write(`muxctl: ${usageError}\n(muxctl --help lists the commands)\n`);
    process.exitCode = ExitCodes.Usage;
  }
} catch (error) {
  process.exitCode = report(error);
}
