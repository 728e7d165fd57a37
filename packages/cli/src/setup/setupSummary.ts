/** The summary `muxctl setup` prints at the end, the same with prompts and with --yes. */
import { describeFile } from '@muxd/hosts';
import { formatMemory } from '../format.js';
import type { SetupResult } from './applySetup.js';
import type { RunningProcess } from './runningServers.js';

/** "running now: 2 processes, 81.0M" (empty when none). */
export function runningText(running: readonly RunningProcess[]): string {
  if (running.length === 0) return '';
  const memory = running.reduce((sum, item) => sum + item.rssBytes, 0);
  return `running now: ${running.length} process${running.length === 1 ? '' : 'es'}, ${formatMemory(memory)}`;
}

/** The summary's lines: what changed (or would), what to restart, and how to undo it. */
export function setupSummary(result: SetupResult): string[] {
  const lines: string[] = [];
  lines.push(result.dryRun ? 'dry run: nothing was written or started' : 'muxctl setup is done');
  lines.push('', 'servers:');
  for (const server of result.servers) {
    const running = runningText(server.running);
    lines.push(`  ${server.name}: ${server.status === 'new' ? (result.dryRun ? 'would be added to' : 'added to') : 'already in'} muxd's config, from ${server.hosts.join(', ')}${running ? `; ${running} outside muxd` : ''}`);
  }
  if (result.servers.length === 0) lines.push('  (none chosen)');
  const names = result.added.join(', ');
  const config = result.added.length === 0 ? `unchanged: ${result.configFile}` : result.dryRun ? `would add ${names} to ${result.configFile}` : `added ${names} to ${result.configFile}${result.configCreated ? ' (a new file)' : ''}`;
  lines.push(`config: ${config}`);
  const daemon = { started: 'started', reloaded: 'was running; re-read its config', running: 'was running already', skipped: 'not started (dry run)' } as const;
  lines.push(`muxd: ${daemon[result.daemon]}`);
  for (const check of result.health) lines.push(`  ${check.name}: ${check.ok ? `healthy, ping ${check.latencyMs} ms` : `unhealthy: ${check.error}`}`);
  lines.push('hosts:');
  const touched = result.hosts.filter((outcome) => outcome.entries.length > 0 || outcome.error || outcome.skipped);
  for (const outcome of touched) {
    lines.push(`  ${describeFile({ host: { name: outcome.hostName }, scope: outcome.scope, variant: outcome.variant })}  ${outcome.file}`);
    for (const entry of outcome.entries) {
      const how = entry.transport === 'http' ? "muxd's HTTP front" : 'mux-proxy';
      if (entry.action === 'rewire') lines.push(`    ${entry.name}: ${result.dryRun ? 'would run' : 'now runs'} through ${how}${entry.service === undefined ? (entry.adhoc ? ` (ad hoc: ${entry.adhoc})` : '') : ` (service ${entry.service})`}`);
      else if (entry.action === 'already') lines.push(`    ${entry.name}: through muxd already`);
      else lines.push(`    ${entry.name}: left as it is${entry.reason ? `: ${entry.reason}` : ''}`);
    }
    if (outcome.error) lines.push(`    not changed: ${outcome.error}`);
    if (outcome.skipped) lines.push(`    left alone: ${outcome.skipped}`);
    if (outcome.backup) lines.push(`    backup: ${outcome.backup}`);
    if (outcome.changed && !result.dryRun) lines.push(`    to use it: ${outcome.reload}`);
  }
  if (touched.length === 0) lines.push('  (none chosen)');
  lines.push(`service: ${result.service ? `${result.dryRun ? 'would install' : 'installed'} a ${result.service.manager} user service (${result.service.file})` : 'not installed (muxctl service install starts muxd at login; mux-proxy starts it on demand meanwhile)'}`);
  if (result.undo.length > 0) {
    lines.push('', result.dryRun ? 'to undo it, once applied:' : 'to undo:');
    for (const step of result.undo) lines.push(`  ${step}`);
  }
  for (const problem of result.problems) lines.push(`problem: ${problem}`);
  return lines;
}
