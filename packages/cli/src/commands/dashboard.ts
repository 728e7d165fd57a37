import { spawn } from 'node:child_process';
import type { CommandModule } from 'yargs';
import { ControlMethods } from '@muxd/protocol';
import { CliError, ExitCodes } from '../cliError.js';
import { notice, withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';

interface DashboardArgs extends GlobalArgs {
  open: boolean;
}

/** The command that opens a URL in the desktop's browser, or undefined where muxctl knows none. */
function openerFor(platform: NodeJS.Platform): string | undefined {
  if (platform === 'darwin') return 'open';
  if (platform === 'linux' || platform === 'freebsd' || platform === 'openbsd') return 'xdg-open';
  return undefined;
}

/** Opens `url` in the browser; resolves false (never throws) when no opener could be run. */
function openInBrowser(url: string): Promise<boolean> {
  const opener = openerFor(process.platform);
  if (!opener) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}

export const dashboardCommand: CommandModule<GlobalArgs, DashboardArgs> = {
  command: 'dashboard',
  describe: 'Open the web dashboard (on the HTTP front) with a one-time login link',
  builder: (yargs) =>
    yargs.option('open', {
      type: 'boolean',
      default: true,
      describe: 'Open the link in the browser (--no-open only prints it)',
    }) as never,
  handler: async (argv) => {
    const login = await withDaemon(async (client) => {
      const status = await client.request(ControlMethods.Status);
      if (!status.httpUrl) {
        throw new CliError(`the dashboard is on the HTTP front, which is off: add http: { listen: 127.0.0.1:7777 } to ${status.configFile || "muxd's config"}, then: muxctl reload`, ExitCodes.Usage);
      }
      return client.request(ControlMethods.DashboardLogin);
    });
    const opened = argv.open ? await openInBrowser(login.url) : false;
    if (argv.json) {
      printJson({ url: login.url, expiresAt: login.expiresAt, opened });
      return;
    }
    console.log(login.url);
    if (argv.open && !opened) notice('could not start a browser: open the link above yourself');
    notice(`the link logs in once, within ${Math.max(0, Math.round((login.expiresAt - Date.now()) / 1000))} s`);
  },
};
