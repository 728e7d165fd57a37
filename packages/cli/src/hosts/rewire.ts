/**
 * `muxctl rewire`: points each host entry that muxd's config has a service
 * for at `mux-proxy <service>`, swapping only the transport fields, with a
 * backup and a journal per write; and `--undo`, which puts back exactly the
 * fields it changed.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createTwoFilesPatch } from 'diff';
import { updateFileAtomic } from './atomicFile.js';
import { BackupStore, fromJournalTransport, toJournalTransport } from './backupStore.js';
import type { JournalEntry, StoredJournal } from './backupStore.js';
import { applyEdits, canonical, checkOnlyTransportChanged } from './hostDocument.js';
import type { Edit, HostDocument, Transport, TransportChange } from './hostDocument.js';
import { isGitTracked, parseHostDocument } from './hostFiles.js';
import type { HostDefinition, HostFile, HostScope } from './hostRegistry.js';
import { HOSTS } from './hostRegistry.js';
import { importSpec } from './importPlan.js';
import { EntryKind, argSecrets, hasHostVariable, sameSpec, serviceNameFor, specTexts } from './serverEntry.js';
import type { HostEntry, ServerSpec } from './serverEntry.js';

/** What happened (or would) to one entry. */
export interface EntryOutcome {
  name: string;
  action: 'rewire' | 'already' | 'skip' | 'restore';
  service?: string;
  reason?: string;
}

/** What happened (or would) to one host file. */
export interface FileOutcome {
  host: string;
  hostName: string;
  scope: HostScope;
  variant?: string;
  file: string;
  entries: EntryOutcome[];
  /** True when the file was (or, with --dry-run, would be) written. */
  changed: boolean;
  /** Unified diff of the change, secrets masked (dry runs). */
  diff?: string;
  backup?: string;
  /** Why the whole file was left alone by choice (tracked by git, gone). */
  skipped?: string;
  /** Why the file could not be read or written. */
  error?: string;
  reload: string;
}

export interface RewireOptions {
  files: readonly HostFile[];
  /** muxd's services as written in its config. */
  services: ReadonlyMap<string, ServerSpec>;
  /** Absolute path written as each entry's command. */
  proxyCommand: string;
  projectDir: string;
  store: BackupStore;
  dryRun: boolean;
  /** Rewire files git tracks too (they are skipped otherwise: the path is this machine's). */
  includeTracked: boolean;
}

interface EntryPlan {
  outcome: EntryOutcome;
  change?: TransportChange;
  before?: Transport;
}

/**
 * Picks the service an entry maps to: same command, args, cwd and env. Only
 * when none is identical, one whose env filled in the entry's host variables
 * (or added variables) will do.
 */
export function matchService(entry: HostEntry, spec: ServerSpec, services: ReadonlyMap<string, ServerSpec>): { service: string } | { reason: string } {
  const base = serviceNameFor(entry.name);
  const pick = (candidates: Array<[string, ServerSpec]>): { service: string } | { reason: string } | undefined => {
    if (candidates.length === 0) return undefined;
    const exact = candidates.find(([name]) => name === base);
    if (exact) return { service: exact[0] };
    if (candidates.length === 1) return { service: (candidates[0] as [string, ServerSpec])[0] };
    const prefixed = candidates.filter(([name]) => name.startsWith(`${base}-`));
    if (prefixed.length === 1) return { service: (prefixed[0] as [string, ServerSpec])[0] };
    return { reason: `several services run it (${candidates.map(([name]) => name).join(', ')}); keep one` };
  };
  const all = [...services];
  const identical = pick(all.filter(([, service]) => sameSpec(service, spec)));
  if (identical) return identical;
  const filledIn = pick(
    all.filter(([, service]) => {
      if (service.command !== spec.command || (service.cwd ?? '') !== (spec.cwd ?? '') || service.args.length !== spec.args.length) return false;
      if (service.args.some((arg, index) => arg !== spec.args[index] && !hasHostVariable(spec.args[index] as string))) return false;
      return Object.entries(spec.env).every(([key, value]) => service.env[key] === value || (key in service.env && hasHostVariable(value)));
    }),
  );
  return filledIn ?? { reason: "no service in muxd's config runs it (muxctl import adds one)" };
}

function planEntry(file: HostFile, doc: HostDocument, entry: HostEntry, options: RewireOptions): EntryPlan {
  const outcome = (action: EntryOutcome['action'], extra: Partial<EntryOutcome> = {}): EntryPlan => ({ outcome: { name: entry.name, action, ...extra } });
  if (entry.kind === EntryKind.Muxd) {
    const current = doc.transport(entry.name);
    const wanted = target(file.host, entry.service as string, options.proxyCommand);
    // An older rewire (another proxy path, no type): bring it up to date.
    if (current && (current.command !== wanted.command || ('type' in wanted && current.type !== wanted.type)) && options.services.has(entry.service as string)) {
      return { outcome: { name: entry.name, action: 'rewire', service: entry.service as string }, change: { where: doc.transportPath(entry.name), target: wanted }, before: current };
    }
    return outcome('already', { service: entry.service as string });
  }
  if (entry.kind !== EntryKind.Stdio || !entry.spec) return outcome('skip', { reason: entry.kind === EntryKind.Disabled ? 'disabled in the host' : `${entry.detail ?? entry.kind}: not muxd's` });
  if (entry.hostOnly.includes('envFile')) {
    return outcome('skip', { reason: "reads an envFile, which muxd does not: copy its variables into muxd's config and remove envFile from the entry" });
  }
  const match = matchService(entry, importSpec(file, entry.spec, options.projectDir), options.services);
  if ('reason' in match) return outcome('skip', { reason: match.reason });
  const service = options.services.get(match.service) as ServerSpec;
  const unresolved = specTexts(service).find(hasHostVariable);
  if (unresolved !== undefined) {
    return outcome('skip', { service: match.service, reason: `services.${match.service} still holds ${/\$\{[^}]*\}/.exec(unresolved)?.[0]}, which muxd cannot fill in: set the value in muxd's config first` });
  }
  const before = doc.transport(entry.name);
  return { outcome: { name: entry.name, action: 'rewire', service: match.service }, change: { where: doc.transportPath(entry.name), target: target(file.host, match.service, options.proxyCommand) }, ...(before ? { before } : {}) };
}

/**
 * The transport a rewired entry gets. A proxy script (`.js`) is run by this
 * node, both by absolute path: GUI hosts have no shell PATH to resolve the
 * script's `#!/usr/bin/env node` with.
 */
function target(host: HostDefinition, service: string, proxyCommand: string): Transport {
  const result: Transport = proxyCommand.endsWith('.js') ? { command: process.execPath, args: [proxyCommand, service] } : { command: proxyCommand, args: [service] };
  if (host.stdioType !== undefined) result.type = host.stdioType;
  return result;
}

/** Literal env and header values of every entry, to mask in diffs. */
function secretsOf(doc: HostDocument, file: Pick<HostFile, 'serversPath'>): string[] {
  const secrets: string[] = [];
  const servers = file.serversPath.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc.value);
  const collect = (value: unknown) => {
    if (typeof value === 'string') {
      if (value.length >= 4 && !/^\$\{[^}]*\}$/.test(value)) secrets.push(value);
    } else if (value && typeof value === 'object') {
      for (const item of Object.values(value)) collect(item);
    }
  };
  for (const entry of Object.values((servers as Record<string, unknown> | undefined) ?? {})) {
    if (!entry || typeof entry !== 'object') continue;
    for (const key of ['env', 'headers', 'http_headers', 'environment', 'settings']) collect((entry as Record<string, unknown>)[key]);
    const command = (entry as Record<string, unknown>)['command'];
    if (command && typeof command === 'object') collect((command as Record<string, unknown>)['env']);
    const args = (command && typeof command === 'object' ? (command as Record<string, unknown>)['args'] : (entry as Record<string, unknown>)['args']) as unknown;
    if (Array.isArray(args)) secrets.push(...argSecrets(args.map(String)));
  }
  return secrets.sort((a, b) => b.length - a.length);
}

/** A unified diff with env and header values masked. */
export function maskedDiff(path: string, before: string, after: string, secrets: readonly string[]): string {
  let diff = createTwoFilesPatch(path, path, before.replace(/\r\n/g, '\n'), after.replace(/\r\n/g, '\n'), '', '', { context: 2 });
  diff = diff.split('\n').filter((line) => !/^=+$/.test(line) && !line.startsWith('Index: ')).join('\n');
  for (const secret of secrets) diff = diff.split(secret).join('***');
  return diff;
}

function baseOutcome(file: HostFile): FileOutcome {
  return {
    host: file.host.id,
    hostName: file.host.name,
    scope: file.scope,
    ...(file.variant === undefined ? {} : { variant: file.variant }),
    file: file.path,
    entries: [],
    changed: false,
    reload: file.host.reload,
  };
}

/** Plans the rewire of one file's text: the entries' outcomes, and the new text (undefined: nothing to change). */
export function planFileRewire(file: HostFile, text: string, options: RewireOptions): { entries: EntryPlan[]; after: string | undefined; doc: HostDocument } {
  const doc = parseHostDocument(file, text, options.proxyCommand);
  const entries = (doc.entries ?? []).map((entry) => planEntry(file, doc, entry, options));
  const changes = entries.filter((plan) => plan.change);
  if (changes.length === 0) return { entries, after: undefined, doc };
  const edits: Edit[] = [];
  for (const plan of changes) {
    try {
      edits.push(...doc.swap(plan.outcome.name, (plan.change as TransportChange).target));
    } catch (error) {
      plan.outcome = { name: plan.outcome.name, action: 'skip', reason: (error as Error).message.replace(/^[^:]*: /, '') };
      delete plan.change;
    }
  }
  const applied = entries.flatMap((plan) => (plan.change ? [plan.change] : []));
  if (applied.length === 0) return { entries, after: undefined, doc };
  const after = applyEdits(text, edits);
  checkOnlyTransportChanged(doc.value, parseHostDocument(file, after, options.proxyCommand).value, applied, file.path);
  return { entries, after, doc };
}

/**
 * Rewires every file in `options.files`. With `dryRun` nothing is written and
 * each outcome carries its diff. A file that cannot be read or written gets
 * its `error` and the others go on.
 */
export async function rewireFiles(options: RewireOptions): Promise<FileOutcome[]> {
  const outcomes: FileOutcome[] = [];
  for (const file of options.files) {
    const outcome = baseOutcome(file);
    outcomes.push(outcome);
    try {
      let plan: ReturnType<typeof planFileRewire> | undefined;
      const tracked = isGitTracked(file.path);
      const compute = (text: string) => {
        plan = planFileRewire(file, text, options);
        return plan.after;
      };
      const leaveAlone = tracked && !options.includeTracked;
      if (options.dryRun || leaveAlone) {
        const text = await readFile(file.path, 'utf8');
        const after = compute(text);
        outcome.entries = (plan?.entries ?? []).map((entry) => entry.outcome);
        if (after === undefined || !plan) continue;
        if (leaveAlone) {
          outcome.skipped = "tracked by git: rewiring would commit this machine's mux-proxy path (pass --include-tracked to rewire it anyway)";
        } else {
          outcome.changed = true;
          outcome.diff = maskedDiff(file.path, text, after, secretsOf(plan.doc, file));
        }
        continue;
      }
      const update = await updateFileAtomic(file.path, compute, {
        beforeCommit: async (before, after, realFile) => {
          const current = plan as ReturnType<typeof planFileRewire>;
          const afterDoc = parseHostDocument(file, after, options.proxyCommand);
          const backup = await options.store.backup(realFile, before);
          outcome.backup = backup;
          const entries: JournalEntry[] = [];
          for (const entryPlan of current.entries) {
            if (!entryPlan.change) continue;
            const name = entryPlan.outcome.name;
            const regionBefore = current.doc.region(name);
            const regionAfter = afterDoc.region(name);
            const withType = 'type' in entryPlan.change.target;
            entries.push({
              name,
              service: entryPlan.outcome.service as string,
              where: entryPlan.change.where,
              before: toJournalTransport(entryPlan.before ?? { command: undefined, args: undefined }, withType),
              after: toJournalTransport(entryPlan.change.target, withType),
              regionBefore: regionBefore ? before.slice(regionBefore.offset, regionBefore.offset + regionBefore.length) : '',
              regionAfter: regionAfter ? after.slice(regionAfter.offset, regionAfter.offset + regionAfter.length) : '',
            });
          }
          await options.store.writeJournal({ version: 1, file: realFile, host: file.host.id, scope: file.scope, format: file.format, serversPath: file.serversPath, time: new Date().toISOString(), backup, entries });
        },
      });
      outcome.entries = (plan?.entries ?? []).map((entry) => entry.outcome);
      outcome.changed = update !== undefined;
    } catch (error) {
      outcome.error = (error as Error).message;
    }
  }
  return outcomes;
}

export interface UndoOptions {
  store: BackupStore;
  /** Only journals of these hosts (default: all). */
  hosts?: readonly HostDefinition[];
  dryRun: boolean;
}

/** Undoes one journal's entries on `text`: byte-exact while an entry is as rewire left it. */
function undoJournal(journal: StoredJournal, file: Pick<HostFile, 'path' | 'serversPath' | 'host' | 'format'>, text: string, outcomes: EntryOutcome[]): string {
  let current = text;
  for (const entry of journal.entries) {
    const doc = parseHostDocument(file, current);
    const region = doc.region(entry.name);
    if (!region) {
      outcomes.push({ name: entry.name, action: 'skip', service: entry.service, reason: 'no longer in the file' });
      continue;
    }
    if (current.slice(region.offset, region.offset + region.length) === entry.regionAfter) {
      current = applyEdits(current, [{ offset: region.offset, length: region.length, content: entry.regionBefore }]);
      outcomes.push({ name: entry.name, action: 'restore', service: entry.service });
      continue;
    }
    // The entry changed since (a host rewrote it): put back the fields if they are still ours.
    const now = doc.transport(entry.name);
    const after = fromJournalTransport(entry.after);
    if (now && now.command === after.command && canonical(now.args) === canonical(after.args)) {
      const before = fromJournalTransport(entry.before);
      current = applyEdits(current, doc.swap(entry.name, before));
      checkOnlyTransportChanged(doc.value, parseHostDocument(file, current).value, [{ where: doc.transportPath(entry.name), target: before }], file.path);
      outcomes.push({ name: entry.name, action: 'restore', service: entry.service, reason: 'the entry changed since rewire: its other fields are kept as they are now' });
    } else {
      outcomes.push({ name: entry.name, action: 'skip', service: entry.service, reason: 'no longer points at mux-proxy: left as it is' });
    }
  }
  return current;
}

/**
 * Undoes every rewire not undone yet (of `hosts`, default all), newest first,
 * restoring only the entries each changed, from its journal.
 */
export async function undoRewire(options: UndoOptions): Promise<FileOutcome[]> {
  const hostIds = new Set((options.hosts ?? HOSTS).map((host) => host.id));
  const journals = (await options.store.journals()).filter((journal) => !journal.undoneAt && hostIds.has(journal.host));
  const byFile = new Map<string, StoredJournal[]>();
  for (const journal of journals) byFile.set(journal.file, [...(byFile.get(journal.file) ?? []), journal]);
  const outcomes: FileOutcome[] = [];
  for (const [path, fileJournals] of byFile) {
    const first = fileJournals[0] as StoredJournal;
    const host = HOSTS.find((item) => item.id === first.host) as HostDefinition;
    const outcome: FileOutcome = { host: host.id, hostName: host.name, scope: first.scope, file: path, entries: [], changed: false, reload: host.reload };
    outcomes.push(outcome);
    if (!existsSync(path)) {
      outcome.skipped = 'the file is gone';
      continue;
    }
    const fileOf = (journal: StoredJournal) => ({ path, serversPath: journal.serversPath, host, format: journal.format });
    const compute = (text: string) => {
      outcome.entries = [];
      let current = text;
      for (const journal of fileJournals) current = undoJournal(journal, fileOf(journal), current, outcome.entries);
      return current === text ? undefined : current;
    };
    try {
      if (options.dryRun) {
        const text = await readFile(path, 'utf8');
        const after = compute(text);
        if (after !== undefined) {
          outcome.changed = true;
          const secrets = fileJournals.flatMap((journal) => secretsOf(parseHostDocument(fileOf(journal), text), journal));
          outcome.diff = maskedDiff(path, text, after, secrets);
        }
        continue;
      }
      const update = await updateFileAtomic(path, compute, {
        beforeCommit: async (before, _after, realFile) => {
          outcome.backup = await options.store.backup(realFile, before);
        },
      });
      outcome.changed = update !== undefined;
      for (const journal of fileJournals) await options.store.markUndone(journal);
    } catch (error) {
      outcome.error = (error as Error).message;
    }
  }
  return outcomes;
}
