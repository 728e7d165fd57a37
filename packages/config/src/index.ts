export {
  Isolation,
  LOG_DEFAULTS,
  SERVICE_DEFAULTS,
  expandVariables,
  findConfigFile,
  loadConfigFile,
  resolveConfig,
  userConfigDir,
} from './config.js';
export type { LogRotation, MuxConfig, ServiceConfig } from './config.js';
export { formatBytes, parseDuration, parseSize } from './units.js';
