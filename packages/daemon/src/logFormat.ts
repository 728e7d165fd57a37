import type { DestinationStream } from 'pino';
import { MuxError, MuxErrorCodes } from '@muxd/protocol';

/** How muxd's log reads on its terminal in the foreground. Log files are always JSON lines. */
export const LogFormat = {
  /** One JSON object a line, as in the log files: for pipes, journald, log shippers. */
  Json: 'json',
  /** pino-pretty's lines: time, level, message, fields; coloured on a terminal. */
  Pretty: 'pretty',
  /** Pretty on a terminal, JSON otherwise (the default). */
  Auto: 'auto',
} as const;
export type LogFormat = (typeof LogFormat)[keyof typeof LogFormat];

export const LOG_FORMATS: readonly LogFormat[] = Object.values(LogFormat);

/**
 * The format for a log written to a stream that `isTty` says is (or is not)
 * a terminal: `--log-format`, else `$MUXD_LOG_FORMAT`, else auto. Throws
 * `MUX_CONFIG_INVALID` for a value that is none of json, pretty, auto.
 */
export function chooseLogFormat(option: string | undefined, env: NodeJS.ProcessEnv, isTty: boolean): typeof LogFormat.Json | typeof LogFormat.Pretty {
  const fromEnv = env['MUXD_LOG_FORMAT'] || undefined;
  const asked = option ?? fromEnv ?? LogFormat.Auto;
  if (!(LOG_FORMATS as readonly string[]).includes(asked)) {
    const where = option === undefined ? 'MUXD_LOG_FORMAT' : '--log-format';
    throw new MuxError(MuxErrorCodes.ConfigInvalid, `${where} must be ${LOG_FORMATS.join(', ')}; got ${JSON.stringify(asked)}`);
  }
  if (asked === LogFormat.Auto) return isTty ? LogFormat.Pretty : LogFormat.Json;
  return asked as typeof LogFormat.Json | typeof LogFormat.Pretty;
}

/**
 * A stream that turns pino's JSON lines (already redacted) into readable
 * ones on `fd`, synchronously so a line written just before muxd exits is
 * not lost. `colorize` adds colours (for a terminal).
 */
export async function prettyDestination(fd: number, colorize: boolean): Promise<DestinationStream> {
  // Loaded only when asked for: a daemon started in the background never formats for a terminal.
  const { PinoPretty } = await import('pino-pretty');
  return PinoPretty({ destination: fd, sync: true, colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true });
}
