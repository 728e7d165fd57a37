/**
 * `muxctl rewire --undo`: puts back exactly the fields rewire changed, from
 * the journals rewire.ts writes with each backup, byte for byte while an
 * entry is as rewire left it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { updateFileAtomic } from './atomicFile.js';
import { BackupStore, fromJournalTransport } from './backupStore.js';
import type { JournalEntry, StoredJournal } from './backupStore.js';
import { applyEdits, canonical, checkOnlyTransportChanged } from './hostDocument.js';
import type { FieldValue, HostDocument } from './hostDocument.js';
import { parseHostDocument } from './hostFiles.js';
import type { HostDefinition, HostFile } from './hostRegistry.js';
import { HOSTS } from './hostRegistry.js';
import { maskedDiff, secretsOf } from './rewirePlan.js';
import type { EntryOutcome, FileOutcome } from './rewirePlan.js';

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
    if (entry.fields) {
      current = undoFields(entry, entry.fields, doc, file, journal, current, outcomes);
      continue;
    }
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

/** Undoes a change of whole fields on an entry changed since: puts back the fields it touched while those it wrote are still there (headers aside). */
function undoFields(
  entry: JournalEntry,
  fields: NonNullable<JournalEntry['fields']>,
  doc: HostDocument,
  file: Pick<HostFile, 'path' | 'serversPath' | 'host' | 'format'>,
  journal: StoredJournal,
  text: string,
  outcomes: EntryOutcome[],
): string {
  const now = doc.fields(entry.name) ?? {};
  // Identity: the URL, or the proxy command line; headers may have been edited (a new token) and the entry is still ours.
  const ours = Object.entries(fields.after).every(([key, value]) => value === null || (typeof value === 'object' && !Array.isArray(value)) || canonical(now[key]) === canonical(value));
  if (!ours) {
    outcomes.push({ name: entry.name, action: 'skip', service: entry.service, reason: `no longer points at muxd${entry.transport === 'http' ? "'s HTTP front" : "'s mux-proxy"}: left as it is` });
    return text;
  }
  const set = Object.entries(fields.before).filter(([, value]) => value !== null) as Array<[string, FieldValue]>;
  const remove = Object.entries(fields.before).filter(([, value]) => value === null).map(([key]) => key);
  const result = applyEdits(text, doc.replaceFields(entry.name, set, remove));
  checkOnlyTransportChanged(doc.value, parseHostDocument(file, result).value, [{ path: [...journal.serversPath, entry.name], set: Object.fromEntries(set), remove }], file.path);
  outcomes.push({ name: entry.name, action: 'restore', service: entry.service, reason: 'the entry changed since rewire: its other fields are kept as they are now' });
  return result;
}

/**
 * One outcome for an entry that several rewires changed (undone newest
 * first): restored when a step restored it, with why when an older step
 * could not go on; else the newest step's skip.
 */
function mergeSteps(steps: readonly EntryOutcome[]): EntryOutcome {
  const restored = steps.filter((step) => step.action === 'restore');
  const last = steps.at(-1) as EntryOutcome;
  if (restored.length === 0) return steps[0] as EntryOutcome;
  if (last.action === 'restore') {
    const reason = steps.find((step) => step.reason !== undefined)?.reason;
    return { ...last, ...(reason === undefined ? {} : { reason }) };
  }
  return { ...(restored.at(-1) as EntryOutcome), reason: `back as an earlier rewire left it, not further: ${last.reason ?? 'changed since'}` };
}

/**
 * Undoes every rewire not undone yet (of `hosts`, default all), newest first,
 * restoring only the entries each changed, from its journal. An entry that
 * several rewires changed goes back to how it was before the first, and is
 * reported once; a file with several servers maps (Claude Code's
 * `~/.claude.json`) gets an outcome per map.
 */
export async function undoRewire(options: UndoOptions): Promise<FileOutcome[]> {
  const hostIds = new Set((options.hosts ?? HOSTS).map((host) => host.id));
  const journals = (await options.store.journals()).filter((journal) => !journal.undoneAt && hostIds.has(journal.host));
  const byFile = new Map<string, StoredJournal[]>();
  for (const journal of journals) byFile.set(journal.file, [...(byFile.get(journal.file) ?? []), journal]);
  const outcomes: FileOutcome[] = [];
  const mapKey = (journal: Pick<StoredJournal, 'serversPath'>) => journal.serversPath.join('\0');
  for (const [path, fileJournals] of byFile) {
    const first = fileJournals[0] as StoredJournal;
    const host = HOSTS.find((item) => item.id === first.host) as HostDefinition;
    const maps = new Map<string, FileOutcome>();
    for (const journal of fileJournals) {
      if (maps.has(mapKey(journal))) continue;
      // Claude Code's local scope: the project it belongs to.
      const variant = journal.scope === 'local' ? journal.serversPath[1] : undefined;
      maps.set(mapKey(journal), { host: host.id, hostName: host.name, scope: journal.scope, ...(variant === undefined ? {} : { variant }), file: path, entries: [], changed: false, reload: host.reload });
    }
    const fileOutcomes = [...maps.values()];
    const head = fileOutcomes[0] as FileOutcome;
    outcomes.push(...fileOutcomes);
    if (!existsSync(path)) {
      for (const outcome of fileOutcomes) outcome.skipped = 'the file is gone';
      continue;
    }
    const fileOf = (journal: StoredJournal) => ({ path, serversPath: journal.serversPath, host, format: journal.format });
    const compute = (text: string) => {
      // Each entry's steps, newest first, keyed by servers map and name.
      const steps = new Map<string, { map: string; steps: EntryOutcome[] }>();
      let current = text;
      for (const journal of fileJournals) {
        const done: EntryOutcome[] = [];
        current = undoJournal(journal, fileOf(journal), current, done);
        for (const step of done) {
          const key = `${mapKey(journal)}\0${step.name}`;
          const entry = steps.get(key) ?? { map: mapKey(journal), steps: [] };
          entry.steps.push(step);
          steps.set(key, entry);
        }
      }
      for (const outcome of fileOutcomes) outcome.entries = [];
      for (const { map, steps: entrySteps } of steps.values()) maps.get(map)?.entries.push(mergeSteps(entrySteps));
      return current === text ? undefined : current;
    };
    const restoredIn = (outcome: FileOutcome) => outcome.entries.some((entry) => entry.action === 'restore');
    try {
      if (options.dryRun) {
        const text = await readFile(path, 'utf8');
        const after = compute(text);
        if (after !== undefined) {
          for (const outcome of fileOutcomes) outcome.changed = restoredIn(outcome);
          const secrets = fileJournals.flatMap((journal) => secretsOf(parseHostDocument(fileOf(journal), text), journal));
          head.diff = maskedDiff(path, text, after, secrets);
        }
        continue;
      }
      const update = await updateFileAtomic(path, compute, {
        beforeCommit: async (before, _after, realFile) => {
          head.backup = await options.store.backup(realFile, before);
        },
      });
      for (const outcome of fileOutcomes) outcome.changed = update !== undefined && restoredIn(outcome);
      for (const journal of fileJournals) await options.store.markUndone(journal);
    } catch (error) {
      for (const outcome of fileOutcomes) outcome.error = (error as Error).message;
    }
  }
  return outcomes;
}
