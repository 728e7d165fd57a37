import { connect } from 'node:net';
import { RpcConnection } from '@muxd/protocol';

export interface CheckHealthOptions {
  /** Aborting it ends the check at once, with `ok: false`. */
  signal?: AbortSignal;
  /** How long each step (connect, initialize, ping) may take, in ms. Default 10000. */
  timeoutMs?: number;
  /** The client name sent in `initialize`. Default `'muxd checkHealth'`. */
  clientName?: string;
}

/** What `checkHealth` found. */
export interface HealthResult {
  ok: boolean;
  /** Round trip of the `ping`, in ms; null when it did not get that far. */
  latencyMs: number | null;
  /** The server's `serverInfo` from `initialize`; null when it did not answer. */
  serverInfo: { name: string; version: string; [key: string]: unknown } | null;
  /** Why it is not healthy; null when `ok`. */
  error: string | null;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * An MCP round trip through a service's data socket, as `muxctl health`
 * makes it: connect, `initialize`, then time a `ping` to the server. Never
 * throws: a dead socket, a timeout or an abort is `ok: false` with the reason.
 */
export async function checkHealth(socketPath: string, options: CheckHealthOptions = {}): Promise<HealthResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { signal } = options;
  const failed = (error: string, serverInfo: HealthResult['serverInfo'] = null): HealthResult => ({ ok: false, latencyMs: null, serverInfo, error });
  if (signal?.aborted) return failed('aborted');
  const socket = connect(socketPath);
  const rpc = new RpcConnection(socket);
  const onAbort = (): void => void socket.destroy(new Error('aborted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  let serverInfo: HealthResult['serverInfo'] = null;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        reject(new Error(signal?.aborted ? 'aborted' : 'connection closed'));
      });
    });
    const initialized = await rpc.request<{ serverInfo?: HealthResult['serverInfo'] }>(
      'initialize',
      { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: options.clientName ?? 'muxd checkHealth', version: '1' } },
      timeoutMs,
    );
    serverInfo = initialized.serverInfo ?? null;
    rpc.notify('notifications/initialized');
    const started = performance.now();
    await rpc.request('ping', {}, timeoutMs);
    return { ok: true, latencyMs: Math.round((performance.now() - started) * 100) / 100, serverInfo, error: null };
  } catch (error) {
    return failed(signal?.aborted ? 'aborted' : (error as Error).message, serverInfo);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    rpc.destroy();
  }
}
