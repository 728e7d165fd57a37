export { Daemon } from './daemon.js';
export type { DaemonOptions } from './daemon.js';
export { ExitReason, ServiceStatus } from './supervisor.js';
export type { ExitInfo } from './supervisor.js';
export { PidLock } from './pidLock.js';
export { Store } from './store.js';
