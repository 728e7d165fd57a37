import { ControlMethods, ErrorCodes, RpcError } from '@muxd/protocol';
import type { ControlMethod, ControlParamsArg, ControlResult, HelloResult, MetricsResult } from '@muxd/protocol';
import { CliError, ExitCodes } from '../cliError.js';
import { ControlClient } from '../controlClient.js';
import { paths } from '../context.js';
import type { ServiceView } from './servicesTable.js';

/** What monit shows at one tick. */
export interface MonitSnapshot {
  /** The services in config order; empty while muxd cannot be reached. */
  services: ServiceView[];
  /** muxd's greeting on the current connection; null while there is none. */
  hello: HelloResult | null;
  /** Why the figures are missing or old ("muxd is not running ..."); null when they are fresh. */
  problem: string | null;
  /** Counts connections made: a new number means muxd is (back) up, so log tails reopen. */
  connection: number;
}

/** How often monit asks muxd, in ms. */
export const TICK_MS = 1000;

/**
 * monit's one control connection: each tick sends one `list` and one
 * `metrics` and reports a snapshot. It never starts muxd: while muxd is not
 * running, each tick tries to connect again and reports why it could not.
 * A muxd too old for `metrics` is listed without metrics.
 */
export class MonitSource {
  readonly #onSnapshot: (snapshot: MonitSnapshot) => void;
  readonly #onNotice: (message: string) => void;
  #client: ControlClient | undefined;
  #connection = 0;
  #metricsKnown = true;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;

  constructor(onSnapshot: (snapshot: MonitSnapshot) => void, onNotice: (message: string) => void) {
    this.#onSnapshot = onSnapshot;
    this.#onNotice = onNotice;
  }

  /** Starts ticking; the first tick runs now. */
  start(): void {
    void this.#run();
  }

  /** Asks for the next tick now (after an action), instead of at the next second. */
  refresh(): void {
    this.#wake?.();
  }

  /**
   * Sends a control request on monit's connection. Rejects with `CliError`
   * while muxd is not running, and with muxd's `RpcError`.
   */
  request<M extends ControlMethod>(method: M, ...params: ControlParamsArg<M>): Promise<ControlResult[M]> {
    if (!this.#client) return Promise.reject(new CliError('muxd is not running', ExitCodes.NotRunning));
    return this.#client.request(method, ...params);
  }

  /** Stops ticking and closes the connection; idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
    this.#drop();
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const snapshot = await this.#tick();
      if (this.#closed) return;
      this.#onSnapshot(snapshot);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, TICK_MS);
      });
      this.#wake = undefined;
    }
  }

  async #tick(): Promise<MonitSnapshot> {
    try {
      const client = this.#client ?? (await this.#connect());
      const [list, metrics] = await Promise.all([client.request(ControlMethods.List), this.#metrics(client)]);
      const byName = new Map((metrics?.services ?? []).map((service) => [service.name, service]));
      return {
        services: list.services.map((row) => ({ row, metrics: byName.get(row.name) })),
        hello: client.hello,
        problem: null,
        connection: this.#connection,
      };
    } catch (error) {
      this.#drop();
      return { services: [], hello: null, problem: problemText(error), connection: this.#connection };
    }
  }

  async #connect(): Promise<ControlClient> {
    const client = await ControlClient.connect(paths(), { autoStart: false, notice: this.#onNotice });
    if (this.#closed) {
      client.close();
      throw new CliError('monit is closing');
    }
    this.#client = client;
    this.#connection += 1;
    this.#metricsKnown = true;
    void client.closed.then(() => {
      if (this.#client === client) this.#client = undefined;
    });
    return client;
  }

  async #metrics(client: ControlClient): Promise<MetricsResult | undefined> {
    if (!this.#metricsKnown) return undefined;
    try {
      return await client.request(ControlMethods.Metrics);
    } catch (error) {
      if (!(error instanceof RpcError) || error.code !== ErrorCodes.MethodNotFound) throw error;
      this.#metricsKnown = false;
      this.#onNotice(`muxd ${client.hello.version} has no metrics: restart it (muxctl daemon stop && muxctl daemon start) for request rates and latencies`);
      return undefined;
    }
  }

  #drop(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}

function problemText(error: unknown): string {
  if (error instanceof CliError && error.exitCode === ExitCodes.NotRunning) return 'muxd is not running; retrying every second (start it with: muxctl daemon start)';
  if (error instanceof RpcError && error.code === ErrorCodes.ConnectionClosed) return 'muxd went away; retrying every second';
  return `cannot read muxd: ${error instanceof Error ? error.message : String(error)}; retrying every second`;
}
