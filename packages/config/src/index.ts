export {
  HTTP_DEFAULTS,
  Isolation,
  LOG_DEFAULTS,
  SERVICE_DEFAULTS,
  adhocServiceConfig,
  expandVariables,
  findConfigFile,
  isLoopbackHost,
  loadConfigFile,
  parseListen,
  requireServices,
  resolveConfig,
  userConfigDir,
} from './config.js';
export type { AdhocSpec, HttpConfig, LogRotation, MuxConfig, ServiceConfig } from './config.js';
export { formatBytes, parseDuration, parseSize } from './units.js';
export { REDACTED, argSecrets, redactArgs, redactConfig } from './redact.js';
