import type { ListSummary, MemoryKind } from '@muxd/protocol';

/** What the summary needs of one service. */
export interface ServiceFootprint {
  name: string;
  /** Data-socket (mux-proxy) clients. */
  proxySessions: number;
  /** Every other client (HTTP sessions), active or idle. */
  httpSessions: number;
  /** Children measured now. */
  childrenMeasured: number;
  /** Memory of those children's trees, bytes. */
  memoryBytes: number;
  memoryKind: MemoryKind;
}

/** A process counted on its own: muxd, or a mux-proxy. */
export interface ProcessFootprint {
  memoryBytes: number;
  memoryKind: MemoryKind;
}

export interface SummaryInput {
  services: ServiceFootprint[];
  /** muxd's own process; undefined when it could not be read. */
  daemon: ProcessFootprint | undefined;
  /** The mux-proxy processes read. */
  proxies: ProcessFootprint[];
  /** Data-socket sessions whose process was not read. */
  proxiesNotCounted: number;
}

/**
 * The totals line of `muxctl ls`. The direct estimate takes, for each
 * service, the memory of one child as measured now (its trees' memory over
 * its children) times its sessions: what each session running its own copy
 * would take. It is an estimate: a server's memory differs with its load,
 * and copies of one program share some pages with each other.
 */
export function summarize(input: SummaryInput): ListSummary {
  let proxy = 0;
  let http = 0;
  let childrenMemoryBytes = 0;
  let directEstimateBytes = 0;
  let memoryKind: MemoryKind = 'pss';
  const notEstimated: string[] = [];
  const kind = (footprint: { memoryKind: MemoryKind }): void => {
    if (footprint.memoryKind === 'rss') memoryKind = 'rss';
  };
  for (const service of input.services) {
    proxy += service.proxySessions;
    http += service.httpSessions;
    const sessions = service.proxySessions + service.httpSessions;
    if (service.childrenMeasured === 0) {
      if (sessions > 0) notEstimated.push(service.name);
      continue;
    }
    kind(service);
    childrenMemoryBytes += service.memoryBytes;
    directEstimateBytes += Math.round((service.memoryBytes / service.childrenMeasured) * sessions);
  }
  let proxiesMemoryBytes = 0;
  for (const footprint of input.proxies) {
    kind(footprint);
    proxiesMemoryBytes += footprint.memoryBytes;
  }
  if (input.daemon) kind(input.daemon);
  const daemonMemoryBytes = input.daemon?.memoryBytes ?? 0;
  return {
    services: input.services.length,
    sessions: { total: proxy + http, proxy, http },
    memoryBytes: daemonMemoryBytes + childrenMemoryBytes + proxiesMemoryBytes,
    memoryKind,
    daemonMemoryBytes,
    childrenMemoryBytes,
    proxiesMemoryBytes,
    proxiesCounted: input.proxies.length,
    proxiesNotCounted: input.proxiesNotCounted,
    directEstimateBytes,
    notEstimated,
  };
}
