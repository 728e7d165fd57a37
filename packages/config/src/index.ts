export {
  HTTP_DEFAULTS,
  Isolation,
  LOG_DEFAULTS,
  SERVICE_DEFAULTS,
  adhocServiceConfig,
  requireServices,
  resolveConfig,
} from './config.js';
export { findConfigFile, loadConfigFile, userConfigDir } from './configFile.js';
export { isLoopbackHost, parseListen } from './listen.js';
export { MAX_EXPANDED_LENGTH, MAX_VARIABLE_NESTING, expandVariables } from './variables.js';
export type { AdhocSpec, HttpConfig, LogRotation, MuxConfig, ServiceConfig } from './config.js';
export { formatBytes, parseDuration, parseSize } from './units.js';
export { REDACTED, argSecrets, redactArgs, redactConfig } from './redact.js';
export { Runners, parsePackageRunner } from './packageRunner.js';
export type { Runner, RunnerCommand, RunnerParse } from './packageRunner.js';
