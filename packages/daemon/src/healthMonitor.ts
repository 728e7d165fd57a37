import { UpstreamState } from '@muxd/engine';
import type { Mux } from '@muxd/engine';
import { ErrorCodes } from '@muxd/protocol';
import { sampleTrees } from '@muxd/runtime/processes';
import type { TreeUsage } from '@muxd/runtime/processes';
import { formatBytes } from '@muxd/config';
import type { ServiceConfig } from '@muxd/config';
import type { Logger } from './logs.js';
import { ExitReason, ServiceStatus } from './supervisor.js';
import type { ChildSupervisor } from './supervisor.js';

/** One child and the engine in front of it. */
export interface ServiceInstance {
  readonly mux: Mux;
  readonly supervisor: ChildSupervisor;
}

export interface HealthMonitorOptions {
  /** The service's config as it is now (`healthCheck`, `maxMemory`). */
  config: () => ServiceConfig;
  /** The service's children right now. */
  instances: () => ServiceInstance[];
  /** True once the service is closing: nothing is checked any more. */
  closing: () => boolean;
  log: Logger;
}

/**
 * A service's health checks: every `healthCheck.interval` (10 s when only
 * `maxMemory` is set) each online child's process tree is measured (PSS on
 * Linux, RSS on macOS: the figure `muxctl ls` shows) and the server
 * pinged. A child over `maxMemory` (reason memory) or one that does not
 * answer within `healthCheck.timeout` (reason hung) is restarted the way a
 * crash is: backoff, and errored after too many.
 */
export class HealthMonitor {
  readonly #options: HealthMonitorOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #pinging = new Set<ServiceInstance>();
  /** Instances being restarted: the old child stays online (and over its limit) until it exits. */
  readonly #restarting = new Set<ServiceInstance>();
  #checking = false;

  constructor(options: HealthMonitorOptions) {
    this.#options = options;
  }

  /** (Re)arms the checks with the config as it is now; none when health checks and maxMemory are both off. */
  start(): void {
    this.stop();
    const { healthCheck, maxMemoryBytes } = this.#options.config();
    if (healthCheck.intervalMs <= 0 && maxMemoryBytes <= 0) return;
    this.#timer = setInterval(() => this.#check(), healthCheck.intervalMs > 0 ? healthCheck.intervalMs : 10_000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    // A check still reading the processes (a large tree) is not overlapped by the next.
    if (this.#checking) return;
    this.#checking = true;
    this.#checkNow()
      .catch((error: unknown) => this.#options.log.error({ err: String(error) }, 'health check failed'))
      .finally(() => (this.#checking = false));
  }

  async #checkNow(): Promise<void> {
    if (this.#options.closing()) return;
    const { healthCheck, maxMemoryBytes } = this.#options.config();
    const { log } = this.#options;
    let online = this.#online();
    let usages: Map<number, TreeUsage> | undefined;
    if (maxMemoryBytes > 0 && online.length > 0) {
      // Read without blocking muxd; the children are taken again after, as the read may have let some end.
      usages = await sampleTrees(online.flatMap(({ supervisor }) => (supervisor.pid === undefined ? [] : [supervisor.pid])));
      if (this.#options.closing()) return;
      online = this.#online();
    }
    for (const instance of online) {
      if (this.#restarting.has(instance)) continue;
      const pid = instance.supervisor.pid;
      const usage = pid === undefined ? undefined : usages?.get(pid);
      if (usage && usage.memoryBytes > maxMemoryBytes) {
        log.warn({ child: pid, memoryBytes: usage.memoryBytes, memoryKind: usage.memoryKind, maxMemoryBytes }, 'child over maxMemory: restarting');
        void this.#restart(instance, ExitReason.Memory, `its processes use ${formatBytes(usage.memoryBytes)} (${usage.memoryKind.toUpperCase()}), over maxMemory ${formatBytes(maxMemoryBytes)}`);
        continue;
      }
      if (healthCheck.intervalMs <= 0 || instance.mux.upstreamState !== UpstreamState.Ready || this.#pinging.has(instance)) continue;
      this.#pinging.add(instance);
      instance.mux
        .ping(healthCheck.timeoutMs)
        .catch((error: { code?: number }) => {
          if (error?.code !== ErrorCodes.RequestTimeout || instance.supervisor.pid !== pid) return;
          log.error({ child: pid, timeoutMs: healthCheck.timeoutMs }, 'child did not answer a health ping: restarting it (hung)');
          return this.#restart(instance, ExitReason.Hung, `it did not answer a ping within ${healthCheck.timeoutMs} ms`);
        })
        .finally(() => this.#pinging.delete(instance));
    }
  }

  #online(): ServiceInstance[] {
    return this.#options.instances().filter(({ supervisor }) => supervisor.status === ServiceStatus.Online);
  }

  /** One restart at a time per instance, however many checks find it unwell meanwhile. */
  async #restart(instance: ServiceInstance, reason: ExitReason, why: string): Promise<void> {
    this.#restarting.add(instance);
    try {
      await instance.supervisor.recycle(reason, why);
    } finally {
      this.#restarting.delete(instance);
    }
  }
}
