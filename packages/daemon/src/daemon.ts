import { serviceSocketPath } from '@muxd/protocol';
import type { MuxPaths } from '@muxd/protocol';
import type { MuxConfig } from './config.js';
import { createFileLogger, serviceLogDir } from './logs.js';
import type { Logger } from './logs.js';
import { PidLock } from './pidLock.js';
import { Reaper } from './reaper.js';
import { Service } from './service.js';
import type { SupervisorEvent } from './supervisor.js';
import { checkSocketPathLength, ensurePrivateDirectory } from './unixSocket.js';

export interface DaemonOptions {
  config: MuxConfig;
  paths: MuxPaths;
  log: Logger;
}

/**
 * muxd itself: holds the per-home lock, the reaper, and one `Service` per
 * configured server. `start()` returns once every data socket listens.
 */
export class Daemon {
  readonly paths: MuxPaths;
  readonly log: Logger;
  readonly services = new Map<string, Service>();
  readonly #config: MuxConfig;
  #lock: PidLock | undefined;
  #reaper: Reaper | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: DaemonOptions) {
    this.#config = options.config;
    this.paths = options.paths;
    this.log = options.log;
  }

  async start(): Promise<void> {
    const { paths, log } = this;
    ensurePrivateDirectory(paths.stateDir);
    ensurePrivateDirectory(paths.runDir);
    ensurePrivateDirectory(paths.logDir);
    for (const name of this.#config.services.keys()) checkSocketPathLength(serviceSocketPath(paths, name));
    this.#lock = PidLock.acquire(paths.lockFile);
    this.#reaper = new Reaper();
    const reaper = this.#reaper;
    process.on('exit', () => reaper.killAllNow());
    log.info({ config: this.#config.file, services: [...this.#config.services.keys()], runDir: paths.runDir }, 'muxd starting');
    for (const note of this.#config.notes) log.warn({}, `config: ${note}`);
    try {
      for (const config of this.#config.services.values()) {
        const serviceLog = await createFileLogger(serviceLogDir(paths.logDir, config.name), config.name);
        const service = new Service(config, serviceSocketPath(paths, config.name), {
          reaper,
          log: serviceLog,
          onEvent: (name, event) => this.#onServiceEvent(name, event),
        });
        this.services.set(config.name, service);
        await service.open();
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    log.info({ services: this.services.size }, 'muxd ready');
  }

  #onServiceEvent(service: string, event: SupervisorEvent): void {
    switch (event.type) {
      case 'spawn':
        this.log.info({ service, child: event.pid }, 'child started');
        break;
      case 'exit': {
        const { exit } = event;
        const fields = { service, child: exit.pid, code: exit.code, signal: exit.signal, reason: exit.reason, uptimeMs: exit.uptimeMs };
        if (exit.reason === 'crash' || exit.reason === 'spawn-failed') this.log.warn(fields, event.willRestart ? `child exited; restarting in ${event.delayMs} ms` : 'child exited');
        else this.log.info(fields, 'child stopped');
        break;
      }
      case 'errored':
        this.log.error({ service }, event.message);
        break;
    }
  }

  /** Stops every service and releases the lock. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.log.info({}, 'muxd stopping');
      await Promise.all([...this.services.values()].map((service) => service.close()));
      this.#reaper?.close();
      this.#lock?.release();
      this.log.info({}, 'muxd stopped');
    })();
    return this.#stopping;
  }
}
