export { createMux } from './createMux.js';
export type { CreateMuxOptions, Duration, ServiceOptions, ServiceTunables, Size } from './createMux.js';
export { checkHealth } from './checkHealth.js';
export type { CheckHealthOptions, HealthResult } from './checkHealth.js';
export type { MuxHost } from './muxHost.js';
export type { MuxService, ServiceState, ServiceStatus } from './muxService.js';
export type { MuxTransport } from './muxTransport.js';
export type { JsonRpcMessage } from './jsonRpcMessage.js';
