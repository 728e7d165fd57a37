/**
 * The MCP hosts on this machine and their config files, for `muxctl hosts`,
 * `import` and `rewire`: where each host keeps its servers, what each entry
 * is, the format editors (JSON/JSONC, TOML, YAML) that change an entry in
 * place, the import plan, and rewire with its backups and undo journal.
 */
export { updateFileAtomic } from './atomicFile.js';
export { BackupStore } from './backupStore.js';
export { hostEnvFromProcess } from './hostEnv.js';
export type { HostEnv } from './hostEnv.js';
export { readHostFile } from './hostFiles.js';
export { HOSTS, HostIds, describeFile, findHostFiles, hostById } from './hostRegistry.js';
export type { HostDefinition, HostFile } from './hostRegistry.js';
export { describeSource, planImport } from './importPlan.js';
export type { HostFileEntries, ImportPlan, ImportSource, PlannedService } from './importPlan.js';
export { addServices, parseMuxConfig, readMuxConfig } from './muxConfigFile.js';
export type { MuxConfigText } from './muxConfigFile.js';
export { findProxyCommand, proxyEnvironment } from './proxyCommand.js';
export { rewireFiles } from './rewire.js';
export type { EntryOutcome, FileOutcome, HttpFront } from './rewirePlan.js';
export { undoRewire } from './rewireUndo.js';
export { EntryKind, MuxdTransports, commandLine, redactArgs, redactEnv } from './serverEntry.js';
export type { HostEntry, MuxdMarks, MuxdTransport, ServerSpec } from './serverEntry.js';
