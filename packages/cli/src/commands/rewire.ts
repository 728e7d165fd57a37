import { chmodSync, existsSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { CommandModule } from 'yargs';
import { CliError, ExitCodes } from '../cliError.js';
import { notice, paths } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson } from '../format.js';
import { BackupStore, HostIds, MuxdTransports, describeFile, findHostFiles, findProxyCommand, hostEnvFromProcess, proxyEnvironment, readMuxConfig, rewireFiles, undoRewire } from '@muxd/hosts';
import type { FileOutcome, HostFile, HttpFront, MuxConfigText, MuxdTransport, ServerSpec } from '@muxd/hosts';
import { selectHosts } from '../hostSelection.js';
import { knownHttpToken, knownHttpUrls, runningHttpFront } from './http.js';
import { importTarget } from './import.js';

interface RewireArgs extends GlobalArgs {
  hosts: string[] | undefined;
  'dry-run': boolean;
  undo: boolean;
  project: string | undefined;
  proxy: string | undefined;
  'include-tracked': boolean;
  transport: MuxdTransport | undefined;
}

const VERBS = { rewire: 'rewired', restore: 'restored', already: 'through muxd already', skip: 'skipped' } as const;

function printOutcome(outcome: FileOutcome, dryRun: boolean): void {
  const lines = [`${describeFile({ host: { name: outcome.hostName }, scope: outcome.scope, variant: outcome.variant })}  ${outcome.file}`];
  for (const entry of outcome.entries) {
    const verb = dryRun && (entry.action === 'rewire' || entry.action === 'restore') ? `would be ${VERBS[entry.action]}` : VERBS[entry.action];
    const service =
      entry.adhoc !== undefined
        ? ` -> ad hoc: ${entry.adhoc}`
        : entry.service !== undefined && entry.action !== 'skip'
          ? ` -> service ${entry.service}${entry.transport === 'http' ? ' over HTTP' : ''}`
          : '';
    lines.push(`  ${entry.name}: ${verb}${service}${entry.reason ? `: ${entry.reason}` : ''}`);
  }
  if (outcome.entries.length === 0 && !outcome.error) lines.push('  (nothing to do)');
  if (outcome.error) lines.push(`  not changed: ${outcome.error}`);
  if (outcome.skipped) lines.push(`  left alone: ${outcome.skipped}`);
  if (outcome.diff) lines.push(...outcome.diff.trimEnd().split('\n').map((line) => `  ${line}`));
  if (outcome.backup) lines.push(`  backup: ${outcome.backup}`);
  if (outcome.changed && !dryRun) lines.push(`  reload: ${outcome.reload}`);
  console.log(lines.join('\n'));
}

function modeOf(file: string): number | undefined {
  try {
    return statSync(file).mode & 0o777;
  } catch {
    return undefined;
  }
}

/**
 * The absolute path of the mux-proxy rewire writes: `given` (`--proxy`), else
 * the one installed with muxctl, past npm's .bin link (hosts run the script
 * by node's absolute path). Throws `CliError` when there is none or it is relative.
 */
export function rewireProxyCommand(given: string | undefined): string {
  const found = given ?? findProxyCommand();
  const proxy = found === undefined ? undefined : realpathSync(found);
  if (!proxy) throw new CliError('cannot find mux-proxy next to muxctl or on PATH; pass its absolute path with --proxy', ExitCodes.Usage);
  if (!isAbsolute(proxy)) throw new CliError(`--proxy must be an absolute path (hosts start servers without your shell's PATH), got ${proxy}`, ExitCodes.Usage);
  return proxy;
}

/** muxd's config as rewire reads it (the file import writes). Throws `CliError` when there is none or it cannot be read. */
export async function readRewireConfig(): Promise<{ configFile: string; config: MuxConfigText }> {
  const configFile = await importTarget();
  if (!existsSync(configFile)) throw new CliError(`no muxd config at ${configFile}: run muxctl import first`, ExitCodes.Usage);
  try {
    return { configFile, config: await readMuxConfig(configFile) };
  } catch (error) {
    throw new CliError(`cannot read muxd's config: ${(error as Error).message}`, ExitCodes.Usage);
  }
}

/** The services of `config` that entries may be pointed at: those not disabled. */
export function enabledServices(config: MuxConfigText): Map<string, ServerSpec> {
  return new Map([...config.services].filter(([name]) => !config.disabled.has(name)));
}

/** What `rewireHosts` rewires, and how. */
export interface HostRewire {
  files: readonly HostFile[];
  projectDir: string;
  /** The services entries may be pointed at (an entry running none of them is left alone). */
  services: ReadonlyMap<string, ServerSpec>;
  /** Services kept off the HTTP front: they stay on mux-proxy. */
  httpOff: ReadonlySet<string>;
  /** Absolute path of mux-proxy (`rewireProxyCommand`). */
  proxy: string;
  dryRun: boolean;
  includeTracked: boolean;
  transport?: MuxdTransport;
  /** muxd's running HTTP front; required for `transport: 'http'`. */
  http?: HttpFront;
}

/**
 * Rewires `files` as `muxctl rewire` does: a backup and a journal in muxd's
 * state directory for each write, entries at muxd's known HTTP URLs or
 * sending its token recognised as muxd's, and what mux-proxy needs to find
 * this muxd (MUXD_HOME...) written into each entry pointed at it.
 */
export async function rewireHosts(options: HostRewire): Promise<FileOutcome[]> {
  const httpUrls = await knownHttpUrls();
  const httpToken = options.http?.token ?? knownHttpToken();
  return rewireFiles({
    files: options.files,
    services: options.services,
    proxyCommand: options.proxy,
    projectDir: options.projectDir,
    store: new BackupStore(paths().stateDir),
    dryRun: options.dryRun,
    includeTracked: options.includeTracked,
    ...(options.transport === undefined ? {} : { transport: options.transport }),
    ...(options.http ? { http: options.http } : {}),
    httpUrls,
    ...(httpToken === undefined ? {} : { httpToken }),
    httpOff: options.httpOff,
    // What mux-proxy needs in a rewired entry's env to find this muxd (MUXD_HOME...): hosts may give it next to no environment.
    proxyEnv: proxyEnvironment(),
  });
}

/**
 * What follows a rewire: says which variables went into the entries pointed
 * at mux-proxy, and makes each file that now holds muxd's HTTP token private
 * to its owner (others lose read and write, the owner keeps what it had).
 */
export function afterRewire(outcomes: readonly FileOutcome[], dryRun: boolean, http: HttpFront | undefined): void {
  const proxyEnv = proxyEnvironment();
  const rewired = (transport: MuxdTransport) => outcomes.some((outcome) => outcome.changed && outcome.entries.some((entry) => entry.action === 'rewire' && entry.transport === transport));
  if (rewired('stdio') && Object.keys(proxyEnv).length > 0) {
    const written = Object.entries(proxyEnv).map(([key, value]) => `${key}=${value}`).join(', ');
    notice(`${dryRun ? 'would write' : 'wrote'} ${written} into the env of each entry rewired to mux-proxy: it finds this muxd whatever environment its host gives it`);
  }
  if (!http || dryRun) return;
  for (const outcome of outcomes.filter((item) => item.changed && item.entries.some((entry) => entry.action === 'rewire' && entry.transport === 'http'))) {
    const mode = modeOf(outcome.file);
    if (mode === undefined || (mode & 0o077) === 0) continue;
    try {
      chmodSync(outcome.file, mode & 0o700);
      notice(`${outcome.file} now holds muxd's HTTP token: its mode went from ${mode.toString(8)} to ${(mode & 0o700).toString(8)}, so other users cannot read it`);
    } catch (error) {
      notice(`${outcome.file} (mode ${mode.toString(8)}) can be read by other users and now holds muxd's HTTP token, and its mode could not be changed (${(error as Error).message}): chmod 600 it`);
    }
  }
}

export const rewireCommand: CommandModule<GlobalArgs, RewireArgs> = {
  command: 'rewire [hosts..]',
  describe: 'Point the hosts\' entries for muxd\'s services at mux-proxy or muxd\'s HTTP front (--undo puts them back)',
  builder: (yargs) =>
    yargs
      .positional('hosts', { type: 'string', array: true, describe: `Hosts to rewire (default: every host found): ${HostIds.join(', ')}` })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Show the diff of each file; write nothing' })
      .option('undo', { type: 'boolean', default: false, describe: 'Put back the entries rewire changed, from its journal' })
      .option('project', { type: 'string', describe: 'Project whose project-scope files to rewire (default: the current directory)' })
      .option('proxy', { type: 'string', describe: 'Absolute path of the mux-proxy to write (default: the one installed with muxctl)' })
      .option('include-tracked', { type: 'boolean', default: false, describe: 'Rewire files tracked by git too' })
      .option('transport', {
        choices: MuxdTransports,
        describe:
          "stdio (default for new entries): run mux-proxy; http: the service's URL on muxd's HTTP front with the bearer token (hosts without HTTP, such as Claude Desktop, stay on mux-proxy). Entries through muxd already keep theirs unless this is given",
      }) as never,
  handler: async (argv) => {
    const hosts = selectHosts(argv.hosts);
    const dryRun = argv['dry-run'];
    let outcomes: FileOutcome[];
    let proxy: string | undefined;
    let http: HttpFront | undefined;
    if (argv.undo) {
      outcomes = await undoRewire({ store: new BackupStore(paths().stateDir), hosts, dryRun });
    } else {
      proxy = rewireProxyCommand(argv.proxy);
      const { config } = await readRewireConfig();
      // Over HTTP the URL comes from the running daemon; either way, entries at a known URL are muxd's (to switch them).
      if (argv.transport === 'http') http = await runningHttpFront();
      const env = hostEnvFromProcess(argv.project);
      outcomes = await rewireHosts({
        files: findHostFiles(env, hosts),
        projectDir: env.projectDir,
        services: enabledServices(config),
        httpOff: config.httpOff,
        proxy,
        dryRun,
        includeTracked: argv['include-tracked'],
        ...(argv.transport === undefined ? {} : { transport: argv.transport }),
        ...(http ? { http } : {}),
      });
    }
    if (argv.json) {
      // Never the token: diffs are masked, and the outcomes hold none.
      printJson({ undo: argv.undo, dryRun, ...(proxy === undefined ? {} : { proxy }), ...(argv.undo ? {} : { transport: argv.transport ?? 'stdio' }), ...(http ? { httpUrl: http.url } : {}), files: outcomes });
    } else if (outcomes.length === 0) {
      console.log(argv.undo ? 'nothing to undo' : 'no MCP host config found');
    } else {
      // Claude Code's local scope lives in ~/.claude.json: only a project with servers there is worth a line (as in muxctl hosts).
      for (const outcome of outcomes.filter((item) => item.scope !== 'local' || item.entries.length > 0 || item.error)) {
        printOutcome(outcome, dryRun);
        console.log('');
      }
      // A file with several servers maps (~/.claude.json) is one file.
      const changed = new Set(outcomes.filter((outcome) => outcome.changed).map((outcome) => outcome.file)).size;
      console.log(dryRun ? `dry run: ${changed} file${changed === 1 ? '' : 's'} would change; nothing written` : `${changed} file${changed === 1 ? '' : 's'} changed`);
    }
    if (!argv.undo) afterRewire(outcomes, dryRun, http);
    const failed = outcomes.filter((outcome) => outcome.error);
    if (failed.length > 0) throw new CliError(`${failed.length} file${failed.length === 1 ? '' : 's'} not changed: ${failed.map((outcome) => outcome.file).join(', ')}`);
  },
};
