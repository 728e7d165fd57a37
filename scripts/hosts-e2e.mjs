#!/usr/bin/env node
// Tests muxd against real MCP hosts installed from npm (Claude Code and
// Gemini CLI, pinned in scripts/hosts-e2e/package-lock.json and installed
// there with `npm ci` on first use), in a scratch HOME:
//
//   1. a scratch HOME and XDG directories, MUXD_HOME unset, so muxd uses its
//      default home under it; muxctl, mux-proxy and muxd of this repository
//      first on PATH;
//   2. the servers `everything` and `memory` (devDependencies, run with node)
//      added with each host's own `mcp add`, and each host's `mcp list` run
//      on them directly, as a baseline;
//   3. `muxctl import`, `muxctl rewire` (stdio, through mux-proxy); then both
//      hosts' `mcp list` at once with muxd not running, so that their
//      mux-proxies start it (exactly one muxd must come of it, and
//      `muxctl daemon start` must find it running);
//   4. both hosts held in a session at once (each asked something by a
//      scripted stand-in model that waits before answering), and while they
//      sit there each host's own `mcp list` run too: every entry must say
//      connected, and `muxctl ls --json` and /proc must show exactly one
//      child per service, the same one all along, muxd's;
//   5. 3-4 again over muxd's Streamable HTTP front (an `http` block in
//      muxd's config, `muxctl reload`, `muxctl rewire --transport http`);
//   6. in each of those sessions a real tool call: the stand-in model has the
//      host call the everything server's echo tool through muxd and checks
//      that the server's "Echo: <message>" comes back (Claude Code through a
//      stand-in Anthropic Messages API, Gemini CLI through a stand-in Gemini
//      API, both streaming);
//   7. `muxctl rewire --undo` must give back the entries the hosts wrote;
//      then everything started is stopped (muxd with `muxctl daemon stop`),
//      and nothing may be left running under the scratch HOME.
//
// Prints each step and its result, then a table host x transport x server.
// Exit 0 when every check passed, 1 otherwise. A host that cannot run on
// this machine is skipped with the reason (and does not fail the run).
// Run after `npm run build` (npm run hosts-e2e does both).
//
//   node scripts/hosts-e2e.mjs [--host claude|gemini]... [--transport stdio|http]... [--keep]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startModelStandIn } from './hosts-e2e/model-standin.mjs';
import { ancestors, isAlive, processesOfHome } from './hosts-e2e/procs.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const e2eDir = join(root, 'scripts/hosts-e2e');
const lock = JSON.parse(readFileSync(join(e2eDir, 'package-lock.json'), 'utf8'));

const SERVERS = {
  everything: { entry: join(root, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), args: ['stdio'], env: () => ({}) },
  memory: { entry: join(root, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js'), args: [], env: (home) => ({ MEMORY_FILE_PATH: join(home, 'memory.jsonl') }) },
};
const SERVICE_NAMES = Object.keys(SERVERS);

const HOSTS = {
  claude: {
    name: 'Claude Code',
    pkg: '@anthropic-ai/claude-code',
    bin: 'claude',
    add: (name, server, home) => ['mcp', 'add', '--scope', 'user', name, ...Object.entries(server.env(home)).flatMap(([key, value]) => ['-e', `${key}=${value}`]), '--', 'node', server.entry, ...server.args],
    // Claude Code refuses --dangerously-skip-permissions as root (CI runs as root): allow the two tools the script uses.
    session: (prompt) => ['-p', prompt, '--allowedTools', 'ToolSearch,mcp__everything__echo'],
    toolPrefix: (service) => `mcp__${service}__`,
    configFile: (home) => join(home, '.claude.json'),
  },
  gemini: {
    name: 'Gemini CLI',
    pkg: '@google/gemini-cli',
    bin: 'gemini',
    add: (name, server, home) => ['mcp', 'add', '--scope', 'user', ...Object.entries(server.env(home)).flatMap(([key, value]) => ['-e', `${key}=${value}`]), name, 'node', server.entry, ...server.args],
    session: (prompt) => ['-p', prompt, '--approval-mode', 'yolo'],
    toolPrefix: (service) => `mcp_${service}_`,
    configFile: (home) => join(home, '.gemini', 'settings.json'),
  },
};

const argv = process.argv.slice(2);
const listArg = (flag) => argv.flatMap((arg, index) => (arg === flag ? [argv[index + 1]] : arg.startsWith(`${flag}=`) ? [arg.slice(flag.length + 1)] : []));
const onlyHosts = listArg('--host');
const onlyTransports = listArg('--transport');
const keep = argv.includes('--keep');
for (const host of onlyHosts) if (!HOSTS[host]) usage(`unknown host ${host}`);
for (const transport of onlyTransports) if (!['stdio', 'http'].includes(transport)) usage(`unknown transport ${transport}`);
const TRANSPORTS = onlyTransports.length ? ['stdio', 'http'].filter((t) => onlyTransports.includes(t)) : ['stdio', 'http'];

function usage(message) {
  console.error(`hosts-e2e: ${message}\nusage: node scripts/hosts-e2e.mjs [--host claude|gemini]... [--transport stdio|http]... [--keep]`);
  process.exit(2);
}

// ---- output -------------------------------------------------------------------

const started = Date.now();
const clock = () => {
  const s = Math.round((Date.now() - started) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
const steps = [];
function step(title, label = title) {
  steps.push({ title, label, at: Date.now() });
  console.log(`\n=== [${clock()}] ${title}`);
}
/** Every check, in order: { what, ok, detail }. A failed one fails the run. */
const checks = [];
function check(what, ok, detail = '') {
  checks.push({ what, ok, detail });
  console.log(`  ${ok ? 'ok  ' : 'FAIL'}  ${what}${detail ? `: ${detail}` : ''}`);
  return ok;
}
const note = (text) => console.log(`  ..    ${text}`);
const indent = (text, by = '        ') => text.replace(/\s+$/, '').split('\n').map((line) => by + line).join('\n');
const stripAnsi = (text) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

let scratch;
/** Paths shown short: <repo>, $HOME. */
const short = (text) => {
  let out = String(text).replaceAll(root.replace(/\/$/, ''), '<repo>');
  if (scratch) out = out.replaceAll(scratch, '$HOME');
  return out.replace(/Bearer [A-Za-z0-9._~+/=-]+/g, 'Bearer ***');
};

function table(header, rows) {
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => String(row[i] ?? '').length)));
  return [header, ...rows].map((row) => row.map((cell, i) => String(cell ?? '').padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

// ---- processes ------------------------------------------------------------------

/** Processes started here (each in its own process group), stopped on the way out. */
const running = new Set();
let env;

/**
 * Runs a command to its end (or `timeoutMs`, then its whole process group is
 * killed). Resolves { code, signal, out, err, ms, timedOut }; never rejects.
 */
function run(command, args, { timeoutMs = 120_000, show = true, cwd, extraEnv = {} } = {}) {
  const child = start(command, args, { cwd, extraEnv, show });
  return child.done(timeoutMs);
}

/** Starts a command in its own process group; `done(timeoutMs)` waits for it as `run` does. */
function start(command, args, { cwd, extraEnv = {}, show = true } = {}) {
  if (show) console.log(`  $ ${short([command, ...args].map((a) => (/[\s"'$]/.test(a) ? JSON.stringify(a) : a)).join(' '))}`);
  const t0 = Date.now();
  const child = spawn(command, args, { cwd: cwd ?? join(scratch, 'project'), env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  const result = { code: null, signal: null, out: '', err: '', ms: 0, timedOut: false, pid: child.pid };
  child.stdout.setEncoding('utf8').on('data', (text) => (result.out += text));
  child.stderr.setEncoding('utf8').on('data', (text) => (result.err += text));
  const exited = new Promise((resolve) => {
    child.once('error', (error) => {
      result.err += String(error.message);
      result.code = -1;
      resolve();
    });
    child.once('close', (code, signal) => {
      result.code = code;
      result.signal = signal;
      resolve();
    });
  }).then(() => {
    running.delete(child);
    result.ms = Date.now() - t0;
    result.out = stripAnsi(result.out);
    result.err = stripAnsi(result.err);
    return result;
  });
  return {
    child,
    result,
    exited,
    get finished() {
      return !running.has(child);
    },
    async done(timeoutMs) {
      let timer;
      // Past the deadline the group is killed; a process outside it still holding the pipes does not hold this up past a grace.
      const timeout = new Promise((resolve) => {
        timer = setTimeout(() => {
          result.timedOut = true;
          killGroup(child, 'SIGTERM');
          setTimeout(() => killGroup(child, 'SIGKILL'), 3000).unref();
          setTimeout(() => {
            result.ms = Date.now() - t0;
            resolve(result);
          }, 6000).unref();
        }, timeoutMs);
      });
      const value = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      return value;
    },
  };
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const outcome = (r) => (r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`);

// ---- muxctl -------------------------------------------------------------------

const bin = (name) => join(scratch, 'bin', name);

async function muxctl(args, options = {}) {
  const r = await run(bin('muxctl'), args, { timeoutMs: 60_000, ...options });
  if (options.show !== false) {
    const text = `${r.out}${r.err}`.trim();
    if (text && !options.quiet) console.log(indent(short(text)));
    console.log(`        -> ${outcome(r)} in ${secs(r.ms)}`);
  }
  return r;
}

async function muxctlJson(args) {
  const r = await muxctl([...args, '--json'], { show: false });
  try {
    return JSON.parse(r.out);
  } catch {
    return { error: `${outcome(r)}: ${(r.err || r.out).trim().slice(0, 400)}` };
  }
}

// ---- install and probe the hosts ------------------------------------------------

function lockedVersion(pkg) {
  return lock.packages?.[`node_modules/${pkg}`]?.version;
}

function installedVersion(pkg) {
  try {
    return JSON.parse(readFileSync(join(e2eDir, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

async function ensureInstalled() {
  step('install the hosts (scripts/hosts-e2e, pinned by its package-lock.json)', 'install');
  const stale = Object.values(HOSTS).filter((host) => installedVersion(host.pkg) !== lockedVersion(host.pkg));
  if (stale.length === 0) {
    for (const host of Object.values(HOSTS)) note(`${host.pkg}@${installedVersion(host.pkg)} already installed`);
    return true;
  }
  note(`installing ${stale.map((host) => `${host.pkg}@${lockedVersion(host.pkg)}`).join(', ')} with npm ci (about 500 MB, the first time only)`);
  const t0 = Date.now();
  const ticker = setInterval(() => note(`npm ci still running (${secs(Date.now() - t0)})`), 15_000);
  const code = await new Promise((resolve) => {
    const child = spawn('npm', ['ci', '--no-audit', '--no-fund', '--foreground-scripts', '--loglevel=http'], { cwd: e2eDir, stdio: ['ignore', 'inherit', 'inherit'] });
    running.add(child);
    child.once('error', () => resolve(-1));
    child.once('close', (status) => {
      running.delete(child);
      resolve(status);
    });
  });
  clearInterval(ticker);
  return check(`npm ci in scripts/hosts-e2e`, code === 0, `${code === 0 ? 'done' : `exit ${code}`} in ${secs(Date.now() - t0)}`);
}

/** The hosts that run here; the others with the reason. */
async function probeHosts() {
  step('check that each host runs on this machine', 'probe hosts');
  const available = [];
  const skipped = [];
  for (const [id, host] of Object.entries(HOSTS)) {
    if (onlyHosts.length && !onlyHosts.includes(id)) continue;
    const path = join(e2eDir, 'node_modules', '.bin', host.bin);
    if (!existsSync(path)) {
      skipped.push({ id, reason: `${host.pkg} has no ${host.bin} command after npm ci (${path} is missing)` });
      continue;
    }
    const r = await run(path, ['--version'], { timeoutMs: 60_000 });
    const version = r.out.trim().split('\n').pop() ?? '';
    if (r.code === 0 && version.includes(lockedVersion(host.pkg))) {
      note(`${host.name}: ${version} (${secs(r.ms)})`);
      available.push({ id, ...host, path });
    } else {
      skipped.push({ id, reason: `\`${host.bin} --version\` gave ${outcome(r)}: ${(r.err || r.out).trim().slice(0, 300) || 'no output'}` });
    }
  }
  for (const { id, reason } of skipped) console.log(`  SKIP  ${HOSTS[id].name}: ${reason}`);
  return { available, skipped };
}

// ---- the scratch HOME -------------------------------------------------------------

function makeScratch() {
  step('make a scratch HOME', 'scratch HOME');
  scratch = mkdtempSync(join(tmpdir(), 'muxd-hosts-e2e-'));
  for (const dir of ['bin', 'project', 'tmp', '.config', '.local/state', '.local/share', '.cache', '.gemini']) mkdirSync(join(scratch, dir), { recursive: true });
  mkdirSync(join(scratch, 'run'), { mode: 0o700 });
  chmodSync(join(scratch, 'run'), 0o700);
  // This repository's commands, by the names a user has on PATH.
  symlinkSync(join(root, 'packages/cli/bin/muxctl.js'), bin('muxctl'));
  symlinkSync(join(root, 'packages/proxy/bin/mux-proxy.js'), bin('mux-proxy'));
  symlinkSync(join(root, 'packages/daemon/bin/muxd.js'), bin('muxd'));
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(MUXD_|XDG_|CLAUDE_|ANTHROPIC_|GEMINI_|GOOGLE_|CODEX_|npm_)/.test(key) && key !== 'APPDATA' && key !== 'LOCALAPPDATA'),
  );
  env = {
    ...base,
    HOME: scratch,
    XDG_CONFIG_HOME: join(scratch, '.config'),
    XDG_STATE_HOME: join(scratch, '.local/state'),
    XDG_DATA_HOME: join(scratch, '.local/share'),
    XDG_CACHE_HOME: join(scratch, '.cache'),
    XDG_RUNTIME_DIR: join(scratch, 'run'),
    // The hosts keep session files in the temp dir (Claude Code's /tmp/claude-<uid>/...): keep them in the scratch HOME too.
    TMPDIR: join(scratch, 'tmp'),
    PATH: [join(scratch, 'bin'), join(e2eDir, 'node_modules/.bin'), dirname(process.execPath), process.env.PATH].join(':'),
    // Neither host may reach for the network beyond the stand-in model on 127.0.0.1.
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
  // Gemini CLI: an API key as its auth (the stand-in takes any), no update checks or usage statistics, and the project trusted
  // (Gemini CLI turns off every MCP server, user ones too, in a folder the user has not trusted).
  writeFileSync(
    join(scratch, '.gemini', 'settings.json'),
    `${JSON.stringify({ security: { auth: { selectedType: 'gemini-api-key' } }, general: { enableAutoUpdate: false, enableAutoUpdateNotification: false }, privacy: { usageStatisticsEnabled: false } }, null, 2)}\n`,
  );
  writeFileSync(join(scratch, '.gemini', 'trustedFolders.json'), `${JSON.stringify({ [join(scratch, 'project')]: 'TRUST_FOLDER' }, null, 2)}\n`);
  note(`HOME=${scratch} (XDG dirs under it, XDG_RUNTIME_DIR=$HOME/run, TMPDIR=$HOME/tmp, MUXD_HOME unset)`);
  note(`PATH starts with $HOME/bin: muxctl, mux-proxy, muxd -> <repo>/packages/{cli,proxy,daemon}/bin`);
  note('hosts run in $HOME/project');
}

// ---- host configs -------------------------------------------------------------------

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

const serversIn = (host) => readJson(host.configFile(scratch))?.mcpServers ?? {};

async function addServers(hosts) {
  step("add the servers with each host's own CLI (user scope)", 'mcp add');
  const original = {};
  for (const host of hosts) {
    for (const [name, server] of Object.entries(SERVERS)) {
      const r = await run(host.path, host.add(name, server, scratch), { timeoutMs: 60_000 });
      check(`${host.bin} mcp add ${name}`, r.code === 0, `${outcome(r)} in ${secs(r.ms)}${r.code === 0 ? '' : `: ${(r.err || r.out).trim().slice(0, 400)}`}`);
    }
    original[host.id] = serversIn(host);
    const names = Object.keys(original[host.id]);
    check(`${host.name} wrote both servers to ${short(host.configFile(scratch))}`, SERVICE_NAMES.every((name) => names.includes(name)), `entries: ${names.join(', ') || 'none'}`);
  }
  return original;
}

// ---- `mcp list` -----------------------------------------------------------------------

/**
 * What a host's `mcp list` says of each server: Claude Code prints
 * `name: command - ✔ Connected`, Gemini CLI `✓ name: command (stdio) - Connected`.
 */
function parseList(text) {
  const found = {};
  for (const line of text.split('\n')) {
    const match = /^\s*(?:[^\sA-Za-z0-9]+\s+)?([A-Za-z0-9._-]+): .* - (.+?)\s*$/.exec(line);
    if (!match || !SERVICE_NAMES.includes(match[1])) continue;
    const status = match[2].replace(/^[^A-Za-z]+/, '').trim();
    found[match[1]] = { status, connected: /^connected$/i.test(status) };
  }
  return found;
}

/** [{ host, transport, server, list, session }] for the summary table. */
const matrix = [];
function record(host, transport, server, field, value) {
  let row = matrix.find((r) => r.host === host.name && r.transport === transport && r.server === server);
  if (!row) matrix.push((row = { host: host.name, transport, server }));
  row[field] = value;
}

async function listAll(hosts, transport) {
  const results = await Promise.all(hosts.map((host) => run(host.path, ['mcp', 'list'], { timeoutMs: 120_000 })));
  hosts.forEach((host, i) => {
    const r = results[i];
    const parsed = parseList(`${r.out}\n${r.err}`);
    console.log(`  ${host.bin} mcp list (${transport}): ${outcome(r)} in ${secs(r.ms)}`);
    console.log(indent(short(`${r.out}${r.err}`.trim() || '(no output)')));
    for (const server of SERVICE_NAMES) {
      const status = parsed[server]?.status ?? 'not listed';
      record(host, transport, server, 'list', parsed[server]?.connected ? 'connected' : status);
      check(`${host.name} mcp list, ${transport}: ${server}`, parsed[server]?.connected === true, status);
    }
  });
  if (transport !== 'direct') {
    for (const [i, host] of hosts.entries()) {
      const parsed = parseList(`${results[i].out}\n${results[i].err}`);
      for (const server of SERVICE_NAMES) if (!parsed[server]?.connected) await diagnose(transport, server, host);
    }
  }
  return results;
}

// ---- why a host did not connect -----------------------------------------------------------

/** The MCP protocol versions a host's SDK accepts, when they can be read from its package (Gemini CLI's bundle). */
function hostSdkVersions(host) {
  if (host.id !== 'gemini') return undefined;
  const dir = join(e2eDir, 'node_modules', host.pkg, 'bundle');
  try {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(join(dir, file), 'utf8');
      const latest = /LATEST_PROTOCOL_VERSION = "([\d-]+)"/.exec(text)?.[1];
      const list = /SUPPORTED_PROTOCOL_VERSIONS = \[([^\]]*)\]/.exec(text)?.[1];
      if (latest && list) return list.split(',').map((v) => v.trim().replace(/^"|"$/g, '')).map((v) => (v === 'LATEST_PROTOCOL_VERSION' ? latest : v));
    }
  } catch {
    // Not readable: no versions to show.
  }
  return undefined;
}

/** Sends one initialize asking for `version` to a service through `transport`; resolves the protocolVersion muxd answered, or why none came. */
async function probeInitialize(transport, service, version) {
  const request = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'hosts-e2e-probe', version: '1.0.0' } } };
  if (transport === 'http') {
    const url = (await muxctl(['http', 'url', service], { show: false })).out.trim();
    const token = (await muxctl(['http', 'token'], { show: false })).out.trim();
    const headers = { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
    try {
      const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(request), signal: AbortSignal.timeout(15_000) });
      const text = await response.text();
      const session = response.headers.get('mcp-session-id');
      if (session) await fetch(url, { method: 'DELETE', headers: { ...headers, 'mcp-session-id': session } }).catch(() => {});
      const json = JSON.parse(text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? 'null'));
      return json?.result?.protocolVersion ?? `no result (HTTP ${response.status}: ${text.slice(0, 200)})`;
    } catch (error) {
      return `no answer: ${error.message}`;
    }
  }
  return new Promise((resolve) => {
    const child = spawn(bin('mux-proxy'), [service], { env, cwd: join(scratch, 'project'), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const finish = (value) => {
      clearTimeout(timer);
      child.kill();
      resolve(value);
    };
    const timer = setTimeout(() => finish('no answer within 15 s'), 15_000);
    child.stdout.setEncoding('utf8').on('data', (text) => {
      out += text;
      const line = out.split('\n').find((l) => l.includes('"id":1'));
      if (line) {
        try {
          const json = JSON.parse(line);
          finish(json.result?.protocolVersion ?? `error: ${JSON.stringify(json.error).slice(0, 200)}`);
        } catch {
          finish(`unreadable answer: ${line.slice(0, 200)}`);
        }
      }
    });
    child.once('error', (error) => finish(`mux-proxy failed: ${error.message}`));
    child.stdin.write(`${JSON.stringify(request)}\n`);
  });
}

const diagnosed = new Set();
/** Prints what muxd's side shows for a service a host could not connect to: its log, and what muxd answers each protocol version. */
async function diagnose(transport, service, host) {
  const key = `${transport}/${service}/${host.id}`;
  if (diagnosed.has(key)) return;
  diagnosed.add(key);
  console.log(`  why ${host.name} is not connected to ${service} over ${transport}:`);
  const logs = await muxctl(['logs', service, '-n', '8'], { show: false });
  console.log(indent(short(`muxctl logs ${service} -n 8:\n${`${logs.out}${logs.err}`.trim()}`)));
  const accepted = hostSdkVersions(host);
  const asked = accepted?.slice(0, 2) ?? ['2025-06-18', '2025-03-26'];
  for (const version of asked) {
    const answered = await probeInitialize(transport, service, version);
    const fits = accepted ? accepted.includes(answered) : answered === version;
    console.log(`        initialize asking for ${version} through ${transport === 'stdio' ? 'mux-proxy' : "muxd's HTTP front"}: muxd answered ${answered}${fits ? '' : accepted ? ` (not one of the versions ${host.name}'s MCP SDK accepts: ${accepted.join(', ')})` : ' (not the version asked for)'}`);
  }
}

// ---- sampling muxd and /proc ------------------------------------------------------------

/**
 * One look at muxd and the processes: per service, what `muxctl ls --json`
 * says (status, pids, clients), the processes running the server's entry
 * point under the scratch HOME (and their parents), and for stdio, which host
 * each mux-proxy for it belongs to.
 */
async function sample(label, hosts) {
  const ls = await muxctlJson(['ls']);
  const procs = processesOfHome(scratch);
  const hostOf = (pid) => {
    for (const ancestor of ancestors(pid)) {
      const host = hosts.find((h) => ancestor.argv.some((arg) => arg.endsWith(`/${h.bin}`) || arg.endsWith(`/bin/${h.bin}.exe`) || arg.includes(`/${h.pkg}/`)));
      if (host) return host.id;
    }
    return 'other';
  };
  const services = {};
  for (const name of SERVICE_NAMES) {
    const row = ls.services?.find((s) => s.name === name);
    const children = procs.filter((p) => p.argv.includes(SERVERS[name].entry));
    const proxies = procs.filter((p) => p.argv.some((arg) => arg.endsWith('mux-proxy.js') || arg.endsWith('/mux-proxy')) && p.argv.at(-1) === name);
    const proxiesByHost = {};
    for (const proxy of proxies) {
      const host = hostOf(proxy.pid);
      proxiesByHost[host] = (proxiesByHost[host] ?? 0) + 1;
    }
    services[name] = { status: row?.status, pids: row?.pids ?? [], clients: row?.clients, idleClients: row?.idleClients ?? 0, children: children.map((p) => ({ pid: p.pid, ppid: p.ppid })), proxiesByHost };
  }
  return { label, at: Date.now(), muxdPid: ls.daemon?.pid, error: ls.error, services };
}

function describeSample(s) {
  return SERVICE_NAMES.map((name) => {
    const v = s.services[name];
    const proxies = Object.entries(v.proxiesByHost).map(([host, n]) => `${host} ${n}`).join(', ');
    return `${name}: ${v.status ?? '?'}, muxd pids [${v.pids.join(', ')}], ${v.clients ?? '?'} clients${v.idleClients ? ` (+${v.idleClients} idle)` : ''}, server processes [${v.children.map((c) => `${c.pid} (parent ${c.ppid})`).join(', ')}]${proxies ? `, mux-proxy per host: ${proxies}` : ''}`;
  }).join('\n');
}

// ---- one round: hosts at once, lists, tool calls -----------------------------------------

/**
 * Both hosts in a session at once, each held by the stand-in model at its
 * first turn (by then it has connected its MCP servers and offered their
 * tools); while they are held each host's `mcp list` runs too, and muxd and
 * /proc are sampled throughout. Then the model lets each make its echo call.
 */
async function round(transport, hosts, standIn) {
  step(`${transport}: both hosts in a session at once, each host's mcp list, one child per service`, `${transport} round`);
  const before = await sample('before', hosts);
  note(`before: ${describeSample(before).split('\n').join('; ')}`);
  const prefix = `muxd-e2e-${transport}-${randomBytes(4).toString('hex')}`;
  standIn.newRound(prefix);
  standIn.hold();
  note(`the stand-in model holds each host's first turn; ${hosts.map((h) => `${h.bin} is asked to echo "${standIn.messageFor(h.id)}"`).join(', ')}`);
  const prompt = 'Call the echo tool of the everything MCP server once, then report what it returned.';
  const sessions = hosts.map((host) => ({ host, proc: start(host.path, host.session(prompt)) }));
  const t0 = Date.now();
  const allHeld = await standIn.waitUntil(() => sessions.every(({ host, proc }) => standIn.session(host.id).heldAt || proc.finished), 180_000);
  for (const { host, proc } of sessions) {
    const s = standIn.session(host.id);
    if (s.heldAt) note(`${host.name} reached the model after ${secs(s.heldAt - t0)} and is held there (it offered ${s.firstTurnTools.length} MCP tools on that first turn)`);
    else if (proc.finished) note(`${host.name} ended before asking the model anything: ${outcome(proc.result)}\n${indent(short(`${proc.result.out}${proc.result.err}`.trim().slice(-1500)))}`);
    else note(`${host.name} did not reach the model within 180 s`);
  }
  if (!allHeld) note('not every host reached the model: the overlap below is partial');

  // Both sessions are connected now: sample, then run each host's mcp list while sampling.
  const samples = [await sample('both sessions held', hosts)];
  console.log(`  both sessions held:\n${indent(describeSample(samples[0]))}`);
  let listing = true;
  const sampler = (async () => {
    while (listing) {
      samples.push(await sample('during mcp list', hosts));
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  })();
  const lists = await listAll(hosts, transport);
  listing = false;
  await sampler;
  samples.push(await sample('after mcp list, sessions still held', hosts));
  note(`${samples.length} samples of muxctl ls --json and /proc taken while the sessions were held (${samples.length - 2} while the mcp lists ran)`);

  // The sessions' tool calls.
  standIn.release();
  const ended = await Promise.all(sessions.map(({ proc }) => proc.done(180_000)));
  const last = await sample('after the sessions', hosts);

  // Verdicts: sessions' tools, sharing, tool calls.
  for (const { host } of sessions) {
    const s = standIn.session(host.id);
    for (const server of SERVICE_NAMES) {
      const offered = s.mcpTools.filter((name) => name.startsWith(host.toolPrefix(server)));
      record(host, transport, server, 'session', offered.length ? `${offered.length} tools` : 'no tools');
      check(`${host.name} session, ${transport}: offered ${server}'s tools to the model`, offered.length > 0, offered.length ? `${offered.length} tools, e.g. ${offered[0]}` : s.problem ?? 'none offered');
    }
  }
  checkSharing(transport, hosts, samples, before, last, standIn);
  sessions.forEach(({ host }, i) => checkToolCall(transport, host, standIn, ended[i]));
  return { lists, samples };
}

function checkSharing(transport, hosts, samples, before, after, standIn) {
  console.log(`  sharing (${transport}):`);
  for (const name of SERVICE_NAMES) {
    const pids = new Set();
    const problems = [];
    let overlap = 0;
    for (const s of samples) {
      const v = s.services[name];
      if (s.error) problems.push(`${s.label}: muxctl ls failed: ${s.error}`);
      if (v.pids.length !== 1) problems.push(`${s.label}: muxctl ls shows ${v.pids.length} pids [${v.pids.join(', ')}]`);
      if (v.children.length !== 1) problems.push(`${s.label}: ${v.children.length} processes run ${short(SERVERS[name].entry)} [${v.children.map((c) => c.pid).join(', ')}]`);
      for (const c of v.children) {
        pids.add(c.pid);
        if (c.ppid !== s.muxdPid) problems.push(`${s.label}: server process ${c.pid} is a child of ${c.ppid}, not of muxd (${s.muxdPid})`);
        if (!v.pids.includes(c.pid)) problems.push(`${s.label}: server process ${c.pid} is not the pid muxctl ls shows`);
      }
      // Both hosts on this service in this sample: for stdio, a mux-proxy of each; for http, a client more each than before.
      const bothOnProxy = hosts.every((h) => (v.proxiesByHost[h.id] ?? 0) > 0);
      const bothOnHttp = (v.clients ?? 0) - (before.services[name].clients ?? 0) >= hosts.length;
      if (transport === 'stdio' ? bothOnProxy : bothOnHttp) overlap++;
    }
    // A process or a client is not a connection: a host that refused muxd's answer leaves one too. Each host's session
    // must have offered this server's tools to the model, which it can only do once its MCP handshake succeeded.
    const notConnected = hosts.filter((h) => !standIn.session(h.id).mcpTools.some((tool) => tool.startsWith(h.toolPrefix(name))));
    const pidList = [...pids];
    const oneChild = problems.length === 0 && pidList.length === 1;
    const both = overlap > 0 && notConnected.length === 0;
    const held = samples[0].services[name];
    const detail =
      `${samples.length} samples, server pid ${pidList.join(', ') || 'none'}; with both sessions held: ${held.clients} clients` +
      (transport === 'stdio' ? ` (mux-proxy per host: ${Object.entries(held.proxiesByHost).map(([h, n]) => `${h} ${n}`).join(', ') || 'none'})` : ` (${before.services[name].clients ?? 0} before)`) +
      `; ${overlap} samples with a ${transport === 'stdio' ? 'mux-proxy' : 'client'} of ${hosts.map((h) => h.bin).join(' and ')} at once` +
      (notConnected.length ? `; but ${notConnected.map((h) => h.name).join(' and ')} never got ${name}'s tools (its MCP handshake through muxd failed)` : `; each host's session had ${name}'s tools`) +
      `; after the sessions: ${after.services[name].clients} clients${after.services[name].idleClients ? ` (+${after.services[name].idleClients} idle)` : ''}`;
    check(`${transport}: exactly one child for ${name}, muxd's, the same in every sample`, oneChild, problems.length ? `${problems.slice(0, 4).join('; ')}${problems.length > 4 ? ` (+${problems.length - 4} more)` : ''}` : `pid ${pidList[0]}`);
    check(`${transport}: ${hosts.map((h) => h.name).join(' and ')} connected to that one ${name} child at the same time`, both, detail);
    sharing.push({ transport, server: name, oneChild, both, pid: pidList.join(',') || '-', clients: held.clients, notConnected: notConnected.map((h) => h.name) });
  }
}
const sharing = [];

const toolCalls = [];
function checkToolCall(transport, host, standIn, result) {
  const s = standIn.session(host.id);
  const message = standIn.messageFor(host.id);
  const want = `Echo: ${message}`;
  const output = `${result.out}\n${result.err}`;
  const fromServer = s.toolResult?.includes(want) === true;
  const shown = result.out.includes(want);
  const ok = fromServer && shown && result.code === 0;
  console.log(`  ${host.bin} session (${transport}): ${outcome(result)} after ${secs(result.ms)}; the stand-in asked for ${s.calls.join(' then ') || 'no tool call'}`);
  if (!ok) console.log(indent(short(output.trim().slice(-2000) || '(no output)')));
  check(
    `${host.name} tool call over ${transport}: ${s.echoTool ?? 'echo'} returned "${want}"`,
    ok,
    ok
      ? `the server's answer came back to the model and ${host.bin} printed: ${result.out.trim().split('\n').pop()}`
      : s.problem ?? (s.toolResult ? `tool result: ${s.toolResult.slice(0, 300)}` : `no tool result reached the model (${outcome(result)})`),
  );
  toolCalls.push({ host: host.name, transport, ok, result: s.toolResult ? (/Echo: [^\n"\\]*/.exec(s.toolResult)?.[0] ?? s.toolResult.slice(0, 60)) : '-' });
}

// ---- muxd config ---------------------------------------------------------------------------

async function checkHostsThroughMuxd(hosts, transport) {
  const report = await muxctlJson(['hosts']);
  for (const host of hosts) {
    const file = report.hosts?.find((f) => f.file === host.configFile(scratch) && f.scope === 'user');
    const entries = Object.fromEntries((file?.entries ?? []).map((e) => [e.name, e]));
    const bad = SERVICE_NAMES.filter((name) => entries[name]?.kind !== 'muxd' || entries[name]?.transport !== transport);
    check(
      `muxctl hosts: ${host.name}'s entries go through muxd over ${transport}`,
      bad.length === 0,
      bad.length === 0 ? SERVICE_NAMES.map((n) => `${n} -> service ${entries[n].service}`).join(', ') : bad.map((n) => `${n} is ${entries[n] ? `${entries[n].kind}${entries[n].transport ? ` (${entries[n].transport})` : ''}${entries[n].detail ? `: ${entries[n].detail}` : ''}` : 'missing'}`).join('; '),
    );
    const raw = serversIn(host);
    note(`${short(host.configFile(scratch))}: ${SERVICE_NAMES.map((n) => `${n} = ${short(JSON.stringify(raw[n] ?? null))}`).join('; ')}`);
  }
}

async function importAndStart(hosts) {
  step('muxctl import, muxctl rewire (stdio), with muxd not running yet', 'import+rewire');
  const imported = await muxctl(['import']);
  const configFile = join(scratch, '.config', 'muxd', 'config.yaml');
  check('muxctl import', imported.code === 0 && SERVICE_NAMES.every((n) => new RegExp(`^\\+\\s+${n}\\s`, 'm').test(imported.out)), `${outcome(imported)}; services added: ${SERVICE_NAMES.filter((n) => new RegExp(`^\\+\\s+${n}\\s`, 'm').test(imported.out)).join(', ') || 'none'}`);
  check('muxctl import wrote muxd config under the scratch HOME', existsSync(configFile), short(configFile));
  const rewired = await muxctl(['rewire']);
  check('muxctl rewire', rewired.code === 0, outcome(rewired));
  await checkHostsThroughMuxd(hosts, 'stdio');

  // The first sessions after a rewire, muxd not running: each host's mux-proxies race to start it, and one muxd must come of it.
  step("stdio, muxd not running: both hosts' mcp list at once, their mux-proxies start muxd", 'auto-start');
  const before = await muxctlJson(['daemon', 'status']);
  check('muxd is not running yet', before.running === false, before.running ? `pid ${before.pid}` : 'muxctl daemon status: not running');
  await listAll(hosts, 'stdio, auto-start');
  const daemons = processesOfHome(scratch).filter((p) => p.argv.includes(join(root, 'packages/daemon/dist/main.js')));
  const status = await muxctlJson(['daemon', 'status']);
  check(
    'the mux-proxies started exactly one muxd, on the imported config under the scratch HOME',
    daemons.length === 1 && status.running === true && status.pid === daemons[0].pid && status.configFile === configFile && status.home?.stateDir?.startsWith(scratch),
    `muxd processes [${daemons.map((p) => p.pid).join(', ')}]; muxctl daemon status: pid ${status.pid}, config ${short(status.configFile)}, state ${short(status.home?.stateDir)}, sockets ${short(status.home?.runDir)}`,
  );
  const startedDaemon = await muxctl(['daemon', 'start']);
  check('muxctl daemon start finds it running', startedDaemon.code === 0 && /already running/.test(startedDaemon.out), startedDaemon.out.trim());
  return configFile;
}

async function switchToHttp(hosts, configFile) {
  step('http: an http block in muxd config, muxctl reload, muxctl rewire --transport http', 'rewire http');
  writeFileSync(configFile, `${readFileSync(configFile, 'utf8').replace(/\n*$/, '\n')}http:\n  listen: 127.0.0.1:0   # any free loopback port; muxctl rewire reads the one taken from muxd\n`);
  note(`appended to ${short(configFile)}: http: { listen: 127.0.0.1:0 }`);
  const reloaded = await muxctl(['reload']);
  const url = (await muxctl(['http', 'url'], { show: false })).out.trim();
  check('muxctl reload opened the HTTP front', reloaded.code === 0 && /^http:\/\/127\.0\.0\.1:\d+$/.test(url), `${outcome(reloaded)}, muxctl http url: ${url || 'none'}`);
  const rewired = await muxctl(['rewire', '--transport', 'http']);
  check('muxctl rewire --transport http', rewired.code === 0, outcome(rewired));
  await checkHostsThroughMuxd(hosts, 'http');
}

/**
 * Gemini CLI's own spelling of an HTTP entry (what `gemini mcp add
 * --transport http` writes: "type": "http" and url) at muxd's front must be
 * muxd's to muxctl and connect in Gemini CLI. An untyped url is SSE in Gemini
 * CLI's documentation: what muxctl and Gemini CLI make of one is shown, not
 * checked. Both entries are removed again.
 */
async function geminiSpellings(gemini) {
  step("http: Gemini CLI's own spellings of an entry at muxd's front", 'gemini spellings');
  const url = (await muxctl(['http', 'url', 'everything'], { show: false })).out.trim();
  const token = (await muxctl(['http', 'token'], { show: false })).out.trim();
  const added = await run(gemini.path, ['mcp', 'add', '--scope', 'user', '--transport', 'http', '--header', `Authorization: Bearer ${token}`, 'everything-typed', url], { timeoutMs: 60_000 });
  check('gemini mcp add --transport http everything-typed', added.code === 0, `${outcome(added)} in ${secs(added.ms)}: ${short(JSON.stringify(serversIn(gemini)['everything-typed'] ?? null))}`);
  const file = gemini.configFile(scratch);
  const settings = readJson(file);
  settings.mcpServers['everything-untyped'] = { url, headers: { Authorization: `Bearer ${token}` } };
  writeFileSync(file, `${JSON.stringify(settings, null, 2)}\n`);
  note(`written by hand into ${short(file)}: "everything-untyped": { "url": "${url}", "headers": ... } (no type)`);
  const report = await muxctlJson(['hosts']);
  const entries = report.hosts?.find((f) => f.file === file)?.entries ?? [];
  const typed = entries.find((e) => e.name === 'everything-typed');
  const untyped = entries.find((e) => e.name === 'everything-untyped');
  const describe = (e) => (e ? `${e.kind}${e.service ? ` (service ${e.service}${e.transport ? `, ${e.transport}` : ''})` : ''}${e.detail ? `: ${e.detail}` : ''}` : 'not listed');
  check('muxctl hosts: Gemini\'s "type": "http" + url entry at muxd\'s front is muxd\'s', typed?.kind === 'muxd' && typed?.service === 'everything', describe(typed));
  const list = await run(gemini.path, ['mcp', 'list'], { timeoutMs: 120_000 });
  const text = `${list.out}${list.err}`;
  console.log(indent(short(text.trim())));
  const status = (name) => {
    const line = text.split('\n').find((l) => l.includes(` ${name}: `));
    return line ? line.slice(line.lastIndexOf(' - ') + 3).trim() : 'not listed';
  };
  check('gemini mcp list: everything-typed through muxd\'s front', status('everything-typed') === 'Connected', status('everything-typed'));
  note(`untyped url at muxd's front: muxctl hosts says ${describe(untyped)}; gemini mcp list says ${status('everything-untyped')}`);
  if (untyped?.kind !== 'muxd' && status('everything-untyped') === 'Connected') {
    note("they disagree: Gemini CLI documents an untyped url as SSE, but this version tries Streamable HTTP first (SSE only after a 404), so muxd's front serves it");
  }
  const removed = await run(gemini.path, ['mcp', 'remove', '--scope', 'user', 'everything-typed'], { timeoutMs: 60_000 });
  const after = readJson(file);
  delete after.mcpServers['everything-untyped'];
  writeFileSync(file, `${JSON.stringify(after, null, 2)}\n`);
  check('both extra entries removed again', removed.code === 0 && !('everything-typed' in serversIn(gemini)) && !('everything-untyped' in serversIn(gemini)), outcome(removed));
}

async function undo(hosts, original) {
  step('muxctl rewire --undo gives back what the hosts wrote', 'undo');
  const r = await muxctl(['rewire', '--undo']);
  check('muxctl rewire --undo', r.code === 0, outcome(r));
  for (const host of hosts) {
    const now = serversIn(host);
    const same = isDeepStrictEqual(now, original[host.id]);
    check(`${host.name}: entries back exactly as \`${host.bin} mcp add\` wrote them`, same, same ? SERVICE_NAMES.join(', ') : `now ${short(JSON.stringify(now))}`);
  }
}

// ---- clean-up --------------------------------------------------------------------------------

async function cleanup(standIn) {
  step('clean up', 'clean-up');
  for (const child of running) {
    killGroup(child, 'SIGTERM');
    note(`stopped process group ${child.pid}`);
  }
  if (standIn) await standIn.close();
  if (!scratch) return;
  const status = await muxctlJson(['daemon', 'status']);
  if (status.running) {
    const stopped = await muxctl(['daemon', 'stop']);
    check('muxctl daemon stop', stopped.code === 0 && !isAlive(status.pid), outcome(stopped));
  } else {
    note('muxd is not running');
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const child of running) killGroup(child, 'SIGKILL');
  const left = processesOfHome(scratch).filter((p) => p.pid !== process.pid);
  check('nothing left running under the scratch HOME', left.length === 0, left.length ? left.map((p) => `${p.pid}: ${short(p.argv.join(' ')).slice(0, 120)}`).join('; ') : 'none');
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
}

// ---- main -------------------------------------------------------------------------------------

async function main() {
  console.log(`hosts-e2e: muxd against real MCP hosts; node ${process.version}; ${new Date().toISOString()}`);
  if (process.platform !== 'linux') throw new Error('hosts-e2e reads /proc: Linux only');
  for (const main of ['packages/daemon/dist/main.js', 'packages/cli/dist/main.js', 'packages/proxy/dist/mux-proxy.cjs']) {
    if (!existsSync(join(root, main))) throw new Error(`${main} is missing: build first (npm run build)`);
  }
  for (const server of Object.values(SERVERS)) if (!existsSync(server.entry)) throw new Error(`${server.entry} is missing: npm ci at the repository root`);
  if (!(await ensureInstalled())) return;
  makeScratch();
  const { available: hosts, skipped } = await probeHosts();
  summary.skipped = skipped;
  if (hosts.length === 0) {
    check('at least one host runs here', false, skipped.map((s) => `${HOSTS[s.id].name}: ${s.reason}`).join('; '));
    return;
  }
  standIn = await startModelStandIn({ log: (text) => note(text) });
  env.ANTHROPIC_BASE_URL = standIn.url;
  env.ANTHROPIC_API_KEY = 'test';
  env.GOOGLE_GEMINI_BASE_URL = standIn.url;
  env.GEMINI_API_KEY = 'test';
  note(`stand-in model API on ${standIn.url} (ANTHROPIC_BASE_URL and GOOGLE_GEMINI_BASE_URL for the hosts)`);

  const original = await addServers(hosts);

  step('direct (before muxd): each host runs the servers itself', 'direct lists');
  await listAll(hosts, 'direct');

  const configFile = await importAndStart(hosts);
  if (TRANSPORTS.includes('stdio')) await round('stdio', hosts, standIn);
  if (TRANSPORTS.includes('http')) {
    await switchToHttp(hosts, configFile);
    await round('http', hosts, standIn);
    const gemini = hosts.find((h) => h.id === 'gemini');
    if (gemini) await geminiSpellings(gemini);
  }
  await undo(hosts, original);
}

const summary = { skipped: [] };
let standIn;

function printSummary() {
  step('summary', 'summary');
  const order = ['direct', 'stdio, auto-start', 'stdio', 'http'];
  const rows = [...matrix].sort((a, b) => a.host.localeCompare(b.host) || order.indexOf(a.transport) - order.indexOf(b.transport) || a.server.localeCompare(b.server));
  if (rows.length) {
    console.log(indent(table(['HOST', 'TRANSPORT', 'SERVER', 'MCP LIST', 'IN A SESSION'], rows.map((r) => [r.host, r.transport === 'direct' ? 'direct (no muxd)' : r.transport, r.server, r.list ?? '-', r.session ?? '-'])), '  '));
  }
  if (sharing.length) {
    console.log('');
    console.log(indent(table(['TRANSPORT', 'SERVER', 'ONE CHILD', 'PID', 'CLIENTS (BOTH HELD)', 'BOTH HOSTS ON IT AT ONCE'], sharing.map((s) => [s.transport, s.server, s.oneChild ? 'yes' : 'NO', s.pid, s.clients ?? '?', s.both ? 'yes' : `NO${s.notConnected.length ? ` (${s.notConnected.join(', ')} not connected)` : ''}`])), '  '));
  }
  if (toolCalls.length) {
    console.log('');
    console.log(indent(table(['HOST', 'TRANSPORT', 'TOOL CALL', 'RESULT'], toolCalls.map((t) => [t.host, t.transport, t.ok ? 'ok' : 'FAILED', t.result])), '  '));
  }
  for (const { id, reason } of summary.skipped) console.log(`  skipped ${HOSTS[id].name}: ${reason}`);
  const failed = checks.filter((c) => !c.ok);
  console.log('');
  for (const c of failed) console.log(`  FAILED: ${c.what}${c.detail ? `: ${c.detail}` : ''}`);
  console.log(`  steps: ${steps.filter((s) => s.label !== 'summary').map((s, i) => `${s.label} ${secs((steps[i + 1]?.at ?? Date.now()) - s.at)}`).join(', ')}`);
  console.log(`  took ${secs(Date.now() - started)}${scratch && (keep || failed.length) ? `; scratch HOME kept in ${scratch}` : ''}`);
  console.log(`hosts-e2e: ${checks.length - failed.length} passed, ${failed.length} failed`);
  return failed.length === 0 ? 0 : 1;
}

let code = 1;
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (stopping) process.exit(130);
    stopping = true;
    console.log(`\nhosts-e2e: ${signal}: cleaning up`);
    await cleanup(standIn).catch(() => {});
    process.exit(130);
  });
}
try {
  await main();
} catch (error) {
  check('hosts-e2e ran to the end', false, error instanceof Error ? (error.stack ?? error.message) : String(error));
}
try {
  await cleanup(standIn);
} catch (error) {
  check('clean-up', false, String(error));
}
code = printSummary();
if (scratch && !keep && code === 0) rmSync(scratch, { recursive: true, force: true });
process.exit(code);
