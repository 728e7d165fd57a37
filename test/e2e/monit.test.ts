// muxctl monit as a user sees it: in a real terminal (tmux) over a real
// muxd with two real MCP servers, keys sent and the screen read until it
// shows what is expected; and without a terminal, and without a muxd.
import { after, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { MUXCTL_BIN, createHome, everythingServer, memoryServer, runMuxctl, startMuxd } from './harness.js';
import type { Muxd } from './harness.js';
import { openTerminal } from '../terminal.js';
import type { Terminal } from '../terminal.js';

const muxd = await startMuxd({ after }, {
  everything: everythingServer({ lazy: false }),
  memory: memoryServer(undefined, { lazy: false }),
});

interface MonitTerminal extends Terminal {
  /** The pid of the muxctl process in the pane. */
  muxctlPid(): number;
  /** Waits for muxctl to end; its exit code and the terminal's mode after it ("icanon" is cooked, "-icanon" raw). */
  ended(): Promise<{ code: number; mode: string }>;
}

/**
 * `muxctl monit` in a 140x40 terminal with MUXD_HOME=`home`. When muxctl
 * ends, the shell prints its exit code and whether the terminal was left in
 * raw mode, and keeps the pane open.
 */
function monitTerminal(t: TestContext, home: string): MonitTerminal {
  const term = openTerminal(t, {
    command: [process.execPath, MUXCTL_BIN, 'monit'],
    afterExit: `echo "EXIT=$?"; echo "MODE=$(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon)"`,
    columns: 140,
    rows: 40,
    cwd: home,
    env: { MUXD_HOME: home },
  });
  return {
    ...term,
    muxctlPid: () => Number(execFileSync('pgrep', ['-P', String(term.panePid()), '-x', 'node'], { encoding: 'utf8' }).trim()),
    ended: async () => {
      const shown = await term.waitForMatch(/EXIT=(\d+)\s+MODE=(\S+)/, 20_000);
      return { code: Number(shown[1]), mode: shown[2] as string };
    },
  };
}

/** The pid of `service`'s child, from `muxctl ls --json`. */
async function lsPid(m: Muxd, service: string): Promise<number | undefined> {
  const ls = await m.muxctl(['ls', '--json']);
  assert.equal(ls.code, 0, ls.stderr);
  const row = ls.json<{ services: Array<{ name: string; status: string; pids: number[] }> }>().services.find((s) => s.name === service);
  return row?.status === 'online' ? row.pids[0] : undefined;
}

test('monit: the table, a call counted, restart, the log, history, resize and quit', { timeout: 120_000 }, async (t) => {
  const term = monitTerminal(t, muxd.home);

  // Both services, online, with the first selected and its log tailed.
  await term.waitFor(/everything\s+online/);
  await term.waitFor(/memory\s+online/);
  const shown = await term.waitFor('log: everything');
  assert.match(shown, /› everything/, 'the first service is selected');
  assert.match(shown, /NAME\s+STATUS\s+SESS\s+INFL\s+REQ\/S\s+REQ\/S 1m\s+P50\s+P99\s+ERR\s+MEM\s+MEM 1m\s+CPU/);
  assert.match(shown, /r restart · s stop · t start · h history/, 'the keys are in the footer');

  // j selects memory and tails its log instead.
  term.keys('j');
  await term.waitFor('log: memory');
  await term.waitFor(/› memory/);
  await term.waitFor(/child started\s+child=\d+/);
  await term.waitFor(/^memory · requests 0 /m);

  // A call through mux-proxy is counted.
  const client = await muxd.connect(t, 'memory');
  await client.callText('read_graph');
  await term.waitFor(/^memory · requests [1-9]\d* · .*sessions 1 now/m);

  // k back to everything; r restarts it: online again with a new pid. (The
  // footer's passing "restarting everything..." can be gone before the screen
  // is read, so the restart shows through its result, the pid and the log.)
  term.keys('k');
  await term.waitFor('log: everything');
  const before = await lsPid(muxd, 'everything');
  assert.ok(before, 'everything runs before the restart');
  await term.waitFor(new RegExp(`^everything · .*pid ${before} `, 'm'));
  term.keys('r');
  const result = await term.waitFor(/everything: online \(pid (\d+)\)/);
  const after = Number(/everything: online \(pid (\d+)\)/.exec(result)?.[1]);
  assert.notEqual(after, before, 'a new child after the restart');
  assert.equal(await lsPid(muxd, 'everything'), after, 'muxctl ls --json agrees');
  await term.waitFor(new RegExp(`^everything · .*pid ${after} `, 'm'));
  await term.waitFor(/everything\s+online/);

  // The log panel shows the restart's lifecycle lines.
  await term.waitFor(new RegExp(`child stopped .*reason=manual`));
  await term.waitFor(new RegExp(`child started\\s+child=${after}`));

  // h: everything's restart history, the old run ended by the restart and the new one running; Esc closes it.
  term.keys('h');
  const history = await term.waitFor(new RegExp(`^${after}\\s+\\S+ \\S+\\s+running`, 'm'));
  assert.match(history, /restart history: everything/);
  assert.match(history, new RegExp(`^${before}\\s+.*manual\\s*$`, 'm'), 'the run the restart ended, with its reason');
  term.keys('Escape');
  await term.waitFor('log: everything');
  assert.doesNotMatch(term.screen(), /restart history/);

  // A narrower terminal: the table is drawn again within 90 columns, its sparklines left out first.
  term.resize(90, 30);
  const narrow = await term.waitFor(/^ {2}NAME\s+STATUS.*CPU$/m);
  assert.doesNotMatch(narrow, /MEM 1m|REQ\/S 1m/, 'the sparklines go when the table does not fit');
  for (const line of narrow.split('\n')) assert.ok([...line].length <= 90, `line wider than the terminal: ${line}`);
  assert.match(narrow, /everything\s+online/);
  assert.match(narrow, /memory\s+online/);

  // q quits: exit 0, the alternate screen left and the terminal out of raw mode.
  term.keys('q');
  const end = await term.ended();
  assert.deepEqual(end, { code: 0, mode: 'icanon' });
  assert.doesNotMatch(term.screen(), /NAME\s+STATUS/, 'the table is gone with the alternate screen');
});

test('monit never starts muxd: it says muxd is not running, shows it once started, and SIGTERM restores the terminal', { timeout: 90_000 }, async (t) => {
  const home = createHome(t, { memory: memoryServer(undefined, { lazy: false }) });
  const term = monitTerminal(t, home.home);
  await term.waitFor('muxd is not running');
  assert.deepEqual(home.daemonPids(), [], 'monit started no muxd');

  const started = await home.muxctl(['daemon', 'start']);
  assert.equal(started.code, 0, started.stderr);
  await term.waitFor(/memory\s+online/);
  await term.waitFor('log: memory');

  process.kill(term.muxctlPid(), 'SIGTERM');
  const end = await term.ended();
  assert.deepEqual(end, { code: 143, mode: 'icanon' });
  assert.match(term.screen(), /muxctl: monit ended by SIGTERM/);
});

test('monit without a terminal points at ls --json and exits 2', { timeout: 30_000 }, async () => {
  const run = await runMuxctl(muxd.home, ['monit']);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /monit needs a terminal; .*muxctl ls --json/);
});
