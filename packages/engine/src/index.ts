export { Mux, UpstreamState } from './mux.js';
export type { ClientHandle, MuxOptions, MuxStats, UpstreamEnd, UpstreamHandle } from './mux.js';
export type { RequestEnd } from './muxOptions.js';
export { systemClock } from './clock.js';
export type { Clock, Timer } from './clock.js';
export { silentLogger } from './peer.js';
export type { MuxLogger, Peer } from './peer.js';
export { LOG_LEVELS, isLogLevel } from './logLevels.js';
export type { LogLevel } from './logLevels.js';
