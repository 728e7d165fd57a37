/**
 * Setup's last step, with the code of the commands it stands for: import's
 * write of muxd's config, the launcher `daemon start` uses (then `reload`
 * when muxd ran already), `health` for each chosen service, `rewire` of the
 * chosen host files (backups and journal included), and `service install`.
 */
import { ControlMethods } from '@muxd/protocol';
import type { HealthResult } from '@muxd/protocol';
import { knownHttpToken, listenUrl, runningHttpFront } from '../commands/http.js';
import { checkService } from '../commands/health.js';
import { checkImportWritable, writeImport } from '../commands/import.js';
import { afterRewire, enabledServices, readRewireConfig, rewireHosts } from '../commands/rewire.js';
import { installService, userServicePlan } from '../commands/service.js';
import { CliError } from '../cliError.js';
import { paths, withDaemon } from '../context.js';
import { ensureDaemon } from '../daemonLauncher.js';
import type { FileOutcome, HttpFront, MuxdTransport, ServerSpec } from '@muxd/hosts';
import { redactArgs } from '@muxd/hosts';
import type { RunningProcess } from './runningServers.js';
import { chosenServices } from './setupPlan.js';
import type { SetupContext, SetupHostFile } from './setupPlan.js';

/** What the user chose, by prompts or by flags. */
export interface SetupChoices {
  /** Names of the servers to run in muxd. */
  servers: string[];
  /** Host files to rewire. */
  files: SetupHostFile[];
  /** How rewired entries reach muxd; undefined: rewire's default (mux-proxy for new entries, others keep theirs). */
  transport?: MuxdTransport;
  serviceInstall: boolean;
}

/** Where setup reports the slow steps as they go (a spinner, or lines on stderr). */
export interface SetupProgress {
  start(message: string): void;
  stop(message: string): void;
}

/** What setup did (or, in a dry run, would do): printed as the summary, or as --json. */
export interface SetupResult {
  dryRun: boolean;
  configFile: string;
  /** True when the config file did not exist and setup wrote it. */
  configCreated: boolean;
  servers: Array<{ name: string; status: 'new' | 'present'; command: string; args: string[]; hosts: string[]; running: RunningProcess[] }>;
  /** Services added to muxd's config. */
  added: string[];
  /** `started`: setup started muxd; `reloaded`: it ran, and re-read its config; `running`: it ran, and nothing was added; `skipped`: dry run. */
  daemon: 'started' | 'reloaded' | 'running' | 'skipped';
  health: HealthResult[];
  transport: MuxdTransport;
  hosts: FileOutcome[];
  service: { manager: string; file: string; installed: boolean } | null;
  /** How to undo each change, one command or instruction a line. */
  undo: string[];
  /** What went wrong; setup exits 1 when there is any. */
  problems: string[];
}

/** The HTTP front rewire writes into entries: the running muxd's; in a dry run with none running, the config's address and a stand-in token (masked in diffs). */
async function httpFront(dryRun: boolean, httpListen: string | number | undefined): Promise<HttpFront> {
  try {
    return await runningHttpFront();
  } catch (error) {
    const url = httpListen === undefined ? undefined : listenUrl(httpListen);
    if (!dryRun || url === undefined) throw error;
    return { url, token: knownHttpToken() ?? 'muxd-http-token' };
  }
}

/**
 * Applies `choices`. Each step that fails is recorded in `problems` and the
 * steps that depend on it are skipped: an unhealthy service's entries are
 * not rewired, so no host is left pointing at a server that does not answer.
 * Throws `CliError` only for what stops everything (muxd's config cannot be
 * written, muxd cannot be started).
 */
export async function applySetup(context: SetupContext, choices: SetupChoices, dryRun: boolean, progress: SetupProgress): Promise<SetupResult> {
  const { configFile, config } = context.found;
  const chosen = context.servers.filter((server) => choices.servers.includes(server.name));
  const added = context.found.plan.services.filter((service) => service.status === 'new' && choices.servers.includes(service.name));
  checkImportWritable(configFile, config, added);
  const problems: string[] = [];
  const undo: string[] = [];

  if (!dryRun) await writeImport(configFile, config, added);
  if (added.length > 0) undo.push(`remove ${added.map((service) => service.name).join(', ')} from ${configFile}${config.exists ? '' : ' (setup created it: delete the file)'}, then: muxctl reload`);

  let daemon: SetupResult['daemon'] = 'skipped';
  const health: HealthResult[] = [];
  if (!dryRun) {
    progress.start('starting muxd');
    let outcome: 'running' | 'started';
    try {
      outcome = await ensureDaemon(paths());
    } catch (error) {
      progress.stop('muxd did not start');
      throw new CliError(`${(error as Error).message}; the config is written: fix it, then run muxctl setup again`);
    }
    daemon = outcome;
    if (outcome === 'running' && added.length > 0) {
      await withDaemon((client) => client.request(ControlMethods.Reload, { allowEmpty: false }), { autoStart: false });
      daemon = 'reloaded';
    }
    progress.stop(outcome === 'started' ? 'muxd started' : daemon === 'reloaded' ? 'muxd was running: it re-read its config' : 'muxd is running');
    if (outcome === 'started') undo.push('muxctl daemon stop   (stops muxd and its servers)');

    const names = chosen.filter((server) => !config.disabled.has(server.name)).map((server) => server.name);
    for (const [index, name] of names.entries()) {
      progress.start(`health check ${index + 1}/${names.length}: ${name}`);
      const result = await checkService(name, 10_000);
      health.push(result);
      if (!result.ok) problems.push(`${name}: unhealthy: ${result.error}; its host entries were left as they are (muxctl logs ${name} says why)`);
    }
    if (names.length > 0) progress.stop(`health checked: ${health.filter((result) => result.ok).length} of ${names.length} ok`);
  }

  let hosts: FileOutcome[] = [];
  const transport = choices.transport ?? 'stdio';
  if (choices.files.length > 0) {
    const healthy = new Set(health.filter((result) => result.ok).map((result) => result.name));
    let services: Map<string, ServerSpec>;
    let httpOff = config.httpOff;
    let httpListen = config.httpListen;
    if (dryRun) {
      services = chosenServices(context, choices.servers);
    } else {
      // The config as written now, as rewire reads it.
      const current = (await readRewireConfig()).config;
      services = new Map([...enabledServices(current)].filter(([name]) => healthy.has(name)));
      httpOff = current.httpOff;
      httpListen = current.httpListen;
    }
    let http: HttpFront | undefined;
    try {
      if (choices.transport === 'http') http = await httpFront(dryRun, httpListen);
      progress.start(`${dryRun ? 'planning the rewire of' : 'rewiring'} ${choices.files.length} host file${choices.files.length === 1 ? '' : 's'}`);
      hosts = await rewireHosts({
        files: choices.files.map((item) => item.file),
        projectDir: context.found.env.projectDir,
        services,
        httpOff,
        proxy: context.proxy,
        dryRun,
        includeTracked: false,
        ...(choices.transport === undefined ? {} : { transport: choices.transport }),
        ...(http ? { http } : {}),
      });
      const changed = hosts.filter((outcome) => outcome.changed).length;
      progress.stop(`${changed} host file${changed === 1 ? '' : 's'} ${dryRun ? 'would change' : 'changed'}`);
      afterRewire(hosts, dryRun, http);
    } catch (error) {
      problems.push(`rewire: ${(error as Error).message}`);
    }
    for (const outcome of hosts.filter((item) => item.error)) problems.push(`${outcome.file} not changed: ${outcome.error}`);
    if (hosts.some((outcome) => outcome.changed)) undo.unshift('muxctl rewire --undo   (puts back every host entry rewire changed, from its journal)');
  }

  let service: SetupResult['service'] = null;
  if (choices.serviceInstall) {
    try {
      const plan = await userServicePlan();
      await installService(plan, dryRun);
      service = { manager: plan.manager, file: plan.file, installed: !dryRun };
      undo.push('muxctl service uninstall   (muxd no longer starts at login)');
    } catch (error) {
      problems.push(`service install: ${(error as Error).message}`);
    }
  }

  return {
    dryRun,
    configFile,
    configCreated: !dryRun && !config.exists && added.length > 0,
    servers: chosen.map((server) => ({ name: server.name, status: server.status, command: server.spec.command, args: redactArgs(server.spec.args), hosts: server.hosts, running: server.running })),
    added: added.map((service) => service.name),
    daemon,
    health,
    transport,
    hosts,
    service,
    undo,
    problems,
  };
}
