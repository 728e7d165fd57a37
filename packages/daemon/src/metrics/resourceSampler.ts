import { CpuSampler, sampleTrees } from '@muxd/runtime/processes';
import type { TreeUsage } from '@muxd/runtime/processes';
import type { Logger } from '../logs.js';
import type { ServiceCounters } from './serviceCounters.js';
import { SLOT_MS } from './latencyWindow.js';

/** What the sampler needs of a service. */
export interface SampledService {
  readonly name: string;
  readonly metrics: ServiceCounters;
  /** The pids of its running children and when the oldest started. */
  snapshot(): { pids: number[]; startedAt: number | undefined };
}

/**
 * Every 5 s, reads the memory and CPU of each service's process trees
 * (asynchronously: muxd serves meanwhile) and hands each service its
 * sample, which also closes its latency slot. A tick that finds the
 * previous one still reading is skipped, so slow reads never pile up.
 */
export class ResourceSampler {
  readonly #services: () => readonly SampledService[];
  readonly #log: Logger;
  /** CPU since the previous sample, apart from `muxctl ls`'s own (each keeps its previous reading). */
  readonly #cpu = new CpuSampler();
  #timer: ReturnType<typeof setInterval> | undefined;
  #busy = false;
  #warned = false;

  constructor(services: () => readonly SampledService[], log: Logger) {
    this.#services = services;
    this.#log = log;
  }

  start(intervalMs = SLOT_MS): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.sampleNow(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample of every service now. Never throws: a failed read is logged once and the sample has no figures. */
  async sampleNow(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const services = this.#services().map((service) => ({ service, snapshot: service.snapshot() }));
      const roots = services.flatMap(({ snapshot }) => snapshot.pids);
      let trees = new Map<number, TreeUsage>();
      try {
        if (roots.length > 0) trees = await sampleTrees(roots);
      } catch (error) {
        if (!this.#warned) this.#log.warn({ error: (error as Error).message }, 'metrics: cannot read the children\'s memory and CPU; samples go without them');
        this.#warned = true;
      }
      const at = Date.now();
      const keys = new Set<string>();
      for (const { service, snapshot } of services) {
        let memoryBytes: number | null = null;
        let cpuPercent: number | null = null;
        for (const pid of snapshot.pids) {
          const usage = trees.get(pid);
          if (!usage) continue;
          const key = `${service.name}:${pid}`;
          keys.add(key);
          memoryBytes = (memoryBytes ?? 0) + usage.memoryBytes;
          cpuPercent = (cpuPercent ?? 0) + this.#cpu.percent(key, usage.cpuMs, snapshot.startedAt ?? at, at);
        }
        service.metrics.tick(at, memoryBytes, cpuPercent === null ? null : Math.round(cpuPercent * 10) / 10);
      }
      this.#cpu.retain(keys);
    } finally {
      this.#busy = false;
    }
  }
}
