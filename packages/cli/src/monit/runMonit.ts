import { constants } from 'node:os';
import { CliError } from '../cliError.js';
import { MonitApp } from './monitApp.js';
import { loadUi } from './ui.js';

// ink draws in place below the cursor; monit takes the whole screen as pm2 monit does, and gives it back.
const ENTER_ALTERNATE_SCREEN = '\u001b[?1049h';
const LEAVE_ALTERNATE_SCREEN = '\u001b[?1049l';
const SHOW_CURSOR = '\u001b[?25h';

const SIGNALS = ['SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `muxctl monit` in the terminal until `q` or Ctrl-C. On every way out
 * (those keys, SIGTERM or SIGHUP, an error while drawing) the terminal is
 * given back as it was: raw mode off, cursor shown, alternate screen left.
 * Throws `CliError` (exit 128 + the signal's number) when a signal ended it,
 * and rethrows what failed while drawing.
 */
export async function runMonit(): Promise<void> {
  const {
    react: { createElement },
    ink: { render },
  } = await loadUi();
  const { stdin, stdout } = process;
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    if (stdin.isTTY) stdin.setRawMode(false);
    stdout.write(SHOW_CURSOR + LEAVE_ALTERNATE_SCREEN);
  };
  // Last resort when something ends the process before the finally below runs.
  process.once('exit', restore);
  stdout.write(ENTER_ALTERNATE_SCREEN);
  let signalled: (typeof SIGNALS)[number] | undefined;
  const instance = render(createElement(MonitApp), { exitOnCtrlC: false, patchConsole: true });
  const onSignal = (signal: (typeof SIGNALS)[number]) => {
    signalled = signal;
    instance.unmount();
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    await instance.waitUntilExit();
  } finally {
    for (const signal of SIGNALS) process.off(signal, onSignal);
    instance.unmount();
    restore();
    process.off('exit', restore);
  }
  if (signalled) throw new CliError(`monit ended by ${signalled}`, 128 + constants.signals[signalled]);
}
