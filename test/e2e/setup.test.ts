// muxctl setup as a user runs it: in a real terminal (tmux), keys sent and
// the screen read at each step, and with --yes from a script; over a fake
// HOME where Claude Code and Gemini CLI each start their own server-memory,
// ending with muxd running one healthy copy that both host files point at.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { MUXCTL_BIN, ROOT, createHome, waitFor } from './harness.js';
import type { Home, MuxctlRun } from './harness.js';
import { readCmdline } from '../procfs.js';
import { openTerminal } from '../terminal.js';
import type { Terminal } from '../terminal.js';

const MEMORY_MAIN = join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');
const EVERYTHING_MAIN = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
// Rewired entries run the proxy script with node, both by absolute path.
const PROXY = join(ROOT, 'packages/proxy/bin/mux-proxy.js');

interface Scratch {
  home: Home;
  /** The fake user's environment for muxctl (HOME, XDG_CONFIG_HOME, and host variables cleared). */
  env: Record<string, string>;
  files: { claude: string; gemini: string };
  /** Where the hosts' server-memory keeps its graph. */
  memoryFile: string;
  originals: { claude: string; gemini: string };
  /** The host files and muxd's config as they are now. */
  snapshot(): { claude: string; gemini: string; config: string };
  muxctl(args: string[]): Promise<MuxctlRun>;
}

/**
 * A muxd home (no daemon yet; its config is muxd.config.json with no
 * services) and a fake user whose Claude Code and Gemini CLI each run the
 * same server-memory (Claude Code also runs server-everything).
 */
function scratch(t: TestContext): Scratch {
  const home = createHome(t, {});
  const user = mkdtempSync('/tmp/mx-setup-');
  t.after(() => rmSync(user, { recursive: true, force: true }));
  const HOME = join(user, 'home');
  const env = { HOME, XDG_CONFIG_HOME: join(user, 'config'), CLAUDE_CONFIG_DIR: '', CODEX_HOME: '', APPDATA: '', LOCALAPPDATA: '' };
  const memoryFile = join(user, 'memory.jsonl');
  const memory = { command: 'node', args: [MEMORY_MAIN], env: { MEMORY_FILE_PATH: memoryFile } };
  const files = { claude: join(HOME, '.claude.json'), gemini: join(HOME, '.gemini', 'settings.json') };
  const originals = {
    claude: JSON.stringify({ numStartups: 3, mcpServers: { memory, everything: { command: 'node', args: [EVERYTHING_MAIN, 'stdio'] } } }, null, 2) + '\n',
    gemini: `{\n  // mine\n  "mcpServers": {\n    "memory": ${JSON.stringify(memory)}\n  }\n}\n`,
  };
  mkdirSync(join(HOME, '.gemini'), { recursive: true });
  writeFileSync(files.claude, originals.claude);
  writeFileSync(files.gemini, originals.gemini);
  return {
    home,
    env,
    files,
    memoryFile,
    originals,
    snapshot: () => ({ claude: readFileSync(files.claude, 'utf8'), gemini: readFileSync(files.gemini, 'utf8'), config: readFileSync(home.configFile, 'utf8') }),
    muxctl: (args) => home.muxctl(args, { env, timeoutMs: 60_000 }),
  };
}

/** A server-memory started the way a host starts it (outside muxd), killed after the test. */
function hostSpawnedMemory(t: TestContext, memoryFile: string): number {
  const child = spawn('node', [MEMORY_MAIN], { env: { ...process.env, MEMORY_FILE_PATH: memoryFile }, stdio: ['pipe', 'ignore', 'ignore'] });
  t.after(() => {
    child.kill('SIGKILL');
  });
  return child.pid as number;
}

type Entry = { command: string; args: string[]; env?: Record<string, string> };

/** The host files' memory entries point at mux-proxy's service `memory`, by absolute paths. */
function assertRewired(s: Scratch): void {
  const claude = JSON.parse(readFileSync(s.files.claude, 'utf8')) as { numStartups: number; mcpServers: Record<string, Entry> };
  const gemini = parseJsonc(readFileSync(s.files.gemini, 'utf8')) as { mcpServers: Record<string, Entry> };
  for (const entry of [claude.mcpServers['memory'], gemini.mcpServers['memory']]) {
    assert.equal(entry?.command, process.execPath);
    assert.deepEqual(entry?.args, [PROXY, 'memory']);
    assert.equal(entry?.env?.['MUXD_HOME'], s.home.home, 'the proxy finds this muxd');
  }
  assert.equal(claude.numStartups, 3, 'the rest of the file is kept');
  assert.ok(readFileSync(s.files.gemini, 'utf8').startsWith('{\n  // mine\n'), 'comments are kept');
}

/** muxd runs `memory`, and an MCP round trip through it works. */
async function assertServedHealthy(s: Scratch): Promise<void> {
  assert.equal(s.home.daemonPids().length, 1, 'one muxd runs');
  const list = (await s.muxctl(['ls', '--json'])).json<{ services: Array<{ name: string }> }>();
  assert.ok(list.services.some((service) => service.name === 'memory'), JSON.stringify(list));
  const health = await s.muxctl(['health', 'memory', '--json']);
  assert.equal(health.code, 0, health.stderr);
  assert.equal(health.json<{ ok: boolean }>().ok, true);
}

// ------------------------------------------------------------------ tmux

interface SetupTerminal extends Terminal {
  /** Waits for muxctl to end; its exit code. */
  exitCode(): Promise<number>;
}

/**
 * Runs `muxctl setup` in a 120x40 terminal, with the scratch environment, in
 * the muxd home; the screen includes the scrollback. The shell prints
 * muxctl's exit code after it, and keeps the pane open.
 */
function terminal(t: TestContext, s: Scratch): SetupTerminal {
  const term = openTerminal(t, {
    command: [process.execPath, MUXCTL_BIN, 'setup'],
    afterExit: 'echo "[exit $?]"',
    columns: 120,
    rows: 40,
    cwd: s.home.home,
    env: { MUXD_CONFIG: undefined, ...s.env, MUXD_HOME: s.home.home, TERM: 'xterm-256color' },
    scrollback: true,
    timeoutMs: 30_000,
  });
  return {
    ...term,
    exitCode: async () => Number((await term.waitForMatch(/\[exit (\d+)\]/, 60_000))[1]),
  };
}

test('interactive: the merged server listed once with both hosts, then everything through one healthy muxd', { timeout: 120_000 }, async (t) => {
  const s = scratch(t);
  const outside = hostSpawnedMemory(t, s.memoryFile);
  await waitFor('the host-spawned server to start', () => readCmdline(outside)?.includes(MEMORY_MAIN));
  const term = terminal(t, s);

  // Servers: memory is in both host files, listed once with both hosts and its process outside muxd; everything only in Claude Code's.
  const servers = await term.waitFor('Servers to run once in muxd');
  const memoryLines = servers.split('\n').filter((line) => /◼ memory\b/.test(line));
  assert.equal(memoryLines.length, 1, servers);
  assert.match(memoryLines[0] ?? '', /memory {2}in Claude Code \(user\), Gemini CLI \(user\)/);
  assert.match(memoryLines[0] ?? '', /running now: 1 process, [\d.]+[KMG]/);
  assert.match(servers, /◼ everything {2}in Claude Code \(user\)(?!,)/);
  term.keys('Enter');

  // Hosts: both files, each with what would change.
  const hosts = await term.waitFor('Host files to point at muxd');
  assert.match(hosts, new RegExp(`◼ Claude Code \\(user\\) {2}${s.files.claude} {2}\\(2 entries to change, mux-proxy\\)`));
  assert.match(hosts, new RegExp(`◼ Gemini CLI \\(user\\) {2}${s.files.gemini} {2}\\(1 entry to change, mux-proxy\\)`));
  term.keys('Enter');

  await term.waitFor('Start muxd at login');
  term.keys('n');
  await term.waitFor('Apply it?');
  term.keys('Enter');

  const code = await term.exitCode();
  const summary = term.screen();
  assert.equal(code, 0, summary);
  assert.match(summary, /muxctl rewire --undo/);
  assert.match(summary, /memory: healthy, ping/);

  const config = JSON.parse(readFileSync(s.home.configFile, 'utf8')) as { services: Record<string, Entry> };
  assert.deepEqual(config.services['memory'], { command: 'node', args: [MEMORY_MAIN], env: { MEMORY_FILE_PATH: s.memoryFile } });
  assert.ok(config.services['everything']);
  assertRewired(s);
  await assertServedHealthy(s);
});

test('interactive: Ctrl-C at the hosts step writes nothing and starts nothing', { timeout: 60_000 }, async (t) => {
  const s = scratch(t);
  const before = s.snapshot();
  const term = terminal(t, s);
  await term.waitFor('Servers to run once in muxd');
  term.keys('Enter');
  await term.waitFor('Host files to point at muxd');
  term.keys('C-c');
  const code = await term.exitCode();
  assert.equal(code, 1, term.screen());
  assert.match(term.screen(), /setup cancelled; nothing was written/);
  assert.deepEqual(s.snapshot(), before);
  assert.deepEqual(s.home.daemonPids(), []);
  assert.equal(existsSync(join(s.home.home, 'backups')), false, 'no backup was made');
});

// ------------------------------------------------------------------ --yes

interface SetupJson {
  dryRun: boolean;
  configFile: string;
  servers: Array<{ name: string; status: string; hosts: string[]; running: Array<{ pid: number; rssBytes: number }> }>;
  added: string[];
  daemon: string;
  health: Array<{ name: string; ok: boolean }>;
  hosts: Array<{ host: string; file: string; changed: boolean; entries: Array<{ name: string; action: string; service?: string }> }>;
  service: unknown;
  undo: string[];
  problems: string[];
}

test('--yes: the same steps from flags; --dry-run writes nothing; --json says what was done', { timeout: 120_000 }, async (t) => {
  const s = scratch(t);
  const outside = hostSpawnedMemory(t, s.memoryFile);
  await waitFor('the host-spawned server to start', () => readCmdline(outside)?.includes(MEMORY_MAIN));
  const before = s.snapshot();

  // Without a terminal and without --yes: a usage error, nothing written.
  const asked = await s.muxctl(['setup']);
  assert.equal(asked.code, 2, asked.stderr);
  assert.match(asked.stderr, /pass --yes/);
  const flagsAlone = await s.muxctl(['setup', '--servers', 'memory']);
  assert.equal(flagsAlone.code, 2);
  assert.match(flagsAlone.stderr, /--servers goes with --yes/);
  const unknown = await s.muxctl(['setup', '--yes', '--servers', 'memory,nope']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no server 'nope' in the hosts' configs \(found: memory, everything\)/);
  const http = await s.muxctl(['setup', '--yes', '--transport', 'http']);
  assert.equal(http.code, 2);
  assert.match(http.stderr, /--transport http needs muxd's HTTP front/);
  assert.deepEqual(s.snapshot(), before);

  // --dry-run: the plan, with the merged server, its hosts and its process outside muxd; nothing written or started.
  const dry = await s.muxctl(['setup', '--yes', '--dry-run', '--service-install', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  const plan = dry.json<SetupJson>();
  assert.equal(plan.dryRun, true);
  assert.deepEqual(plan.servers.map((server) => [server.name, server.status, server.hosts]), [
    ['memory', 'new', ['Claude Code (user)', 'Gemini CLI (user)']],
    ['everything', 'new', ['Claude Code (user)']],
  ]);
  assert.deepEqual(plan.servers[0]?.running.map((item) => item.pid), [outside]);
  assert.ok((plan.servers[0]?.running[0]?.rssBytes ?? 0) > 0);
  assert.equal(plan.daemon, 'skipped');
  assert.deepEqual(plan.service && { ...(plan.service as Record<string, unknown>), file: undefined }, { manager: process.platform === 'darwin' ? 'launchd' : 'systemd', file: undefined, installed: false });
  assert.match(dry.stderr, /^\$ (systemctl --user|launchctl) /m, 'the commands install would run are shown, not run');
  assert.deepEqual(plan.hosts.map((outcome) => [outcome.host, outcome.changed]), [['claude-code', true], ['gemini', true]]);
  assert.deepEqual(s.snapshot(), before);
  assert.deepEqual(s.home.daemonPids(), []);

  // Only memory: everything stays out of muxd's config and its entry stays as it was.
  const run = await s.muxctl(['setup', '--yes', '--servers', 'memory', '--hosts', 'claude-code,gemini', '--no-service-install', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const done = run.json<SetupJson>();
  assert.deepEqual(done.added, ['memory']);
  assert.equal(done.daemon, 'started');
  assert.deepEqual(done.health.map((check) => [check.name, check.ok]), [['memory', true]]);
  assert.deepEqual(
    done.hosts.map((outcome) => [outcome.host, outcome.entries.map((entry) => `${entry.name}:${entry.action}`)]),
    [['claude-code', ['memory:rewire', 'everything:skip']], ['gemini', ['memory:rewire']]],
  );
  assert.equal(done.service, null);
  assert.ok(done.undo.some((step) => step.startsWith('muxctl rewire --undo')));
  assert.deepEqual(done.problems, []);
  const config = JSON.parse(readFileSync(s.home.configFile, 'utf8')) as { services: Record<string, unknown> };
  assert.deepEqual(Object.keys(config.services), ['memory']);
  assertRewired(s);
  const claude = JSON.parse(readFileSync(s.files.claude, 'utf8')) as { mcpServers: Record<string, Entry> };
  assert.deepEqual(claude.mcpServers['everything'], { command: 'node', args: [EVERYTHING_MAIN, 'stdio'] });
  await assertServedHealthy(s);

  // The undo the summary names gives back the hosts' own files.
  const undone = await s.muxctl(['rewire', '--undo']);
  assert.equal(undone.code, 0, undone.stderr);
  assert.deepEqual({ claude: readFileSync(s.files.claude, 'utf8'), gemini: readFileSync(s.files.gemini, 'utf8') }, s.originals);
});

test('--yes without --json prints the summary, naming the undo command', { timeout: 120_000 }, async (t) => {
  const s = scratch(t);
  const run = await s.muxctl(['setup', '--yes']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /memory: added to muxd's config, from Claude Code \(user\), Gemini CLI \(user\)/);
  assert.match(run.stdout, /muxd: started/);
  assert.match(run.stdout, /memory: now runs through mux-proxy \(service memory\)/);
  assert.match(run.stdout, /to undo:\n {2}muxctl rewire --undo/);
  assert.match(run.stderr, /health checked: 2 of 2 ok/);
  assertRewired(s);
  await assertServedHealthy(s);
});
