/**
 * A real terminal for tests that drive an interactive program as a user
 * does: a detached tmux session on a server of its own (a unique socket, no
 * config file), keys sent to it and its screen read until it shows what is
 * expected. The server is killed after the test.
 */
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { waitFor } from './e2e/harness.js';

/** Single-quotes `text` for sh. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export interface TerminalOptions {
  /** The program and its arguments. */
  command: string[];
  /**
   * Shell commands run once the program has ended, with `$?` its exit code
   * (to print a marker the test waits for); the pane stays open after them.
   */
  afterExit?: string;
  columns: number;
  rows: number;
  cwd: string;
  /** Set for the program (not for `afterExit`); undefined unsets a variable. */
  env?: Record<string, string | undefined>;
  /** Whether `screen()` includes the scrollback above the visible screen. */
  scrollback?: boolean;
  /** How long `waitFor` waits when not told. */
  timeoutMs?: number;
}

export interface Terminal {
  /** What the terminal shows now (and its scrollback if asked for), wrapped lines joined. */
  screen(): string;
  /** Waits until the screen shows `what`; returns the screen. */
  waitFor(what: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Waits until `pattern` matches the screen; returns the match. */
  waitForMatch(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends keys as tmux send-keys names them ("q", "Enter", "C-c"). */
  keys(...keys: string[]): void;
  resize(columns: number, rows: number): void;
  /** The pid of the pane's shell (the program is its child). */
  panePid(): number;
}

const POLL_MS = 50;

/** Runs `options.command` in a new terminal that lives until the test ends. */
export function openTerminal(t: TestContext, options: TerminalOptions): Terminal {
  const socket = `mx-term-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const env = Object.entries(options.env ?? {});
  const unset = env.filter(([, value]) => value === undefined).map(([key]) => `-u ${shellQuote(key)} `);
  const assignments = env.flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${shellQuote(value)} `]));
  const prefix = env.length > 0 ? `env ${unset.join('')}${assignments.join('')}` : '';
  const program = `${prefix}${options.command.map(shellQuote).join(' ')}`;
  const line = [program, options.afterExit, 'sleep 3600'].filter((part) => part !== undefined).join('; ');
  tmux('new-session', '-d', '-x', String(options.columns), '-y', String(options.rows), '-c', options.cwd, line);
  t.after(() => {
    try {
      tmux('kill-server');
    } catch {
      // Gone already.
    }
  });

  const screen = () => tmux('capture-pane', '-p', '-J', ...(options.scrollback ? ['-S', '-', '-E', '-'] : []));
  /** Polls `probe` over the screen until it returns something; a timeout's error shows the screen. */
  const poll = <T>(what: string | RegExp, probe: (shown: string) => T | undefined | null, timeoutMs: number): Promise<T> =>
    waitFor(`the terminal to show ${String(what)}`, () => probe(screen()), timeoutMs, POLL_MS).catch((error: Error) => {
      throw new Error(`${error.message}\n--- screen ---\n${screen()}`);
    });
  const defaultTimeoutMs = options.timeoutMs ?? 20_000;
  return {
    screen,
    waitFor: (what, timeoutMs = defaultTimeoutMs) =>
      poll(what, (shown) => ((typeof what === 'string' ? shown.includes(what) : what.test(shown)) ? shown : undefined), timeoutMs),
    waitForMatch: (pattern, timeoutMs = defaultTimeoutMs) => poll(pattern, (shown) => pattern.exec(shown), timeoutMs),
    keys: (...keys) => void tmux('send-keys', ...keys),
    resize: (columns, rows) => void tmux('resize-window', '-x', String(columns), '-y', String(rows)),
    panePid: () => Number(tmux('display-message', '-p', '#{pane_pid}').trim()),
  };
}
