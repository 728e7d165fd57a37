import { createHash } from 'node:crypto';
import { MuxError, MuxErrorCodes } from '@muxd/protocol';
import { adhocServiceConfig } from '@muxd/config';
import type { AdhocSpec, MuxConfig, ServiceConfig } from '@muxd/config';
import type { Logger } from './logs.js';
import type { Reaper } from './reaper.js';
import type { PackageStore } from './unwrap/packageStore.js';
import { Service } from './service.js';
import { ExitReason } from './supervisor.js';
import type { SupervisorEvent } from './supervisor.js';

export interface ServiceRegistryOptions {
  /** Where a service's data socket listens; undefined for none (its clients connect in process). */
  socketPath: (name: string) => string | undefined;
  /** The reaper every child's process group is registered with. */
  reaper: () => Reaper;
  /** Opens a new service's own log (child stderr and lifecycle). */
  createLog: (name: string) => Promise<Logger>;
  /** Every service's lifecycle events, for the daemon log and the history. */
  onEvent: (service: string, event: SupervisorEvent) => void;
  /** Where package runners' packages are installed; without it only project dependencies are unwrapped. */
  packages?: () => PackageStore | undefined;
}

/** What a reload did to the services, by name. */
export interface ServicesDiff {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
}

/**
 * Every service muxd runs: the configured ones, and the ad-hoc ones
 * `mux-proxy -- COMMAND...` registered (which a reload leaves alone). Opens
 * each as it is added and applies a reloaded config's difference.
 */
export class ServiceRegistry {
  readonly #options: ServiceRegistryOptions;
  /** In the order they were added: configured services first, in config order. */
  readonly #services = new Map<string, Service>();
  readonly #adhoc = new Set<string>();

  constructor(options: ServiceRegistryOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#services.size;
  }

  all(): Service[] {
    return [...this.#services.values()];
  }

  has(name: string): boolean {
    return this.#services.has(name);
  }

  /** The service `name`; throws `MUX_SERVICE_UNKNOWN`, naming those there are, when there is none. */
  get(name: string): Service {
    const service = this.#services.get(name);
    if (!service) {
      const known = [...this.#services.keys()].join(', ') || 'none';
      throw new MuxError(MuxErrorCodes.ServiceUnknown, `no service '${name}' (configured: ${known})`);
    }
    return service;
  }

  /** `name`'s service, or every service for "all"; throws as `get` does. */
  select(name: string): Service[] {
    return name === 'all' ? this.all() : [this.get(name)];
  }

  /** A configured service, for the HTTP front: ad-hoc services carry a host's own credentials and stay on their sockets. */
  configured(name: string): Service | undefined {
    return this.#adhoc.has(name) ? undefined : this.#services.get(name);
  }

  /** Creates the service's log and socket (when it has one), and starts it unless it is lazy. */
  async add(config: ServiceConfig): Promise<Service> {
    const { socketPath, reaper, createLog, onEvent, packages } = this.#options;
    const serviceLog = await createLog(config.name);
    const service = new Service(config, socketPath(config.name), { reaper: reaper(), log: serviceLog, onEvent, packages: packages?.() });
    this.#services.set(config.name, service);
    await service.open();
    return service;
  }

  /**
   * Finds or creates the ad-hoc service for a command not in the config.
   * Its name hashes the command, args, cwd and env, so sessions with the
   * same entry share a child and sessions with different tokens do not.
   */
  async ensureAdhoc(spec: AdhocSpec, defaults: MuxConfig['defaults']): Promise<{ service: Service; created: boolean }> {
    const digest = createHash('sha256')
      .update(JSON.stringify([spec.command, spec.args, spec.cwd, Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : 1))]))
      .digest('hex');
    const name = `adhoc-${digest.slice(0, 12)}`;
    const existing = this.#services.get(name);
    if (existing) return { service: existing, created: false };
    const service = await this.add(adhocServiceConfig(name, spec, defaults));
    this.#adhoc.add(name);
    return { service, created: true };
  }

  /**
   * Applies a reloaded config's services: removed ones stop, new ones
   * start, changed ones restart with their new config (clients stay
   * connected, unless the isolation changed), the rest keep their children
   * and clients. Ad-hoc services are left alone. Stops at the first
   * failure, keeping what was done.
   */
  async reconcile(next: ReadonlyMap<string, ServiceConfig>): Promise<ServicesDiff> {
    const diff: ServicesDiff = { added: [], removed: [], changed: [], unchanged: [] };
    for (const [name, service] of this.#services) {
      if (next.has(name) || this.#adhoc.has(name)) continue;
      diff.removed.push(name);
      await service.close(ExitReason.Config);
      this.#services.delete(name);
    }
    for (const [name, config] of next) {
      const service = this.#services.get(name);
      if (!service) {
        diff.added.push(name);
        await this.add(config);
      } else if (JSON.stringify(service.config) === JSON.stringify(config)) {
        diff.unchanged.push(name);
      } else {
        diff.changed.push(name);
        if (service.config.isolation === config.isolation) {
          await service.reconfigure(config);
        } else {
          await service.close(ExitReason.Config);
          this.#services.delete(name);
          await this.add(config);
        }
      }
    }
    return diff;
  }

  /** Stops every service (in parallel), telling their clients why. */
  async closeAll(reason: ExitReason): Promise<void> {
    await Promise.all(this.all().map((service) => service.close(reason)));
  }
}
