import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { findConfigFile, parseListen } from '@muxd/config';
import { ControlMethods } from '@muxd/protocol';
import type { DaemonStatus } from '@muxd/protocol';
import { CliError, ExitCodes } from '../cliError.js';
import { paths, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';
import { readMuxConfig } from '@muxd/hosts';
import type { MuxdMarks } from '@muxd/hosts';

/** The token muxd wrote at its first start with HTTP enabled; muxctl only reads the file. Throws `CliError`. */
export function readHttpToken(): { token: string; file: string } {
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

/** The base URL an `http.listen` value gives (`http://127.0.0.1:7777`); undefined for port 0 (muxd picks one then) or an invalid value. */
export function listenUrl(listen: string | number): string | undefined {
  const parsed = parseListen(listen);
  if (!parsed || parsed.port === 0) return undefined;
  return `http://${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${parsed.port}`;
}

/**
 * The running muxd's HTTP front: its base URL (from the daemon's status) and
 * the token. Never starts muxd. Throws `CliError` when muxd is not running,
 * its HTTP front is off, or the token cannot be read.
 */
export async function runningHttpFront(): Promise<{ url: string; token: string }> {
  let status: DaemonStatus;
  try {
    status = await withDaemon((client) => client.request(ControlMethods.Status), { autoStart: false });
  } catch (error) {
    if (error instanceof CliError && error.exitCode === ExitCodes.NotRunning) {
      throw new CliError('muxd is not running, and the HTTP URL comes from it: start it with muxctl daemon start (its config needs http: { listen: 127.0.0.1:7777 })', ExitCodes.NotRunning);
    }
    throw error;
  }
  if (!status.httpUrl) {
    throw new CliError(`the HTTP front is off: add http: { listen: 127.0.0.1:7777 } to ${status.configFile || "muxd's config"}, then: muxctl reload`, ExitCodes.Usage);
  }
  return { url: status.httpUrl, token: readHttpToken().token };
}

/**
 * Base URLs of muxd's HTTP front that host entries may point at: the running
 * daemon's, and the one its config file names. Asks a running muxd only
 * (never starts one); empty when neither is known.
 */
export async function knownHttpUrls(): Promise<string[]> {
  const urls = new Set<string>();
  let configFile: string | undefined;
  try {
    const status = await withDaemon((client) => client.request(ControlMethods.Status), { autoStart: false });
    if (status.httpUrl) urls.add(status.httpUrl);
    configFile = status.configFile || undefined;
  } catch {
    configFile = process.env['MUXD_CONFIG'] || (await findConfigFile());
  }
  if (configFile) {
    try {
      const { httpListen } = await readMuxConfig(configFile);
      const url = httpListen === undefined ? undefined : listenUrl(httpListen);
      if (url) urls.add(url);
    } catch {
      // An unreadable config names no URL; the daemon's (if any) still counts.
    }
  }
  return [...urls];
}

/** The HTTP front's token when muxd wrote one (undefined otherwise): to recognise entries that send it. */
export function knownHttpToken(): string | undefined {
  try {
    return readFileSync(paths().httpTokenFile, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * What marks a host entry as muxd's already: the mux-proxy path muxctl
 * writes, and the base URLs and token of muxd's HTTP front.
 */
export async function muxdMarks(proxyCommand: string | undefined): Promise<MuxdMarks> {
  return { proxyCommand, httpUrls: await knownHttpUrls(), httpToken: knownHttpToken() };
}

const tokenCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'token',
  describe: 'Print the bearer token HTTP clients send (Authorization: Bearer <token>)',
  handler: (argv) => {
    const { token, file } = readHttpToken();
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
    const status = await withDaemon((client) => client.request(ControlMethods.Status));
    if (!status.httpUrl) throw new CliError('the HTTP front is off: add http: { listen: "127.0.0.1:7777" } to the config, then: muxctl reload');
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
