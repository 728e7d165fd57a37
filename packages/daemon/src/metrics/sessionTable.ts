import type { SessionInfo } from '@muxd/protocol';

/** A client's self-description is cut to this many characters. */
const MAX_INFO_CHARS = 128;

/** How a live session is read back: its transport and start, and where to ask for its `clientInfo`. */
interface SessionEntry {
  readonly id: string;
  readonly transport: SessionInfo['transport'];
  readonly since: number;
  /** The `clientInfo` of its initialize, asked of the engine when listed (undefined before it). */
  readonly clientInfo: () => unknown;
}

/**
 * Who is connected to a service: each live session with its transport,
 * start and client name and version, and how many sessions it had in all.
 */
export class SessionTable {
  readonly #live = new Map<string, SessionEntry>();
  #total = 0;
  #socketTotal = 0;
  #httpTotal = 0;

  /** A client connected; returns the id to end it with. */
  started(transport: SessionInfo['transport'], clientInfo: () => unknown, now = Date.now()): string {
    this.#total++;
    if (transport === 'socket') this.#socketTotal++;
    else this.#httpTotal++;
    const id = `${transport}-${this.#total}`;
    this.#live.set(id, { id, transport, since: now, clientInfo });
    return id;
  }

  ended(id: string): void {
    this.#live.delete(id);
  }

  get now(): number {
    return this.#live.size;
  }

  /** Sessions since muxd started, by transport. */
  get totals(): { total: number; socket: number; http: number } {
    return { total: this.#total, socket: this.#socketTotal, http: this.#httpTotal };
  }

  /** Live sessions, oldest first. */
  list(): SessionInfo[] {
    return [...this.#live.values()].map((entry) => {
      const info = entry.clientInfo();
      return {
        id: entry.id,
        transport: entry.transport,
        clientName: infoString(info, 'name'),
        clientVersion: infoString(info, 'version'),
        since: entry.since,
      };
    });
  }
}

/** A string field of a client's `clientInfo`, cut short; null when it is missing or not a string. */
function infoString(info: unknown, key: string): string | null {
  if (typeof info !== 'object' || info === null) return null;
  const value = (info as Record<string, unknown>)[key];
  if (typeof value !== 'string') return null;
  return value.length > MAX_INFO_CHARS ? value.slice(0, MAX_INFO_CHARS) : value;
}
