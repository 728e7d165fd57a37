import { ErrorCodes, MessageKind, classifyMessage, errorResponse, requestIdOf } from '@muxd/protocol';
import type { JsonRpcRequest, JsonRpcResponse } from '@muxd/protocol';
import type { ClientSession, PendingBatch } from './clientSession.js';
import { idKey } from './idKey.js';
import type { IdKey } from './idKey.js';

/**
 * Opens a batch (2025-03-26) a client sent: every request in it is
 * registered first, so that answers given at once still wait for the rest,
 * and invalid members are answered inside it. Returns the members to
 * handle one by one, and the batch.
 */
export function openBatch(client: ClientSession, members: unknown[]): { accepted: unknown[]; batch: PendingBatch } {
  const batch: PendingBatch = { waiting: new Set(), responses: [], sent: false };
  const accepted: unknown[] = [];
  for (const member of members) {
    const kind = classifyMessage(member);
    if (kind === MessageKind.Invalid) {
      batch.responses.push(errorResponse(requestIdOf(member), ErrorCodes.InvalidRequest, 'Invalid JSON-RPC message in batch'));
      continue;
    }
    if (kind === MessageKind.Request) {
      const key = idKey((member as JsonRpcRequest).id);
      if (!client.batches.has(key) && !client.inflight.has(key)) {
        batch.waiting.add(key);
        client.batches.set(key, batch);
      }
    }
    accepted.push(member);
  }
  return { accepted, batch };
}

/** Puts an answer into the batch it belongs to, sending the batch once complete. False when it belongs to none. */
export function answerInBatch(client: ClientSession, response: JsonRpcResponse): boolean {
  if (response.id === null || client.batches.size === 0) return false;
  const key = idKey(response.id);
  const batch = client.batches.get(key);
  if (!batch) return false;
  client.batches.delete(key);
  batch.waiting.delete(key);
  batch.responses.push(response);
  if (batch.waiting.size === 0) sendBatch(client, batch);
  return true;
}

/** Sends a batch's answers once; a batch whose every request was answered at once is already sent. */
export function sendBatch(client: ClientSession, batch: PendingBatch): void {
  if (batch.sent || batch.responses.length === 0 || !client.isOpen) return;
  batch.sent = true;
  client.send(batch.responses);
}

/** A request of a batch will get no answer (cancelled): the batch no longer waits for it. */
export function forgetInBatch(client: ClientSession, key: IdKey): void {
  const batch = client.batches.get(key);
  if (!batch) return;
  client.batches.delete(key);
  batch.waiting.delete(key);
  if (batch.waiting.size === 0) sendBatch(client, batch);
}
