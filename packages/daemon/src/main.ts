#!/usr/bin/env node
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { MuxErrorCodes, isMuxError, resolvePaths } from '@muxd/protocol';
import { describeThrown, writeCrashRecord } from '@muxd/runtime/crash';
import { LOG_DEFAULTS, findConfigFile, loadConfigFile, userConfigDir } from '@muxd/config';
import { Daemon } from './daemon.js';
import { LOG_FORMATS, LogFormat, chooseLogFormat, prettyDestination } from './logFormat.js';
import { createDaemonLogger, logFatalSync } from './logs.js';
import type { Logger } from './logs.js';
import { VERSION } from './version.js';

const paths = resolvePaths();
/** The daemon log, once it is open: a crash is written to it before muxd exits. */
let daemonLog: Logger | undefined;
let crashing = false;

/**
 * muxd dies of an uncaught exception or an unhandled rejection: the error
 * and its stack go to the crash record (`muxctl daemon status` shows it), to
 * the daemon log (flushed synchronously) and to stderr (`muxd.stderr` when
 * started in the background); then muxd exits 1, and its exit hook ends
 * every child's process group. Every write is synchronous: nothing is
 * waited for.
 */
function crash(error: unknown, origin: string): void {
  if (crashing) process.exit(1);
  crashing = true;
  const { message, stack } = describeThrown(error);
  const recorded = writeCrashRecord(paths, { at: Date.now(), pid: process.pid, version: VERSION, origin, message, stack });
  const where = recorded ? paths.lastCrashFile : null;
  if (daemonLog) logFatalSync(daemonLog, paths.logDir, { err: error, origin, crashRecord: where }, `muxd crashed: ${message}`);
  try {
    process.stderr.write(`muxd: crashed (${origin}): ${stack}\n${where ? `muxd: crash record: ${where}\n` : ''}`);
  } catch {
    // Nowhere left to say it.
  }
  process.exit(1);
}
process.on('uncaughtException', crash);

const argv = await yargs(hideBin(process.argv))
  .scriptName('muxd')
  .usage('$0 [--config FILE]\n\nRuns every MCP server in the config once, each shared through its own Unix socket.\nClients connect with: mux-proxy <service>')
  .option('config', { alias: 'c', type: 'string', describe: 'Config file (YAML, JSON, TOML or JS)' })
  .option('log-format', {
    type: 'string',
    choices: LOG_FORMATS,
    describe: 'The log on stderr in the foreground: pretty lines, JSON lines, or auto (pretty on a terminal); also $MUXD_LOG_FORMAT. Log files are JSON',
  })
  .version(VERSION)
  .strict()
  .help()
  .parseAsync();

// Sockets, logs and the database are this user's alone.
process.umask(0o077);

async function main(): Promise<number> {
  const configFile = argv.config ?? (process.env['MUXD_CONFIG'] || (await findConfigFile()));
  // With no config file muxd still runs (ad-hoc services need none) and says how to add one.
  const config = configFile
    ? await loadConfigFile(configFile)
    : {
        file: '',
        logs: LOG_DEFAULTS,
        defaults: {},
        services: new Map(),
        notes: [`no config file: pass --config FILE, set MUXD_CONFIG, or create ${join(userConfigDir(), 'config.yaml')} (muxctl import writes one)`],
      };
  // Started in the background by muxctl or mux-proxy: the log file is enough.
  const foreground = process.env['MUXD_BACKGROUND'] !== '1';
  // The log goes to stderr in the foreground: that is the stream asked whether it is a terminal.
  const pretty = foreground && chooseLogFormat(argv.logFormat, process.env, process.stderr.isTTY === true) === LogFormat.Pretty;
  const log = await createDaemonLogger(paths.logDir, foreground, config.logs, pretty ? await prettyDestination(2, process.stderr.isTTY === true) : undefined);
  daemonLog = log;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'shutting down');
    void daemon.stop().then(() => process.exit(0));
  };
  const daemon = new Daemon({ config, paths, log, loadConfig: loadConfigFile, findConfig: findConfigFile, onShutdownRequested: () => onSignal('SIGTERM') });
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
