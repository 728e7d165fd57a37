import type { JsonRpcId } from '@muxd/protocol';

/**
 * A map key for a JSON-RPC id that keeps its JSON type: the number 1 and
 * the string "1" are different ids.
 */
export type IdKey = string;

export function idKey(id: JsonRpcId): IdKey {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}
