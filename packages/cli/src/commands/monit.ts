import type { CommandModule } from 'yargs';
import { CliError, ExitCodes } from '../cliError.js';
import type { GlobalArgs } from '../context.js';

export const monitCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'monit',
  describe: "Live view of the services (sessions, requests, latency, memory, CPU) and the selected one's log; restart, stop, start and history from the keyboard",
  builder: (yargs) =>
    yargs.epilogue(
      'Keys: ↑/↓ or j/k select a service, r restart, s stop, t (or S) start, h restart history (Esc closes it), q or Ctrl-C quit. ' +
        'monit never starts muxd: while it is not running, monit says so and keeps trying.',
    ),
  handler: async (argv) => {
    if (argv.json || !process.stdin.isTTY || !process.stdout.isTTY) {
      throw new CliError('monit needs a terminal; from a script, use muxctl ls --json (services, memory, CPU) instead', ExitCodes.Usage);
    }
    // ink prints only its last frame when it believes it runs in CI; monit has a terminal (checked above), so it draws live.
    delete process.env['CI'];
    delete process.env['CONTINUOUS_INTEGRATION'];
    // Loaded here so no other command pays for React and ink.
    const { runMonit } = await import('../monit/runMonit.js');
    await runMonit();
  },
};
