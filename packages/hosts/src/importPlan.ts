/**
 * What `muxctl import` does with the hosts' entries: each stdio server
 * becomes a muxd service; identical entries are one service; a name taken by
 * a different server gets the host's name as a suffix, said out loud; what
 * muxd does not run is skipped with the reason, and so is an entry holding
 * a value only its host fills in (rewire shares it ad hoc).
 */
import { resolveConfig } from '@muxd/config';
import type { HostFile } from './hostRegistry.js';
import { describeFile, labelOf } from './hostRegistry.js';
import { EntryKind, dependsOnCwd, hostVariableIn, sameSpec, serviceNameFor, specTexts } from './serverEntry.js';
import type { HostEntry, ServerSpec } from './serverEntry.js';

/** Where an entry came from. */
export interface ImportSource {
  host: string;
  hostName: string;
  scope: string;
  variant?: string;
  file: string;
  /** The entry's name in the host file. */
  entry: string;
}

export interface PlannedService {
  name: string;
  spec: ServerSpec;
  /** `new`: to be added; `present`: muxd's config has it already. */
  status: 'new' | 'present';
  sources: ImportSource[];
}

export interface SkippedEntry {
  source: ImportSource;
  reason: string;
}

export interface ImportPlan {
  services: PlannedService[];
  skipped: SkippedEntry[];
  /** Name conflicts resolved and settings muxd cannot reproduce: each a line for the user. */
  notes: string[];
}

/** A host file's entries, read. */
export interface HostFileEntries {
  file: HostFile;
  entries: readonly HostEntry[];
}

function sourceOf(file: HostFile, entry: string): ImportSource {
  return { ...labelOf(file), entry };
}

/** "'memory' in Cursor (user)" */
export function describeSource(source: ImportSource): string {
  return `'${source.entry}' in ${describeFile({ host: { name: source.hostName }, scope: source.scope, variant: source.variant })}`;
}

/**
 * The spec muxd runs for a host entry. A `cwd` is part of a server's
 * identity only where it can matter: the entry's own `cwd`, else, for a
 * project file's (or Claude Code local scope's) servers, which hosts start
 * in the project, the project when the server depends on where it runs
 * (`dependsOnCwd`: a relative path in its command, arguments or env).
 * Otherwise no `cwd`: the same command in two projects is one server.
 */
export function importSpec(file: HostFile, spec: ServerSpec, projectDir: string, env: NodeJS.ProcessEnv = process.env): ServerSpec {
  if (file.scope === 'user' || spec.cwd !== undefined) return spec;
  const cwd = file.projectDir ?? projectDir;
  return dependsOnCwd(spec, cwd, env) ? { ...spec, cwd } : spec;
}

/**
 * The specs a service in muxd's config may hold for a host entry: the one
 * `importSpec` gives, then the one muxctl import wrote before the rule
 * above (every project-scope server with the project as `cwd`), so that
 * services imported then are still found.
 */
export function importSpecs(file: HostFile, spec: ServerSpec, projectDir: string, env: NodeJS.ProcessEnv = process.env): ServerSpec[] {
  const now = importSpec(file, spec, projectDir, env);
  if (file.scope === 'user' || now.cwd !== undefined) return [now];
  return [now, { ...spec, cwd: file.projectDir ?? projectDir }];
}

/**
 * Plans an import of `hosts` into a config that has `existing` services.
 * `env` is the environment muxd's `${VAR}` expansion is checked against
 * (an entry muxd would refuse to load is skipped, not written).
 */
export function planImport(hosts: readonly HostFileEntries[], existing: ReadonlyMap<string, ServerSpec>, projectDir: string, env: NodeJS.ProcessEnv, configFile = 'config.yaml'): ImportPlan {
  const services: PlannedService[] = [...existing].map(([name, spec]) => ({ name, spec, status: 'present', sources: [] }));
  const byName = new Map(services.map((service) => [service.name, service]));
  const skipped: SkippedEntry[] = [];
  const notes: string[] = [];
  for (const { file, entries } of hosts) {
    for (const entry of entries) {
      const source = sourceOf(file, entry.name);
      if (entry.kind === EntryKind.Muxd) {
        skipped.push({ source, reason: `goes through muxd already (${entry.service === undefined ? 'shared ad hoc' : `service ${entry.service}`})` });
        continue;
      }
      if (entry.kind !== EntryKind.Stdio || !entry.spec) {
        skipped.push({ source, reason: reasonFor(entry) });
        continue;
      }
      // A value the host fills in (a secret it prompts for, its own environment's) is the host's: rewire shares the entry as it is.
      const variable = specTexts(entry.spec).map((text) => hostVariableIn(text, file.host)).find((found) => found !== undefined);
      if (variable !== undefined) {
        skipped.push({ source, reason: `${variable} is filled in by ${file.host.name}: muxctl rewire shares the entry as it is (mux-proxy --env), the value staying in ${file.host.name}` });
        continue;
      }
      const [spec, ...earlier] = importSpecs(file, entry.spec, projectDir, env) as [ServerSpec, ...ServerSpec[]];
      const problem = loadProblem(spec, env, configFile);
      if (problem) {
        skipped.push({ source, reason: `muxd could not start it as written: ${problem}` });
        continue;
      }
      const runs = (service: PlannedService) => sameSpec(service.spec, spec) || (service.status === 'present' && earlier.some((form) => sameSpec(service.spec, form)));
      const base = serviceNameFor(entry.name);
      const same = byName.get(base);
      let target: PlannedService | undefined;
      if (same && runs(same)) {
        target = same;
      } else {
        target = services.find(runs);
        if (target) {
          notes.push(`${describeSource(source)} is the same server as service '${target.name}': they share it`);
        } else {
          let name = base;
          if (byName.has(name)) {
            name = uniqueName(byName, base, file);
            const holder = byName.get(base) as PlannedService;
            const where = holder.sources[0] ? describeSource(holder.sources[0]) : `muxd's config`;
            notes.push(`conflict: ${describeSource(source)} differs from service '${base}' (${where}); imported as '${name}'`);
          } else if (name !== entry.name) {
            notes.push(`${describeSource(source)} is imported as '${name}' (service names use letters, digits, '.', '_' and '-', and none every JavaScript object has)`);
          }
          target = { name, spec, status: 'new', sources: [] };
          services.push(target);
          byName.set(name, target);
        }
      }
      target.sources.push(source);
      if (target.status === 'new' && target.sources.length === 1) notes.push(...hostOnlyNotes(target.name, entry, file));
    }
  }
  return { services: services.filter((service) => service.sources.length > 0), skipped, notes };
}

/** `memory-cursor`, `memory-claude-code-project`, then `-2`, `-3`... */
function uniqueName(taken: ReadonlyMap<string, unknown>, base: string, file: HostFile): string {
  const stem = base.slice(0, 40);
  const candidates = [`${stem}-${file.host.id}`, `${stem}-${file.host.id}-${file.scope}`];
  for (const candidate of candidates) if (!taken.has(candidate)) return candidate;
  for (let index = 2; ; index++) {
    const candidate = `${candidates[1]}-${index}`;
    if (!taken.has(candidate)) return candidate;
  }
}

function reasonFor(entry: HostEntry): string {
  switch (entry.kind) {
    case EntryKind.Remote:
      return `${entry.detail ?? 'a remote server'}: muxd runs stdio servers`;
    case EntryKind.Extension:
      return `${entry.detail ?? 'an extension server'}: not muxd's to run`;
    case EntryKind.Disabled:
      return 'disabled in the host';
    default:
      return `not a server entry muxd understands (${entry.detail ?? 'invalid'})`;
  }
}

/** What muxd's loader says about a service with this spec, or undefined when it loads. */
function loadProblem(spec: ServerSpec, env: NodeJS.ProcessEnv, configFile: string): string | undefined {
  try {
    resolveConfig({ services: { probe: { command: spec.command, args: spec.args, env: spec.env, ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }) } } }, configFile, env);
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/^[^:]*: services\.probe\./, '').split('\n')[0];
  }
}

/** Warnings for settings only the host can honour: the service needs the user's hand before rewire. */
function hostOnlyNotes(service: string, entry: HostEntry, file: HostFile): string[] {
  const notes: string[] = [];
  if (entry.hostOnly.includes('envFile')) {
    notes.push(`'${entry.name}' in ${describeFile(file)} reads an envFile, which muxd does not: copy its variables into services.${service}.env`);
  }
  return notes;
}
