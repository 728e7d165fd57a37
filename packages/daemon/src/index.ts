export { Isolation, SERVICE_DEFAULTS, expandVariables, findConfigFile, loadConfigFile, resolveConfig } from './config.js';
export type { MuxConfig, ServiceConfig } from './config.js';
export { Daemon } from './daemon.js';
export type { DaemonOptions } from './daemon.js';
export { ExitReason, ServiceStatus } from './supervisor.js';
export type { ExitInfo } from './supervisor.js';
export { PidLock } from './pidLock.js';
export { parseDuration, parseSize, formatBytes } from './units.js';
