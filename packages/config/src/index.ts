export {
  Isolation,
  SERVICE_DEFAULTS,
  expandVariables,
  findConfigFile,
  loadConfigFile,
  resolveConfig,
  userConfigDir,
} from './config.js';
export type { MuxConfig, ServiceConfig } from './config.js';
export { formatBytes, parseDuration, parseSize } from './units.js';
