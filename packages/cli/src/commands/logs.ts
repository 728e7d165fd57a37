import type { CommandModule } from 'yargs';
import { ControlMethods } from '@muxd/protocol';
import { withDaemon } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { tailLogs } from '../logTail.js';

interface Args extends GlobalArgs {
  name: string | undefined;
  follow: boolean;
  lines: number;
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'pid', 'msg', 'stream']);

/** One pino NDJSON line as text: "time LEVEL message key=value...", child stderr as "time stderr | line". */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof entry['time'] === 'string' ? entry['time'] : '';
  if (entry['stream'] === 'stderr') return `${time} stderr | ${String(entry['msg'] ?? '')}`;
  const level = LEVELS[Number(entry['level'])] ?? String(entry['level']);
  const extra = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${time} ${level.padEnd(5)} ${String(entry['msg'] ?? '')}${extra ? `  ${extra}` : ''}`;
}

export const logsCommand: CommandModule<GlobalArgs, Args> = {
  command: 'logs [name]',
  describe: "Show a service's log (child stderr and lifecycle events), or muxd's own log",
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', describe: 'Service name; omit for the daemon log' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'Keep printing new lines' })
      .option('lines', { alias: 'n', type: 'number', default: 50, describe: 'How many recent lines' }) as never,
  handler: async (argv) => {
    const print = (lines: string[]) => {
      for (const line of lines) process.stdout.write((argv.json ? line : formatLogLine(line)) + '\n');
    };
    if (argv.follow) {
      const tail = await tailLogs({ name: argv.name, lines: argv.lines, autoStart: true, onLines: print });
      // Until interrupted or muxd goes away.
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        void tail.closed.then(() => resolve());
      });
      tail.close();
      return;
    }
    const params = argv.name === undefined ? { lines: argv.lines } : { name: argv.name, lines: argv.lines };
    await withDaemon(async (client) => print((await client.request(ControlMethods.Logs, params)).lines));
  },
};
