import { ErrorCodes, errorResponse, successResponse } from '@muxd/protocol';
import type { JsonObject, JsonRpcId, JsonRpcNotification } from '@muxd/protocol';
import type { ClientSession } from './clientSession.js';
import { isLogLevel, logLevelRank, mostVerbose } from './logLevels.js';
import type { LogLevel } from './logLevels.js';
import type { MuxContext } from './muxContext.js';

/**
 * Logging levels shared among clients: each client's `logging/setLevel` is
 * kept, the server is set to the most verbose of them, and each client gets
 * only the `notifications/message` its own level admits (all of them while
 * it set none).
 */
export class LogRouting {
  readonly #ctx: MuxContext;
  /** Level last applied upstream. */
  #applied: LogLevel | undefined;

  constructor(ctx: MuxContext) {
    this.#ctx = ctx;
  }

  setLevel(client: ClientSession, id: JsonRpcId, params: JsonObject | undefined): void {
    const level = params?.['level'];
    if (!isLogLevel(level)) {
      this.#ctx.reply(client, errorResponse(id, ErrorCodes.InvalidParams, `Unknown logging level: ${JSON.stringify(level)}`));
      return;
    }
    client.logLevel = level;
    this.apply();
    this.#ctx.reply(client, successResponse(id, {}));
  }

  /** Delivers a log message to each ready client whose level admits it. */
  message(notification: JsonRpcNotification): void {
    const rank = logLevelRank(notification.params?.['level']);
    for (const client of this.#ctx.clients.values()) {
      if (!client.isReady) continue;
      if (client.logLevel === undefined || rank >= logLevelRank(client.logLevel)) client.send(notification);
    }
  }

  /** Sets the server's level to the most verbose any client asked for, when it changed. */
  apply(): void {
    const levels: LogLevel[] = [];
    for (const client of this.#ctx.clients.values()) if (client.logLevel !== undefined) levels.push(client.logLevel);
    const target = mostVerbose(levels);
    if (target === undefined || target === this.#applied || !this.#ctx.upstreamReady()) return;
    this.#applied = target;
    this.#ctx.request('logging/setLevel', { level: target }).catch((error: unknown) => {
      this.#ctx.log.warn({ level: target, err: (error as { message?: unknown })?.message }, 'upstream logging/setLevel failed');
    });
  }

  forgetClient(client: ClientSession): void {
    if (client.logLevel === undefined) return;
    client.logLevel = undefined;
    this.apply();
  }

  /** A new child starts at its own default: the level is applied again once it is ready. */
  upstreamGone(): void {
    this.#applied = undefined;
  }

  /** The new child is ready: it gets the level the clients want. */
  reapply(): void {
    this.#applied = undefined;
    this.apply();
  }
}
