import { join } from 'node:path';
import type { DescribeResult, MuxPaths, RunRecord, ServiceRow } from '@muxd/protocol';
import { CpuSampler, readProcessTable, treeUsage } from '@muxd/runtime/processes';
import { redactConfig } from '@muxd/config';
import { serviceLogDir } from './logs.js';
import type { Service } from './service.js';
import type { Store } from './store.js';

/**
 * The rows of `muxctl ls` and `muxctl describe`: each service's snapshot
 * with the memory and CPU of its children's process trees. CPU is the use
 * since the previous sample, so one `StatusRows` lives as long as the daemon.
 */
export class StatusRows {
  readonly #cpu = new CpuSampler();

  /** One row per service, in order; forgets the CPU samples of children no longer listed. */
  list(services: Iterable<Service>): ServiceRow[] {
    const table = readProcessTable();
    const now = Date.now();
    const rows = [...services].map((service) => this.#row(service, table, now));
    this.#cpu.retain(new Set(rows.flatMap((row) => row.pids.map((pid) => `${row.name}:${pid}`))));
    return rows;
  }

  /**
   * `muxctl describe`: the row, the config with secrets redacted, where its
   * socket and log are, and its current and last run from `store` (left
   * out when the database cannot answer: `ls` reports that).
   */
  describe(service: Service, store: Store | undefined, paths: MuxPaths): DescribeResult {
    const row = this.#row(service, readProcessTable(), Date.now());
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
      socket: service.socketPath,
      logDir,
      logFile: join(logDir, 'current.log'),
      currentRun: current,
      lastRun: last,
    };
  }

  #row(service: Service, table: ReturnType<typeof readProcessTable>, now: number): ServiceRow {
    const snapshot = service.snapshot();
    let memoryBytes: number | null = null;
    let cpuPercent: number | null = null;
    for (const pid of snapshot.pids) {
      const usage = treeUsage(table, pid);
      if (!usage) continue;
      memoryBytes = (memoryBytes ?? 0) + usage.rssBytes;
      cpuPercent = (cpuPercent ?? 0) + this.#cpu.percent(`${service.name}:${pid}`, usage.cpuMs, snapshot.startedAt ?? now, now);
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
    };
  }
}
