#!/usr/bin/env node
// npm run pack-e2e: the published package as a user gets it. Packs muxd
// (npm run pack), installs the tarball with `npm i -g --prefix` in a scratch
// HOME, and with only that prefix's bin/ (and node's) on PATH: muxctl
// --version; a config with server-memory (the repository's devDependency, no
// network); muxctl daemon start; a real SDK client through the installed
// mux-proxy lists the tools and calls one; muxctl ls --json shows the client;
// the dashboard's login link, page and scripts are served from the package;
// rewire --dry-run and service install --dry-run name the global bins;
// muxctl daemon stop; nothing started may be left running. Prints the
// packed and installed sizes. Exits 1 on the first failure. `--keep` keeps
// the scratch directory.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const version = JSON.parse(readFileSync(join(root, 'packages/muxd/package.json'), 'utf8')).version;
const tag = `pack-e2e-${process.pid}-${Date.now()}`;
const scratch = mkdtempSync(join(tmpdir(), 'muxd-pack-e2e-'));
const prefix = join(scratch, 'prefix');
const home = join(scratch, 'home');
const bin = join(prefix, 'bin');
let step = 'start';

function say(message) {
  console.log(`pack-e2e: ${message}`);
}

function fail(message) {
  throw new Error(`${step}: ${message}`);
}

// npm keeps the user's cache and config (registry, CA, nodedir for better-sqlite3): the scratch HOME is for muxd.
const npmConfig = (key) => execFileSync('npm', ['config', 'get', key], { encoding: 'utf8' }).trim();
const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('MUXD_') && !name.startsWith('XDG_') && !name.startsWith('npm_')));
const env = {
  ...inherited,
  PATH: [bin, dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
  HOME: home,
  XDG_CONFIG_HOME: join(home, '.config'),
  XDG_STATE_HOME: join(home, '.local/state'),
  XDG_DATA_HOME: join(home, '.local/share'),
  XDG_CACHE_HOME: join(home, '.cache'),
  XDG_RUNTIME_DIR: join(scratch, 'run'),
  npm_config_cache: npmConfig('cache'),
  npm_config_userconfig: npmConfig('userconfig'),
  MUXD_PACK_E2E: tag,
};
if (process.env.npm_config_nodedir) env.npm_config_nodedir = process.env.npm_config_nodedir;

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: options.cwd ?? scratch, env: options.env ?? env, encoding: 'utf8', timeout: options.timeoutMs ?? 120_000 });
  if (result.error) fail(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0 && !options.allowFailure) {
    fail(`${command} ${args.join(' ')} exited ${result.status}\n${result.stdout}${result.stderr}`);
  }
  return result;
}

/** Pids of live processes whose environment carries this run's tag. */
function taggedProcesses() {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`MUXD_PACK_E2E=${tag}`)) found.push(Number(entry));
    } catch {
      // Gone, or not ours.
    }
  }
  return found;
}

function diskUsage(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += diskUsage(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/** A port nothing listens on now, for the HTTP front. */
async function freePort() {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function main() {
  step = 'pack';
  say('packing (npm run pack)');
  const packed = run('npm', ['run', 'pack', '--silent'], { cwd: root, env: process.env, timeoutMs: 300_000 });
  const tarball = join(root, 'dist', `muxd-${version}.tgz`);
  const packedBytes = statSync(tarball).size;
  say(`packed ${tarball} (${mib(packedBytes)}); ${packed.stdout.trim().split('\n').at(-2)}`);

  step = 'install';
  say(`installing with npm i -g --prefix ${prefix} (better-sqlite3 may compile: minutes)`);
  mkdirSync(home, { recursive: true });
  run('npm', ['i', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], { timeoutMs: 1_200_000 });
  const installed = join(prefix, 'lib/node_modules/muxd');
  const installedBytes = diskUsage(installed);
  say(`installed ${installed} (${mib(installedBytes)} with its dependencies)`);
  for (const name of ['muxd', 'muxctl', 'mux-proxy']) {
    const which = run('sh', ['-c', `command -v ${name}`], { allowFailure: true }).stdout.trim();
    if (which !== join(bin, name)) fail(`${name} is not on PATH from the prefix (found: ${which || 'nothing'})`);
  }

  step = 'muxctl --version';
  const printed = run('muxctl', ['--version']).stdout.trim();
  if (printed !== version) fail(`printed ${JSON.stringify(printed)}, expected ${version}`);
  say(`muxctl --version: ${printed}`);

  step = 'config';
  const configDir = join(env.XDG_CONFIG_HOME, 'muxd');
  mkdirSync(configDir, { recursive: true });
  const memoryServer = join(root, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');
  const httpPort = await freePort();
  const config = {
    http: { listen: `127.0.0.1:${httpPort}` },
    services: {
      memory: { command: process.execPath, args: [memoryServer], env: { MEMORY_FILE_PATH: join(scratch, 'memory.jsonl') } },
    },
  };
  writeFileSync(join(configDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  run('muxctl', ['config', 'check']);
  say(`config ${join(configDir, 'config.json')}: memory (server-memory)`);

  step = 'muxctl daemon start';
  run('muxctl', ['daemon', 'start']);
  const status = JSON.parse(run('muxctl', ['daemon', 'status', '--json']).stdout);
  say(`muxd started (pid ${status.pid ?? status.daemon?.pid ?? '?'})`);

  step = 'SDK client through mux-proxy';
  const client = new Client({ name: 'pack-e2e', version });
  const transport = new StdioClientTransport({ command: join(bin, 'mux-proxy'), args: ['memory'], env, stderr: 'pipe' });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    if (!names.includes('create_entities') || !names.includes('read_graph')) fail(`tools: ${names.join(', ')}`);
    say(`listed ${names.length} tools through ${join(bin, 'mux-proxy')}`);
    await client.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'pack-e2e', entityType: 'test', observations: ['installed'] }] } });
    const graph = await client.callTool({ name: 'read_graph', arguments: {} });
    if (!JSON.stringify(graph).includes('pack-e2e')) fail(`read_graph did not return the entity created: ${JSON.stringify(graph).slice(0, 300)}`);
    say('create_entities then read_graph: the entity came back');

    step = 'muxctl ls --json';
    const listed = JSON.parse(run('muxctl', ['ls', '--json']).stdout);
    const rows = Array.isArray(listed) ? listed : listed.services;
    const memory = rows?.find((row) => row.name === 'memory');
    if (!memory) fail(`no memory row: ${JSON.stringify(listed).slice(0, 300)}`);
    if (memory.status !== 'online' || !(memory.clients >= 1)) fail(`memory is ${memory.status} with ${memory.clients} clients`);
    say(`muxctl ls --json: memory ${memory.status}, pid ${memory.pid ?? memory.pids}, ${memory.clients} client(s)`);
  } finally {
    await client.close();
  }

  step = 'muxctl dashboard';
  const login = JSON.parse(run('muxctl', ['dashboard', '--no-open', '--json']).stdout);
  const entered = await fetch(login.url, { redirect: 'manual' });
  const cookie = entered.headers.get('set-cookie')?.split(';')[0];
  if (entered.status !== 303 || !cookie) fail(`the login link answered ${entered.status} without a session cookie`);
  const page = await fetch(`http://127.0.0.1:${httpPort}/`, { headers: { cookie } });
  if (page.status !== 200) fail(`the dashboard page answered ${page.status}`);
  for (const asset of (await page.text()).matchAll(/(?:src|href)="(\/dashboard\/static\/[^"]+)"/g)) {
    const served = await fetch(`http://127.0.0.1:${httpPort}${asset[1]}`, { headers: { cookie } });
    if (served.status !== 200) fail(`${asset[1]} answered ${served.status}: the package is missing a dashboard file`);
  }
  say('muxctl dashboard: logged in through the link; the page and its scripts are served from the package');

  step = 'muxctl rewire --dry-run';
  writeFileSync(join(home, '.claude.json'), `${JSON.stringify({ mcpServers: { memory: { command: process.execPath, args: [memoryServer] } } }, null, 2)}\n`);
  const rewire = run('muxctl', ['rewire', '--dry-run']).stdout;
  // The global bin, or the file it links to (rewire writes the script's own path, past npm's link).
  const proxyPaths = [join(bin, 'mux-proxy'), realpathSync(join(bin, 'mux-proxy'))];
  const pointed = proxyPaths.find((path) => rewire.includes(`"command": "${path}"`));
  if (!pointed) fail(`the diff does not point at ${proxyPaths.join(' or ')}:\n${rewire}`);
  say(`muxctl rewire --dry-run points hosts at ${pointed}`);

  step = 'muxctl service install --dry-run';
  const unit = run('muxctl', ['service', 'install', '--dry-run']).stdout;
  if (!unit.includes(join(bin, 'muxd'))) fail(`the unit does not start ${join(bin, 'muxd')}:\n${unit}`);
  say(`muxctl service install --dry-run: the unit runs ${unit.match(/^ExecStart=.*$/m)?.[0] ?? join(bin, 'muxd')}`);

  step = 'muxctl daemon stop';
  run('muxctl', ['daemon', 'stop']);
  const deadline = Date.now() + 10_000;
  let left = taggedProcesses();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = taggedProcesses();
  }
  if (left.length > 0) fail(`still running after muxctl daemon stop: ${left.map((pid) => `${pid} (${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').trim()})`).join(', ')}`);
  say('muxd stopped; nothing left running');
  say(`ok: ${mib(packedBytes)} packed, ${mib(installedBytes)} installed`);
}

let code = 0;
try {
  await main();
} catch (error) {
  console.error(`pack-e2e: FAILED at ${error.message}`);
  code = 1;
} finally {
  for (const pid of taggedProcesses()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  if (keep) say(`kept ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
}
process.exit(code);
