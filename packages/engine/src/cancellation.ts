import type { JsonRpcId, JsonRpcNotification } from '@muxd/protocol';

/**
 * `notifications/cancelled` for `requestId`. muxd sends it upstream when a
 * client cancels, leaves, or its request times out (never for initialize),
 * and to a client when the server cancels what it asked that client, or
 * restarts while a client still owes it an answer.
 */
export function cancelledNotification(requestId: JsonRpcId, reason: string): JsonRpcNotification {
  return { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason } };
}

/** The request id a `notifications/cancelled` names, when it is a usable id. */
export function cancelledRequestId(notification: JsonRpcNotification): JsonRpcId | undefined {
  const requestId = notification.params?.['requestId'];
  return typeof requestId === 'string' || typeof requestId === 'number' ? requestId : undefined;
}
