import type { Argv } from 'yargs';
import { findConfigFile, loadConfigFile } from '@muxd/config';
import { ControlMethods } from '@muxd/protocol';
import { ControlClient } from './controlClient.js';
import { paths } from './context.js';
import type { GlobalArgs } from './context.js';

/** The command that prints the shell script (`muxctl completion >> ~/.bashrc`). */
export const COMPLETION_COMMAND = 'completion';

/** What `muxctl --help` says of it. */
export const COMPLETION_DESCRIPTION = 'Print a bash or zsh completion script (commands, flags, service names)';

/** How long completion waits for a running muxd's answer before reading the config file instead, in ms. */
const DAEMON_TIMEOUT_MS = 700;

/** Commands whose first argument is a service name; the value says whether `all` is one too. */
const NAME_COMMANDS: ReadonlyMap<string, boolean> = new Map([
  ['start', true],
  ['stop', true],
  ['restart', true],
  ['describe', false],
  ['health', false],
  ['logs', false],
  ['history', false],
  ['update', false],
  ['http url', false],
]);

/** yargs' completion callback with its default completions (commands and flags) passed in. */
type DefaultCompletions = (onCompleted?: (error: Error | null, completions: string[] | undefined) => void) => void;

/**
 * yargs' completion function for muxctl (`.completion(COMPLETION_COMMAND,
 * COMPLETION_DESCRIPTION, completeMuxctl)`): the commands and flags yargs
 * knows, plus service names where a command takes one. Names come from
 * the running muxd, or, when it does not answer within a moment, from the
 * config file muxd would use; completion never starts muxd, and a failure
 * to find names only leaves them out.
 */
export function completeMuxctl(current: string, _argv: unknown, defaults: DefaultCompletions, done: (completions: string[]) => void): void {
  defaults((error, completions) => {
    const known = error ? [] : (completions ?? []);
    const command = serviceCommandBeingCompleted(completionWords(), current);
    if (command === undefined) {
      done(known);
      return;
    }
    void serviceNames().then((names) => {
      const all = NAME_COMMANDS.get(command) ? ['all'] : [];
      // Service names are the only thing that fits here; flags only once one is typed.
      const flags = current.startsWith('-') ? known : [];
      done([...new Set([...names, ...all, ...flags])].filter((word) => word.startsWith(current)));
    });
  });
}

/** The option the completion script runs muxctl with: `muxctl --get-yargs-completions muxctl WORDS...`. */
const COMPLETION_OPTION = '--get-yargs-completions';

/** True when the shell asks muxctl for completions rather than running a command. */
export function isCompletionRequest(argv: readonly string[] = process.argv): boolean {
  return argv.includes(COMPLETION_OPTION);
}

/**
 * Prints the completions of the words after `--get-yargs-completions`, one
 * a line. Goes through `cli.getCompletion` instead of parsing: a parse would
 * run the command being completed (`muxctl start <TAB>` would start things).
 */
export async function printCompletions(cli: Argv<GlobalArgs>): Promise<void> {
  const at = process.argv.indexOf(COMPLETION_OPTION);
  const completions = await cli.getCompletion(process.argv.slice(at + 1));
  for (const completion of completions) process.stdout.write(`${completion}\n`);
}

/** The words the shell passed after `--get-yargs-completions`, without the program name. */
function completionWords(): string[] {
  const at = process.argv.indexOf(COMPLETION_OPTION);
  return at < 0 ? [] : process.argv.slice(at + 2);
}

/**
 * The command (as in NAME_COMMANDS) whose service name `current`, the last
 * word, is, or undefined when it is none. Flags, and numbers (`logs -n 50`),
 * are skipped.
 */
export function serviceCommandBeingCompleted(words: string[], current: string): string | undefined {
  if (current.startsWith('-')) return undefined;
  const before = words.slice(0, -1).filter((word) => word !== '' && !word.startsWith('-') && !/^\d+$/.test(word));
  const command = before.join(' ');
  return NAME_COMMANDS.has(command) ? command : undefined;
}

/** Every service name the running muxd lists, else those the config file defines; [] when neither answers. */
async function serviceNames(): Promise<string[]> {
  const fromDaemon = await withTimeout(namesFromDaemon(), DAEMON_TIMEOUT_MS).catch(() => undefined);
  if (fromDaemon) return fromDaemon;
  return namesFromConfig().catch(() => []);
}

async function namesFromDaemon(): Promise<string[]> {
  const client = await ControlClient.connect(paths(), { autoStart: false, notice: () => undefined });
  try {
    const list = await client.request(ControlMethods.List);
    return list.services.map((row) => row.name);
  } finally {
    client.close();
  }
}

/**
 * The names the config file defines. Variables the shell does not have
 * (a token muxd gets from its own environment) read as empty: only the
 * names are needed, and completion must not fail for a secret.
 */
async function namesFromConfig(): Promise<string[]> {
  const file = process.env['MUXD_CONFIG'] || (await findConfigFile());
  if (!file) return [];
  const env = new Proxy(
    { ...process.env },
    {
      getOwnPropertyDescriptor: (target, key) => Object.getOwnPropertyDescriptor(target, key) ?? { value: '', writable: true, enumerable: true, configurable: true },
      get: (target, key) => (typeof key === 'string' ? (target[key] ?? '') : undefined),
    },
  );
  const config = await loadConfigFile(file, env);
  return [...config.services.keys()];
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
