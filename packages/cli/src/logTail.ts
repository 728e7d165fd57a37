import { ControlMethods, LOG_LINE_NOTIFICATION } from '@muxd/protocol';
import { ControlClient } from './controlClient.js';
import { notice, paths } from './context.js';

/** A log being followed over a control connection of its own. */
export interface LogTail {
  /** Settles when the connection closes: `close()`, or muxd went away. */
  readonly closed: Promise<void>;
  /** Stops following (closes the connection); idempotent. */
  close(): void;
}

export interface TailOptions {
  /** A service; undefined for muxd's own log. */
  name: string | undefined;
  /** How many recent lines come first. */
  lines: number;
  /** Start muxd when it is not running (`muxctl logs -f` does; `muxctl monit` never does). */
  autoStart: boolean;
  /** Raw NDJSON log lines: the recent ones first, then each new batch as muxd sends it. */
  onLines: (lines: string[]) => void;
  /** Where connection warnings go; stderr by default. */
  notice?: (message: string) => void;
}

/**
 * Follows a service's log (or muxd's): the last `lines` lines, then every
 * new one (`logs` then `logs/follow`), until closed. The follow lasts as
 * long as its connection, so each tail has its own. Throws `CliError` when
 * muxd cannot be reached, `RpcError` for an unknown service.
 */
export async function tailLogs(options: TailOptions): Promise<LogTail> {
  const client = await ControlClient.connect(paths(), {
    autoStart: options.autoStart,
    notice: options.notice ?? notice,
    onNotification: (method, params) => {
      const lines = params['lines'];
      if (method === LOG_LINE_NOTIFICATION && Array.isArray(lines)) options.onLines(lines.filter((line): line is string => typeof line === 'string'));
    },
  });
  const target = options.name === undefined ? {} : { name: options.name };
  try {
    const recent = await client.request(ControlMethods.Logs, { ...target, lines: options.lines });
    options.onLines(recent.lines);
    await client.request(ControlMethods.LogsFollow, target);
  } catch (error) {
    client.close();
    throw error;
  }
  return { closed: client.closed, close: () => client.close() };
}
