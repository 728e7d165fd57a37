import { formatLogLine } from '../commands/logs.js';
import { tailLogs } from '../logTail.js';
import type { LogTail } from '../logTail.js';
import { printable } from './printable.js';
import { ui } from './ui.js';

/** Lines kept in memory for the log panel. */
const KEEP = 200;

export interface LogTailState {
  /** Formatted lines, oldest first, at most 200. */
  lines: string[];
  /** Why the tail is not (or no longer) following; null while it is. */
  problem: string | null;
}

/**
 * Follows `name`'s log (the same `logs` + `logs/follow` as `muxctl logs -f`)
 * while it is selected; a new name or a new `connection` (muxd came back)
 * closes the old tail and opens a new one. Never starts muxd.
 */
export function useLogTail(name: string | undefined, connection: number): LogTailState {
  const { useEffect, useState } = ui().react;
  const [state, setState] = useState<LogTailState>({ lines: [], problem: null });
  useEffect(() => {
    setState({ lines: [], problem: null });
    if (name === undefined || connection === 0) return undefined;
    let active = true;
    let tail: LogTail | undefined;
    const onLines = (raw: string[]) => {
      if (active) setState((previous) => ({ lines: [...previous.lines, ...raw.map((line) => printable(formatLogLine(line)))].slice(-KEEP), problem: null }));
    };
    tailLogs({ name, lines: KEEP, autoStart: false, notice: () => undefined, onLines }).then(
      (opened) => {
        if (!active) return opened.close();
        tail = opened;
        void opened.closed.then(() => {
          if (active) setState((previous) => ({ ...previous, problem: 'the log stopped: muxd went away' }));
        });
      },
      (error: unknown) => {
        if (active) setState((previous) => ({ ...previous, problem: `cannot follow ${name}'s log: ${error instanceof Error ? error.message : String(error)}` }));
      },
    );
    return () => {
      active = false;
      tail?.close();
    };
  }, [name, connection]);
  return state;
}
