import type { ReactElement } from 'react';
import type { Key } from 'ink';
import { ControlMethods } from '@muxd/protocol';
import type { ActionResult } from '@muxd/protocol';
import { formatDuration } from '../format.js';
import { HistoryPanel } from './historyPanel.js';
import type { HistoryState } from './historyPanel.js';
import { MonitSource } from './monitSource.js';
import { printable } from './printable.js';
import type { MonitSnapshot } from './monitSource.js';
import { ServicesPanel } from './servicesPanel.js';
import { useLogTail } from './useLogTail.js';
import { useTerminalSize } from './useTerminalSize.js';
import { ui } from './ui.js';

export const KEYS_HELP = '↑/↓ j/k select · r restart · s stop · t start · h history · Esc close · q quit';

type Action = 'restart' | 'stop' | 'start';

const ACTIONS = {
  restart: { method: ControlMethods.Restart, doing: 'restarting' },
  stop: { method: ControlMethods.Stop, doing: 'stopping' },
  start: { method: ControlMethods.Start, doing: 'starting' },
} as const;

const EMPTY: MonitSnapshot = { services: [], hello: null, problem: 'connecting to muxd...', connection: 0 };

/** "everything: online (pid 4242)" for each service an action touched. */
function actionText(result: ActionResult): string {
  return result.services
    .map((service) => `${service.name}: ${service.status}${service.pids.length > 0 ? ` (pid ${service.pids.join(', ')})` : ''}${service.error ? `: ${service.error}` : ''}`)
    .join('; ');
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** `muxctl monit`: the services table, the selected service's log or history, and a footer of keys and results. */
export function MonitApp(): ReactElement {
  const {
    react: { createElement: h, useCallback, useEffect, useRef, useState },
    ink: { Box, Text, useApp, useInput },
  } = ui();
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize();
  const [snapshot, setSnapshot] = useState<MonitSnapshot>(EMPTY);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [history, setHistory] = useState<HistoryState | undefined>(undefined);
  const [message, setMessage] = useState<string>('');

  const sourceRef = useRef<MonitSource | undefined>(undefined);
  useEffect(() => {
    const source = new MonitSource(setSnapshot, setMessage);
    sourceRef.current = source;
    source.start();
    return () => source.close();
  }, []);

  const names = snapshot.services.map((service) => service.row.name);
  const current = selected !== undefined && names.includes(selected) ? selected : names[0];
  const log = useLogTail(current, snapshot.connection);

  const act = useCallback(
    (action: Action, name: string) => {
      const { method, doing } = ACTIONS[action];
      const source = sourceRef.current;
      if (!source) return;
      setMessage(`${doing} ${name}...`);
      source.request(method, { name }).then(
        (result) => setMessage(actionText(result)),
        (error: unknown) => setMessage(`${action} ${name} failed: ${errorText(error)}`),
      );
      source.refresh();
    },
    [],
  );

  const openHistory = useCallback(
    (name: string) => {
      const source = sourceRef.current;
      if (!source) return;
      setHistory({ name, kind: 'loading' });
      source.request(ControlMethods.History, { name, limit: 100 }).then(
        (result) => setHistory((shown) => (shown?.name === name ? { name, kind: 'loaded', runs: result.runs, databaseError: result.databaseError } : shown)),
        (error: unknown) => setHistory((shown) => (shown?.name === name ? { name, kind: 'failed', error: errorText(error) } : shown)),
      );
    },
    [],
  );

  useInput((input: string, key: Key) => {
    if (input === 'q' || (key.ctrl && input === 'c')) return exit();
    if (key.escape) return setHistory(undefined);
    const move = key.upArrow || input === 'k' ? -1 : key.downArrow || input === 'j' ? 1 : 0;
    if (move !== 0 && names.length > 0) {
      const index = Math.max(0, names.indexOf(current ?? ''));
      const next = names[Math.min(names.length - 1, Math.max(0, index + move))];
      setSelected(next);
      if (history && next !== undefined && next !== history.name) openHistory(next);
      return undefined;
    }
    if (current === undefined) return undefined;
    if (input === 'r') act('restart', current);
    else if (input === 's') act('stop', current);
    else if (input === 't' || input === 'S') act('start', current);
    else if (input === 'h') {
      if (history) setHistory(undefined);
      else openHistory(current);
    }
    return undefined;
  });

  const width = Math.max(20, columns);
  // Fixed lines: title, table header, one per service, the detail line, the panel's title, two footer lines; one spare row keeps ink from scrolling.
  const panelHeight = Math.max(2, rows - 1 - (5 + snapshot.services.length) - 1);
  const hello = snapshot.hello;
  const title = hello
    ? `muxd ${hello.version} · pid ${hello.pid} · up ${formatDuration(Date.now() - hello.startedAt)} · ${snapshot.services.length} services`
    : 'muxd';

  return h(
    Box,
    { flexDirection: 'column', width, height: rows - 1 },
    h(Text, { bold: true, wrap: 'truncate-end' }, `muxctl monit · ${title}`),
    snapshot.problem
      ? h(Text, { color: 'red', wrap: 'truncate-end' }, printable(snapshot.problem))
      : h(ServicesPanel, { services: snapshot.services, selected: current, width }),
    history
      ? h(HistoryPanel, { history, width, height: panelHeight })
      : h(
          Box,
          { flexDirection: 'column', width, height: panelHeight },
          h(Text, { bold: true, wrap: 'truncate-end' }, current ? `log: ${current}${log.problem ? `  (${log.problem})` : ''}` : 'log'),
          ...log.lines.slice(-(panelHeight - 1)).map((line, index) => h(Text, { key: index, wrap: 'truncate-end' }, line)),
        ),
    h(Box, { flexGrow: 1 }),
    // Action results carry muxd's and the child's words: drawn safe.
    h(Text, { wrap: 'truncate-end' }, printable(message) || ' '),
    h(Text, { dimColor: true, wrap: 'truncate-end' }, KEYS_HELP),
  );
}
