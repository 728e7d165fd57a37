/**
 * `muxctl rewire`: points each host entry that muxd's config has a service
 * for at `mux-proxy <service>` (stdio), or at the service's URL on muxd's
 * HTTP front with the bearer token (`--transport http`, on hosts that speak
 * Streamable HTTP with headers), swapping only the transport fields, with a
 * backup and a journal per write. What changes is planned in rewirePlan.ts;
 * `--undo`, which puts back exactly the fields changed, is rewireUndo.ts.
 */
import { readFile } from 'node:fs/promises';
import { updateFileAtomic } from './atomicFile.js';
import { toJournalTransport } from './backupStore.js';
import type { JournalEntry } from './backupStore.js';
import type { Transport } from './hostDocument.js';
import { isGitTracked, parseHostDocument } from './hostFiles.js';
import { baseOutcome, maskedDiff, planFileRewire, secretsOf } from './rewirePlan.js';
import type { EntryPlan, FileOutcome, FileRewirePlan, RewireOptions, Target } from './rewirePlan.js';

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
      let plan: FileRewirePlan | undefined;
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
          const what = plan.entries.some((entry) => entry.target?.transport === 'http') ? "muxd's HTTP token" : "this machine's mux-proxy path";
          outcome.skipped = `tracked by git: rewiring would commit ${what} (pass --include-tracked to rewire it anyway)`;
        } else {
          outcome.changed = true;
          outcome.diff = maskedDiff(file.path, text, after, [...secretsOf(plan.doc, file), ...(options.http ? [options.http.token] : [])]);
        }
        continue;
      }
      const update = await updateFileAtomic(file.path, compute, {
        beforeCommit: async (before, after, realFile) => {
          const current = plan as FileRewirePlan;
          const afterDoc = parseHostDocument(file, after);
          const backup = await options.store.backup(realFile, before);
          outcome.backup = backup;
          const entries: JournalEntry[] = [];
          for (const change of current.changes) {
            const { name } = change;
            const entryPlan = current.entries.find((item) => item.outcome.name === name) as EntryPlan;
            const target = entryPlan.target as Target;
            const regionBefore = current.doc.region(name);
            const regionAfter = afterDoc.region(name);
            const stdioAfter: Transport = target.transport === 'stdio' ? target.stdio : { command: undefined, args: undefined };
            const withType = 'type' in stdioAfter;
            entries.push({
              name,
              service: entryPlan.outcome.service as string,
              where: current.doc.transportPath(name),
              before: toJournalTransport(current.doc.transport(name) ?? { command: undefined, args: undefined }, withType),
              after: toJournalTransport(stdioAfter, withType),
              regionBefore: regionBefore ? before.slice(regionBefore.offset, regionBefore.offset + regionBefore.length) : '',
              regionAfter: regionAfter ? after.slice(regionAfter.offset, regionAfter.offset + regionAfter.length) : '',
              transport: target.transport,
              ...(change.fields ? { fields: change.fields } : {}),
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
