import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CommandModule } from 'yargs';
import { userConfigDir } from '@muxd/config';
import { CliError, ExitCodes } from '../cliError.js';
import { notice } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson, table } from '../format.js';
import { HostIds, addServices, commandLine, describeSource, findHostFiles, findProxyCommand, hostEnvFromProcess, parseMuxConfig, planImport, readHostFile, readMuxConfig, redactArgs, redactEnv, updateFileAtomic } from '@muxd/hosts';
import type { HostDefinition, HostEnv, HostFileEntries, ImportPlan, MuxConfigText, PlannedService } from '@muxd/hosts';
import { selectHosts } from '../hostSelection.js';
import { configFileInUse } from './config.js';
import { muxdMarks } from './http.js';

interface ImportArgs extends GlobalArgs {
  from: string[] | undefined;
  'dry-run': boolean;
  project: string | undefined;
}

/** The config file import writes: the one muxd uses, else a new `$XDG_CONFIG_HOME/muxd/config.yaml`. */
export async function importTarget(): Promise<string> {
  return (await configFileInUse()).file ?? join(userConfigDir(), 'config.yaml');
}

function serviceJson(service: PlannedService): Record<string, unknown> {
  return {
    name: service.name,
    status: service.status,
    command: service.spec.command,
    args: redactArgs(service.spec.args),
    env: redactEnv(service.spec.env),
    ...(service.spec.cwd === undefined ? {} : { cwd: service.spec.cwd }),
    sources: service.sources,
  };
}

/** What import would do: the hosts' entries as read, the config file it writes and that file as it is, and the plan. */
export interface HostImport {
  env: HostEnv;
  /** Each host file found that has a servers map, with its entries. */
  entries: HostFileEntries[];
  configFile: string;
  config: MuxConfigText;
  plan: ImportPlan;
}

/**
 * Reads the host files of `hosts` (for `project`'s project-scope files;
 * default the current directory) and plans their import into muxd's config.
 * Unreadable files are skipped with a notice. Throws `CliError` when muxd's
 * config cannot be read.
 */
export async function planHostImport(hosts: readonly HostDefinition[], project?: string): Promise<HostImport> {
  const env = hostEnvFromProcess(project);
  const entries: HostFileEntries[] = [];
  const marks = await muxdMarks(findProxyCommand());
  for (const read of await Promise.all(findHostFiles(env, hosts).map((file) => readHostFile(file, marks)))) {
    if (read.error !== undefined) notice(`skipped ${read.file.path}: ${read.error}`);
    else if (read.document.entries) entries.push({ file: read.file, entries: read.document.entries });
  }
  const configFile = await importTarget();
  let config;
  try {
    config = await readMuxConfig(configFile);
  } catch (error) {
    throw new CliError(`cannot read muxd's config: ${(error as Error).message}`, ExitCodes.Usage);
  }
  return { env, entries, configFile, config, plan: planImport(entries, config.services, env.projectDir, process.env, configFile) };
}

/** Throws `CliError` when `added` is not empty and the config is JavaScript (muxctl cannot edit it): dry runs say so too. */
export function checkImportWritable(configFile: string, config: MuxConfigText, added: readonly PlannedService[]): void {
  if (added.length > 0 && config.format === 'js') throw new CliError(`${configFile} is JavaScript: muxctl cannot edit it; add the services by hand or use a YAML config`, ExitCodes.Usage);
}

/**
 * Adds `added` (the plan's new services) to `config`, creating the file when
 * it does not exist. Nothing to add writes nothing. Throws `CliError` for a
 * JavaScript config (muxctl cannot edit it) or a failed write.
 */
export async function writeImport(configFile: string, config: MuxConfigText, added: readonly PlannedService[]): Promise<void> {
  checkImportWritable(configFile, config, added);
  if (added.length === 0) return;
  const newServices = added.map(({ name, spec }) => ({ name, spec }));
  try {
    if (config.exists) {
      await updateFileAtomic(configFile, (text) => addServices(parseMuxConfig(configFile, text), newServices));
    } else {
      await mkdir(dirname(configFile), { recursive: true });
      await writeFile(configFile, addServices(config, newServices), { flag: 'wx', mode: 0o600 }).catch(async (error: NodeJS.ErrnoException) => {
        // A new config cut short (a full disk) is removed, not left half-written for muxd to load.
        if (error.code !== 'EEXIST') await rm(configFile, { force: true });
        throw error;
      });
    }
  } catch (error) {
    throw new CliError(`cannot write ${configFile}: ${(error as Error).message}`);
  }
}

export const importCommand: CommandModule<GlobalArgs, ImportArgs> = {
  command: 'import',
  describe: "Copy the hosts' stdio MCP servers into muxd's config",
  builder: (yargs) =>
    yargs
      .option('from', { type: 'string', array: true, describe: `Hosts to read (default: every host found): ${HostIds.join(', ')}` })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Show what would be added; write nothing' })
      .option('project', { type: 'string', describe: 'Project whose project-scope files to read (default: the current directory)' }) as never,
  handler: async (argv) => {
    const { entries, configFile, config, plan } = await planHostImport(selectHosts(argv.from), argv.project);
    const added = plan.services.filter((service) => service.status === 'new');
    const dryRun = argv['dry-run'];
    checkImportWritable(configFile, config, added);
    if (!dryRun) await writeImport(configFile, config, added);

    if (argv.json) {
      printJson({ configFile, created: !config.exists && added.length > 0, dryRun, services: plan.services.map(serviceJson), skipped: plan.skipped, notes: plan.notes });
      return;
    }
    if (plan.services.length === 0) {
      console.log(entries.length === 0 ? 'no MCP host config with servers found' : 'no stdio servers to import');
    } else {
      console.log(
        table(
          ['', 'SERVICE', 'RUNS', 'FROM'],
          plan.services.map((service) => [
            service.status === 'new' ? '+' : '=',
            service.name,
            commandLine(service.spec),
            service.sources.map(describeSource).join(', '),
          ]),
        ),
      );
    }
    for (const note of plan.notes) notice(note);
    for (const { source, reason } of plan.skipped) notice(`skipped ${describeSource(source)}: ${reason}`);
    const count = `${added.length} service${added.length === 1 ? '' : 's'}`;
    if (dryRun) console.log(`\ndry run: would add ${count} to ${configFile}; nothing written`);
    else if (added.length > 0) console.log(`\nadded ${count} to ${configFile}\nnext: muxctl reload (if muxd is running), then muxctl rewire`);
    else console.log(`\nnothing new for ${configFile}`);
  },
};
