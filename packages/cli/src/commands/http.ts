import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { ControlMethods } from '@muxd/protocol';
import type { DaemonStatus } from '@muxd/protocol';
import { CliError } from '../cliError.js';
import { paths, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';

/** The token muxd wrote at its first start with HTTP enabled; muxctl only reads the file. */
function readToken(): { token: string; file: string } {
  const file = paths().httpTokenFile;
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(`no HTTP token yet (${file}): muxd writes it when it starts with an http block in its config, such as http: { listen: "127.0.0.1:7777" }`);
    }
    throw new CliError(`cannot read the HTTP token: ${(error as Error).message}`);
  }
  return { token, file };
}

const tokenCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'token',
  describe: 'Print the bearer token HTTP clients send (Authorization: Bearer <token>)',
  handler: (argv) => {
    const { token, file } = readToken();
    if (argv.json) printJson({ token, file });
    else console.log(token);
  },
};

interface UrlArgs extends GlobalArgs {
  service: string | undefined;
}

const urlCommand: CommandModule<GlobalArgs, UrlArgs> = {
  command: 'url [service]',
  describe: "The HTTP front's base URL, or a service's endpoint",
  builder: (yargs) => yargs.positional('service', { type: 'string', describe: 'Service name' }),
  handler: async (argv) => {
    const status = await withDaemon((client) => client.request<DaemonStatus>(ControlMethods.Status));
    if (!status.httpUrl) throw new CliError('the HTTP front is off: add http: { listen: "127.0.0.1:7777" } to the config and restart muxd');
    const url = argv.service === undefined ? status.httpUrl : `${status.httpUrl}/mcp/${encodeURIComponent(argv.service)}`;
    if (argv.json) printJson({ url });
    else console.log(url);
  },
};

export const httpCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'http <command>',
  describe: "The Streamable HTTP front: its token and URLs",
  builder: (yargs) => yargs.command(tokenCommand).command(urlCommand).demandCommand(1) as never,
  handler: () => undefined,
};
