import type { ServerResponse } from 'node:http';
import { DASHBOARD_SECURITY_HEADERS } from './dashboardAssets.js';

/** How often a `state` event goes out while a page listens, ms. */
export const STATE_INTERVAL_MS = 1000;
/** Event streams open at once; more are refused. */
export const MAX_EVENT_STREAMS = 64;
/** Bytes queued toward a page that does not read before its stream is cut. */
const MAX_QUEUED_BYTES = 4 * 1024 ** 2;

export interface DashboardEventsOptions {
  /** Computes the state every page gets (one computation per tick, shared). */
  state: () => Promise<unknown>;
  /** Called when computing the state failed. */
  onError: (error: Error) => void;
}

/**
 * The dashboard's `GET /dashboard/events`: one `state` event a second to
 * every open page, and one right away when something changed (a child
 * started or exited, an action began or ended). Ticks only while a page
 * listens; a tick that finds the previous one still computing is skipped.
 */
export class DashboardEvents {
  readonly #options: DashboardEventsOptions;
  readonly #streams = new Set<ServerResponse>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #computing = false;
  /** A change arrived while computing: compute again after. */
  #again = false;
  #closed = false;

  constructor(options: DashboardEventsOptions) {
    this.#options = options;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  /** Takes `res` as an event stream. False (nothing written) when too many are open. */
  open(res: ServerResponse): boolean {
    if (this.#closed || this.#streams.size >= MAX_EVENT_STREAMS) return false;
    res.writeHead(200, { ...DASHBOARD_SECURITY_HEADERS, 'Content-Type': 'text/event-stream', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write('retry: 2000\n\n');
    this.#streams.add(res);
    res.once('close', () => {
      this.#streams.delete(res);
      if (this.#streams.size === 0) this.#stopTimer();
    });
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.#tick(), STATE_INTERVAL_MS);
      this.#timer.unref();
    }
    void this.#tick();
    return true;
  }

  /** Sends a state now (coalesced with one under way). */
  changed(): void {
    if (this.#streams.size > 0) void this.#tick();
  }

  /** Ends every stream. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#stopTimer();
    for (const res of this.#streams) res.end();
    this.#streams.clear();
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    if (this.#computing) {
      this.#again = true;
      return;
    }
    this.#computing = true;
    try {
      do {
        this.#again = false;
        let data: string;
        try {
          data = JSON.stringify(await this.#options.state());
        } catch (error) {
          this.#options.onError(error as Error);
          return;
        }
        this.#broadcast(`event: state\ndata: ${data}\n\n`);
      } while (this.#again && this.#streams.size > 0);
    } finally {
      this.#computing = false;
    }
  }

  #broadcast(text: string): void {
    for (const res of this.#streams) {
      if (res.writableLength > MAX_QUEUED_BYTES) {
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }
}
