/**
 * muxd's process-level I/O, shared by muxd, muxctl and mux-proxy: starting
 * muxd on demand, connecting to its sockets, pid files, crash records and
 * process sampling. Node built-ins only. mux-proxy imports the subpaths
 * (`@muxd/runtime/socket`, `@muxd/runtime/launcher`...) so its bundle holds
 * only what it uses and the launcher is loaded only when muxd must start.
 */
export { describeThrown, readCrashRecord, writeCrashRecord } from './crash.js';
export {
  STARTUP_LOG_KEEP_BYTES,
  STARTUP_LOG_MAX_BYTES,
  STARTUP_MARK,
  daemonStartupLog,
  ensureDaemon,
  resolveDaemonEntry,
} from './launcher.js';
export type { EnsureDaemonOptions } from './launcher.js';
export { isAlive, readPid } from './pidFile.js';
export { CpuSampler, readProcessTable, sampleProcesses, sampleTrees, treeUsage } from './processStats.js';
export type { MemoryKind, ProcessInfo, SampleOptions, TreeUsage } from './processStats.js';
export { canConnect, connectSocket } from './socket.js';
