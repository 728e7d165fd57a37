/**
 * What `muxctl setup` finds before it asks anything: the servers of every
 * host file (import's plan: duplicates merged, each with the hosts it is in),
 * which of them run right now outside muxd, and, for a choice of servers,
 * what rewire would change in each host file. Reads only: nothing here
 * writes a file or starts muxd.
 */
import { HOSTS, describeFile } from '@muxd/hosts';
import type { FileOutcome, HostFile, ImportSource, MuxdTransport, ServerSpec } from '@muxd/hosts';
import type { HostImport } from '../commands/import.js';
import { planHostImport } from '../commands/import.js';
import { rewireHosts, rewireProxyCommand } from '../commands/rewire.js';
import { runningOutsideMuxd } from './runningServers.js';
import type { RunningProcess } from './runningServers.js';

/** One server setup offers: a service of import's plan. */
export interface SetupServer {
  name: string;
  /** `new`: import adds it; `present`: muxd's config has it already. */
  status: 'new' | 'present';
  spec: ServerSpec;
  sources: ImportSource[];
  /** The host files it is in ("Claude Code (user)"), each once. */
  hosts: string[];
  /** Its processes running now outside muxd. */
  running: RunningProcess[];
}

/** One host file setup may rewire, with what rewire would do to it for the servers chosen. */
export interface SetupHostFile {
  file: HostFile;
  /** "Claude Code (user)". */
  label: string;
  /** Whether the host speaks Streamable HTTP with headers (the registry says): it can reach muxd without a proxy. */
  http: boolean;
  /** Entries rewire would point at muxd. */
  changes: number;
  /** Why rewire would leave the file alone (tracked by git, unreadable). */
  blocked?: string;
}

export interface SetupContext {
  found: HostImport;
  servers: SetupServer[];
  /** The mux-proxy path written into rewired entries. */
  proxy: string;
}

/** Reads the host files and muxd's config, plans the import, and looks for the servers' processes. Throws `CliError` (no mux-proxy, unreadable config). */
export async function gatherSetup(project: string | undefined): Promise<SetupContext> {
  const proxy = rewireProxyCommand(undefined);
  const found = await planHostImport(HOSTS, project);
  const running = await runningOutsideMuxd(new Map(found.plan.services.map((service) => [service.name, service.spec])));
  const servers = found.plan.services.map((service) => ({
    name: service.name,
    status: service.status,
    spec: service.spec,
    sources: service.sources,
    hosts: [...new Set(service.sources.map((source) => describeFile({ host: { name: source.hostName }, scope: source.scope, variant: source.variant })))],
    running: running.get(service.name) ?? [],
  }));
  return { found, servers, proxy };
}

/** The services entries may be pointed at when `chosen` are picked: their specs as the config has (or will have) them, none disabled there. */
export function chosenServices(context: SetupContext, chosen: readonly string[]): Map<string, ServerSpec> {
  const disabled = context.found.config.disabled;
  return new Map(context.servers.filter((server) => chosen.includes(server.name) && !disabled.has(server.name)).map((server) => [server.name, server.spec]));
}

/** Every host file with a servers map, with what a rewire (dry run, rewire's own code path) would change for the servers `chosen`. */
export async function previewHosts(context: SetupContext, chosen: readonly string[]): Promise<SetupHostFile[]> {
  const files = context.found.entries.map((item) => item.file);
  const outcomes = await rewireHosts({
    files,
    projectDir: context.found.env.projectDir,
    services: chosenServices(context, chosen),
    httpOff: context.found.config.httpOff,
    proxy: context.proxy,
    dryRun: true,
    includeTracked: false,
  });
  return files.map((file, index) => {
    const outcome = outcomes[index] as FileOutcome;
    const blocked = outcome.error ?? outcome.skipped;
    return {
      file,
      label: describeFile(file),
      http: file.host.http !== undefined,
      changes: outcome.entries.filter((entry) => entry.action === 'rewire').length,
      ...(blocked === undefined ? {} : { blocked }),
    };
  });
}

/** How a file's entries would reach muxd with `transport` chosen: hosts without HTTP stay on mux-proxy. */
export function transportOf(file: SetupHostFile, transport: MuxdTransport): MuxdTransport {
  return transport === 'http' && file.http ? 'http' : 'stdio';
}
