import type { MuxService } from './muxService.js';

/** Services running inside this process, made by `createMux`. */
export interface MuxHost {
  /** The services' names, in the order given. */
  readonly names: readonly string[];
  /** The service `name`. Throws (code `MUX_SERVICE_UNKNOWN`) naming the services there are when there is none. */
  service(name: string): MuxService;
  /**
   * Stops every child (stdin closed, then SIGTERM, then SIGKILL to its
   * process group after `stopTimeout`), disconnects every client and removes
   * the sockets. Aborting the `signal` given to `createMux` does the same.
   * Idempotent; resolves once every process group is gone.
   */
  close(): Promise<void>;
  /** Settles when the host is closed, by `close()` or by the signal. */
  readonly closed: Promise<void>;
}
