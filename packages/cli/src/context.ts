import { resolvePaths } from '@muxd/protocol';
import type { MuxPaths } from '@muxd/protocol';
import { ControlClient } from './controlClient.js';

/** Options every command takes. */
export interface GlobalArgs {
  json: boolean;
}

/** Progress and warnings: stderr, so stdout stays parseable. */
export function notice(message: string): void {
  process.stderr.write(`muxctl: ${message}\n`);
}

export function paths(): MuxPaths {
  return resolvePaths();
}

/** Connects to muxd (starting it unless told not to), runs `action`, disconnects. */
export async function withDaemon<T>(
  action: (client: ControlClient) => Promise<T>,
  options: { autoStart?: boolean; onNotification?: (method: string, params: Record<string, unknown>) => void } = {},
): Promise<T> {
  const client = await ControlClient.connect(paths(), {
    autoStart: options.autoStart ?? true,
    notice,
    ...(options.onNotification ? { onNotification: options.onNotification } : {}),
  });
  try {
    return await action(client);
  } finally {
    client.close();
  }
}
