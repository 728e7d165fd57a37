/**
 * What the fault-injection tests need beyond the e2e harness: a control
 * connection that polls muxd without starting a muxctl process each time,
 * and views of the process table (process groups, open files, memory).
 */
import { connect } from 'node:net';
import assert from 'node:assert/strict';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { CONTROL_PROTOCOL_VERSION, ControlMethods, RpcConnection } from '@muxd/protocol';
import type { ActionResult, HistoryResult, ListResult, RunRecord, ServiceRow } from '@muxd/protocol';
import { waitFor } from '../e2e/harness.js';
import type { Muxd, Scope } from '../e2e/harness.js';
import { processesWithEnv } from '../procfs.js';

/** A control-socket connection, as muxctl opens one; closed by `scope`'s after hook. */
export class Control {
  readonly #rpc: RpcConnection;

  private constructor(rpc: RpcConnection) {
    this.#rpc = rpc;
  }

  static async open(scope: Scope, muxd: Muxd): Promise<Control> {
    const socket = connect(muxd.controlSocket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const rpc = new RpcConnection(socket);
    scope.after(() => rpc.destroy());
    await rpc.request(ControlMethods.Hello, { client: 'faults', version: '0', protocol: CONTROL_PROTOCOL_VERSION }, 10_000);
    return new Control(rpc);
  }

  list(): Promise<ListResult> {
    return this.#rpc.request<ListResult>(ControlMethods.List, {}, 10_000);
  }

  /** Any control request, as given: for requests muxctl would never send. */
  request<T = unknown>(method: string, params: Record<string, unknown>): Promise<T> {
    return this.#rpc.request<T>(method, params, 10_000);
  }

  async row(name: string): Promise<ServiceRow> {
    const row = (await this.list()).services.find((service) => service.name === name);
    assert.ok(row, `muxd lists '${name}'`);
    return row;
  }

  /** Polls until `name`'s row satisfies `match`; returns it. */
  waitForRow(name: string, what: string, match: (row: ServiceRow) => boolean, timeoutMs = 15_000): Promise<ServiceRow> {
    return waitFor(`'${name}' to be ${what}`, async () => {
      const row = await this.row(name);
      return match(row) ? row : undefined;
    }, timeoutMs, 50);
  }

  async history(name: string, limit = 50): Promise<RunRecord[]> {
    const result = await this.#rpc.request<HistoryResult>(ControlMethods.History, { name, limit }, 10_000);
    assert.equal(result.databaseError, null);
    return result.runs;
  }

  /** Polls the history until the run of `pid` has ended; returns it. */
  endedRun(name: string, pid: number, timeoutMs = 15_000): Promise<RunRecord> {
    return waitFor(`the history of '${name}' to show the end of pid ${pid}`, async () => {
      return (await this.history(name)).find((run) => run.pid === pid && run.endedAt !== null);
    }, timeoutMs, 50);
  }

  start(name: string): Promise<ActionResult> {
    return this.#rpc.request<ActionResult>(ControlMethods.Start, { name }, 30_000);
  }

  stop(name: string): Promise<ActionResult> {
    return this.#rpc.request<ActionResult>(ControlMethods.Stop, { name }, 30_000);
  }

  restart(name: string): Promise<ActionResult> {
    return this.#rpc.request<ActionResult>(ControlMethods.Restart, { name }, 30_000);
  }
}

/** Settles with the MCP error `promise` rejects with; fails the test if it resolves or rejects otherwise. */
export async function mcpError(promise: Promise<unknown>): Promise<McpError> {
  const error = await promise.then(
    (value) => assert.fail(`expected an MCP error, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof McpError, `expected an MCP error, got ${String(error)}`);
  return error;
}

/** The JSON-RPC error of a raw message, if it is one. */
export function errorOf(message: Record<string, unknown> | undefined): { code: number; message: string } | undefined {
  return message?.['error'] as { code: number; message: string } | undefined;
}

// ------------------------------------------------------------ process table

export { fdCount, processGroup, rssBytes } from '../procfs.js';

/**
 * Every live process that belongs to a muxd home: daemons, the reaper,
 * proxies and muxctl runs (`MUXD_HOME`), and the harness-marked children of
 * its services and their descendants.
 */
export function processesOfHome(home: string): number[] {
  return processesWithEnv(`MUXD_HOME=${home}`, `MUXD_E2E_SERVICE_HOME=${home}`).filter((pid) => pid !== process.pid);
}
