/** `muxctl setup --yes`: the choices the wizard would ask for, from flags. */
import type { MuxdTransport } from '@muxd/hosts';
import { CliError, ExitCodes } from '../cliError.js';
import { selectHosts } from '../hostSelection.js';
import type { SetupChoices } from './applySetup.js';
import { previewHosts } from './setupPlan.js';
import type { SetupContext } from './setupPlan.js';

export interface SetupFlags {
  /** Comma-separated names, or `all` (default). */
  servers: string | undefined;
  /** Comma-separated host ids, or `all` (default). */
  hosts: string | undefined;
  transport: MuxdTransport | undefined;
  serviceInstall: boolean;
}

/** `a,b` or `all` (or nothing, meaning all) as a list; undefined for all. */
function listOf(value: string | undefined): string[] | undefined {
  const items = (value ?? 'all').split(',').map((item) => item.trim()).filter(Boolean);
  return items.length === 0 || items.includes('all') ? undefined : items;
}

/**
 * The choices `flags` make: the servers named (all by default), every file of
 * the hosts named (all by default) that rewire would change. Throws a usage
 * `CliError` for an unknown server or host, and for `--transport http` when
 * muxd's config has no HTTP front (before anything is written).
 */
export async function choicesFromFlags(context: SetupContext, flags: SetupFlags): Promise<SetupChoices> {
  const known = context.servers.map((server) => server.name);
  const servers = listOf(flags.servers) ?? known;
  const unknown = servers.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new CliError(`no server ${unknown.map((name) => `'${name}'`).join(', ')} in the hosts' configs (found: ${known.join(', ') || 'none'})`, ExitCodes.Usage);
  }
  const hostIds = new Set(selectHosts(listOf(flags.hosts)).map((host) => host.id));
  if (flags.transport === 'http' && context.found.config.httpListen === undefined) {
    throw new CliError(`--transport http needs muxd's HTTP front: add http: { listen: 127.0.0.1:7777 } to ${context.found.configFile}, or use --transport stdio`, ExitCodes.Usage);
  }
  const files = (await previewHosts(context, servers)).filter((file) => hostIds.has(file.file.host.id) && file.changes > 0);
  return { servers, files, ...(flags.transport === undefined ? {} : { transport: flags.transport }), serviceInstall: flags.serviceInstall };
}
