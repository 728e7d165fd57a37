#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { MuxErrorCodes, isMuxError, resolvePaths } from '@muxd/protocol';
import { findConfigFile, loadConfigFile, userConfigDir } from './config.js';
import { Daemon } from './daemon.js';
import { createDaemonLogger } from './logs.js';
import { VERSION } from './version.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('muxd')
  .usage('$0 [--config FILE]\n\nRuns every MCP server in the config once, each shared through its own Unix socket.\nClients connect with: mux-proxy <service>')
  .option('config', { alias: 'c', type: 'string', describe: 'Config file (YAML, JSON, TOML or JS)' })
  .version(VERSION)
  .strict()
  .help()
  .parseAsync();

// Sockets, logs and the database are this user's alone.
process.umask(0o077);

async function main(): Promise<number> {
  const configFile = argv.config ?? (await findConfigFile());
  if (!configFile) {
    console.error(`muxd: no config file: pass --config FILE, or create muxd.config.yaml here or config.yaml in ${userConfigDir()}`);
    return 2;
  }
  const config = await loadConfigFile(configFile);
  const paths = resolvePaths();
  const log = await createDaemonLogger(paths.logDir, true);
  const daemon = new Daemon({ config, paths, log });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'shutting down');
    void daemon.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await daemon.start();
  return -1;
}

try {
  const code = await main();
  if (code >= 0) process.exitCode = code;
} catch (error) {
  if (isMuxError(error)) {
    console.error(`muxd: ${error.message}`);
    process.exitCode = error.code === MuxErrorCodes.ConfigInvalid || error.code === MuxErrorCodes.ConfigNotFound ? 2 : 1;
  } else {
    console.error(`muxd: internal error: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  }
  // Child processes and listeners may keep the loop alive after a failed start.
  setTimeout(() => process.exit(), 100).unref();
}
