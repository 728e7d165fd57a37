import type { CommandModule } from 'yargs';
import { notice } from '../context.js';
import type { GlobalArgs } from '../context.js';
import { printJson, table } from '../format.js';
import { muxdMarks } from './http.js';
import { EntryKind, HOSTS, commandLine, describeFile, findHostFiles, findProxyCommand, hostEnvFromProcess, readHostFile } from '@muxd/hosts';
import type { HostEntry } from '@muxd/hosts';

interface HostsArgs extends GlobalArgs {
  project: string | undefined;
}

function entryJson(entry: HostEntry): Record<string, unknown> {
  return {
    name: entry.name,
    kind: entry.kind,
    ...(entry.service === undefined ? {} : { service: entry.service }),
    ...(entry.via === undefined ? {} : { transport: entry.via }),
    ...(entry.adhoc ? { adhoc: { command: entry.adhoc.command, commandLine: commandLine(entry.adhoc) } } : {}),
    ...(entry.spec ? { command: entry.spec.command, commandLine: commandLine(entry.spec) } : {}),
    ...(entry.detail === undefined ? {} : { detail: entry.detail }),
  };
}

function entryText(entry: HostEntry): string {
  if (entry.kind === EntryKind.Muxd) return entry.adhoc ? `ad hoc: ${commandLine(entry.adhoc)}` : `service ${entry.service}${entry.via === 'http' ? ' over HTTP' : ''}`;
  if (entry.spec) return commandLine(entry.spec) + (entry.kind === EntryKind.Disabled ? ' (disabled)' : '');
  return entry.detail ?? '';
}

export const hostsCommand: CommandModule<GlobalArgs, HostsArgs> = {
  command: 'hosts',
  describe: 'List the MCP hosts found, their config files, and which entries go through muxd',
  builder: (yargs) =>
    yargs.option('project', { type: 'string', describe: 'Project whose project-scope files to read (default: the current directory)' }) as never,
  handler: async (argv) => {
    const env = hostEnvFromProcess(argv.project);
    const proxy = findProxyCommand();
    const marks = await muxdMarks(proxy);
    const read = await Promise.all(findHostFiles(env).map((file) => readHostFile(file, marks)));
    // Claude Code's local scope lives in ~/.claude.json: only a project with servers there counts.
    const shown = read.filter((item) => item.file.scope !== 'local' || item.document?.entries !== undefined);
    if (argv.json) {
      printJson({
        project: env.projectDir,
        hosts: shown.map(({ file, document, error }) => ({
          host: file.host.id,
          name: file.host.name,
          scope: file.scope,
          ...(file.variant === undefined ? {} : { variant: file.variant }),
          file: file.path,
          format: file.format,
          reload: file.host.reload,
          ...(error === undefined ? {} : { error }),
          entries: (document?.entries ?? []).map(entryJson),
        })),
      });
      return;
    }
    if (shown.length === 0) {
      console.log(`no MCP host config found (looked for ${HOSTS.map((host) => host.name).join(', ')})`);
      return;
    }
    let total = 0;
    let through = 0;
    const blocks: string[] = [];
    for (const { file, document, error } of shown) {
      const lines = [`${describeFile(file)}  ${file.path}`];
      if (error !== undefined) {
        lines.push(`  cannot read: ${error}`);
      } else if (!document.entries || document.entries.length === 0) {
        lines.push('  (no servers)');
      } else {
        total += document.entries.length;
        through += document.entries.filter((entry) => entry.kind === EntryKind.Muxd).length;
        const rows = document.entries.map((entry) => [entry.name, entry.kind === EntryKind.Muxd ? 'muxd' : entry.kind, entryText(entry)]);
        lines.push(...table(['NAME', 'VIA', 'RUNS'], rows).split('\n').map((line) => `  ${line}`));
      }
      blocks.push(lines.join('\n'));
    }
    console.log(blocks.join('\n\n'));
    console.log(`\n${shown.length} file${shown.length === 1 ? '' : 's'}, ${through} of ${total} entr${total === 1 ? 'y' : 'ies'} through muxd`);
    if (!proxy) notice('mux-proxy not found next to muxctl or on PATH: rewire needs --proxy PATH');
  },
};
