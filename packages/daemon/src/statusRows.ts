import { join } from 'node:path';
import type { DescribeResult, ListSummary, MemoryKind, MuxPaths, RunRecord, ServiceRow } from '@muxd/protocol';
import { CpuSampler, sampleProcesses, sampleTrees } from '@muxd/runtime/processes';
import type { TreeUsage } from '@muxd/runtime/processes';
import { redactConfig } from '@muxd/config';
import { summarize } from './listSummary.js';
import type { ProcessFootprint, ServiceFootprint } from './listSummary.js';
import { serviceLogDir } from './logs.js';
import { rowMetrics } from './metrics/metricsReport.js';
import type { Service, ServiceSnapshot } from './service.js';
import type { Store } from './store.js';

/** One reading of the processes: each child's tree, muxd's own process and the proxies'. */
interface Sample {
  /** Each child's tree and its CPU use since the previous sample, by `<service>:<pid>`. */
  trees: Map<string, { usage: TreeUsage; cpuPercent: number }>;
  daemon: TreeUsage | undefined;
  /** The mux-proxy processes read, by pid. */
  proxies: Map<number, TreeUsage>;
}

/** The rows and the totals line of `muxctl ls`. */
export interface StatusList {
  services: ServiceRow[];
  summary: ListSummary;
}

const treeKey = (service: string, pid: number): string => `${service}:${pid}`;

/**
 * The rows of `muxctl ls` and `muxctl describe`: each service's snapshot
 * with the memory and CPU of its children's process trees, and the totals
 * under them. Processes are read asynchronously (the event loop goes on
 * meanwhile). CPU is the use since the previous sample, so one `StatusRows`
 * lives as long as the daemon.
 */
export class StatusRows {
  readonly #cpu = new CpuSampler();

  /**
   * Reads the processes, then one row per service, in order, and the
   * totals; forgets the CPU samples of children no longer listed. The rows
   * are the services as they are once the read is done: a child started
   * meanwhile shows no memory yet.
   */
  async list(services: Iterable<Service>): Promise<StatusList> {
    const all = [...services];
    const sample = await this.#sample(all.map((service) => service.snapshot()));
    this.#cpu.retain(new Set(sample.trees.keys()));
    const snapshots = all.map((service) => ({ service, snapshot: service.snapshot() }));
    const now = Date.now();
    return {
      services: snapshots.map(({ service, snapshot }) => this.#row(service, sample, now, snapshot)),
      summary: this.#summary(snapshots.map(({ snapshot }) => snapshot), sample),
    };
  }

  async #sample(snapshots: ServiceSnapshot[]): Promise<Sample> {
    const roots = snapshots.flatMap((snapshot) => snapshot.pids);
    const told = snapshots.flatMap((snapshot) => snapshot.clientPids).filter((pid) => pid !== process.pid);
    const [trees, singles] = await Promise.all([sampleTrees(roots), sampleProcesses([process.pid, ...told])]);
    const now = Date.now();
    const sample: Sample = { trees: new Map(), daemon: singles.get(process.pid), proxies: new Map() };
    const inTrees = new Set<number>();
    for (const snapshot of snapshots) {
      for (const pid of snapshot.pids) {
        const usage = trees.get(pid);
        if (!usage) continue;
        for (const member of usage.pids) inTrees.add(member);
        const key = treeKey(snapshot.name, pid);
        sample.trees.set(key, { usage, cpuPercent: this.#cpu.percent(key, usage.cpuMs, snapshot.startedAt ?? now, now) });
      }
    }
    // A pid a client claims that is muxd's or a child's is counted once, where it belongs.
    for (const pid of told) {
      const usage = singles.get(pid);
      if (usage && !inTrees.has(pid)) sample.proxies.set(pid, usage);
    }
    return sample;
  }

  #summary(snapshots: ServiceSnapshot[], sample: Sample): ListSummary {
    const services: ServiceFootprint[] = snapshots.map((snapshot) => {
      let childrenMeasured = 0;
      let memoryBytes = 0;
      let memoryKind: MemoryKind = 'pss';
      for (const pid of snapshot.pids) {
        const usage = sample.trees.get(treeKey(snapshot.name, pid))?.usage;
        if (!usage) continue;
        childrenMeasured++;
        memoryBytes += usage.memoryBytes;
        if (usage.memoryKind === 'rss') memoryKind = 'rss';
      }
      const sessions = snapshot.clients + snapshot.idleClients;
      const proxySessions = Math.min(snapshot.socketClients, sessions);
      return { name: snapshot.name, proxySessions, httpSessions: sessions - proxySessions, childrenMeasured, memoryBytes, memoryKind };
    });
    const proxies = new Map<number, ProcessFootprint>();
    for (const pid of snapshots.flatMap((snapshot) => snapshot.clientPids)) {
      const usage = sample.proxies.get(pid);
      if (usage) proxies.set(pid, usage);
    }
    const proxySessions = services.reduce((total, service) => total + service.proxySessions, 0);
    return summarize({ services, daemon: sample.daemon, proxies: [...proxies.values()], proxiesNotCounted: Math.max(0, proxySessions - proxies.size) });
  }

  /**
   * `muxctl describe`: the row, the config with secrets redacted, where its
   * socket and log are, and its current and last run from `store` (left
   * out when the database cannot answer: `ls` reports that).
   */
  async describe(service: Service, store: Store | undefined, paths: MuxPaths): Promise<DescribeResult> {
    const sample = await this.#sample([service.snapshot()]);
    const row = this.#row(service, sample, Date.now());
    let runs: RunRecord[] = [];
    try {
      runs = store && !store.error ? store.history(service.name, 2) : [];
    } catch {
      // The database is reported by `ls`; describe still answers.
    }
    const current = runs[0] && runs[0].endedAt === null ? runs[0] : null;
    const last = runs.find((run) => run.endedAt !== null) ?? null;
    const logDir = serviceLogDir(paths.logDir, service.name);
    return {
      row,
      config: redactConfig(service.config),
      socket: service.socketPath ?? '',
      logDir,
      logFile: join(logDir, 'current.log'),
      currentRun: current,
      lastRun: last,
    };
  }

  #row(service: Service, sample: Sample, now: number, snapshot = service.snapshot()): ServiceRow {
    let memoryBytes: number | null = null;
    let memoryKind: MemoryKind | null = null;
    let cpuPercent: number | null = null;
    for (const pid of snapshot.pids) {
      const tree = sample.trees.get(treeKey(snapshot.name, pid));
      if (!tree) continue;
      memoryBytes = (memoryBytes ?? 0) + tree.usage.memoryBytes;
      memoryKind = memoryKind === 'rss' ? 'rss' : tree.usage.memoryKind;
      cpuPercent = (cpuPercent ?? 0) + tree.cpuPercent;
    }
    const lastExit = snapshot.lastExit;
    return {
      name: snapshot.name,
      status: snapshot.status,
      isolation: snapshot.isolation,
      pids: snapshot.pids,
      startedAt: snapshot.startedAt ?? null,
      uptimeMs: snapshot.startedAt === undefined ? null : now - snapshot.startedAt,
      restarts: snapshot.restarts,
      clients: snapshot.clients,
      idleClients: snapshot.idleClients,
      inflight: snapshot.inflight,
      queued: snapshot.queued,
      memoryBytes,
      memoryKind,
      cpuPercent: cpuPercent === null ? null : Math.round(cpuPercent * 10) / 10,
      lastExit: lastExit
        ? {
            pid: lastExit.pid ?? null,
            code: lastExit.code,
            signal: lastExit.signal,
            reason: lastExit.reason,
            at: lastExit.at,
            uptimeMs: lastExit.uptimeMs,
            ...(lastExit.error ? { error: lastExit.error } : {}),
          }
        : null,
      error: snapshot.error ?? null,
      package: service.unwrap.info.package,
      unwrapNote: service.unwrap.info.note,
      metrics: rowMetrics(service.metrics, now),
    };
  }
}
