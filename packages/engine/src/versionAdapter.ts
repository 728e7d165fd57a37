import { isJsonObject } from '@muxd/protocol';
import type { JsonObject, JsonRpcMessage } from '@muxd/protocol';

/**
 * What one server session says, rewritten for a client that negotiated an
 * older protocol version: the server speaks the newest version muxd knows,
 * each client gets only what its own version defines. Versions compare as
 * their date strings.
 *
 * | added in   | what                              | for an older client          |
 * |------------|-----------------------------------|------------------------------|
 * | 2025-03-26 | `completions` server capability   | left out of initialize       |
 * | 2025-03-26 | `audio` content                   | a `text` block describing it |
 * | 2025-06-18 | `resource_link` content           | a `text` block with the link |
 * | 2025-11-25 | `tasks` server capability         | left out of initialize       |
 *
 * Fields an older version does not define but whose clients ignore (titles,
 * icons, `outputSchema`, `structuredContent`, `_meta`) pass through, as they
 * would from the server directly to a client of a newer SDK.
 */
// Maps: a capability or content type named `constructor` is just an unknown one.
const CAPABILITY_SINCE: ReadonlyMap<string, string> = new Map([
  ['completions', '2025-03-26'],
  ['tasks', '2025-11-25'],
]);
const CONTENT_SINCE: ReadonlyMap<string, string> = new Map([
  ['audio', '2025-03-26'],
  ['resource_link', '2025-06-18'],
]);
/** Clients at this version or newer need nothing but the initialize result adapted. */
const CONTENT_UNCHANGED_FROM = '2025-06-18';

/** The cached initialize result as a client of `version` is answered. */
export function initializeResultFor(result: JsonObject, version: string): JsonObject {
  const capabilities = isJsonObject(result['capabilities']) ? result['capabilities'] : {};
  // Defined, never assigned: a capability named `__proto__` stays a capability.
  const kept: JsonObject = Object.fromEntries(Object.entries(capabilities).filter(([name]) => {
    const since = CAPABILITY_SINCE.get(name);
    return since === undefined || version >= since;
  }));
  return { ...result, protocolVersion: version, capabilities: kept };
}

/** `message` as a client of `version` may receive it; the same object when nothing changes. */
export function messageFor<T extends JsonRpcMessage | JsonRpcMessage[]>(message: T, version: string): T {
  if (version >= CONTENT_UNCHANGED_FROM) return message;
  if (Array.isArray(message)) return message.map((member) => messageFor(member, version)) as T;
  const record = message as unknown as JsonObject;
  const result = record['result'];
  if (isJsonObject(result)) {
    const adapted = holderFor(result, version);
    return (adapted === result ? message : { ...record, result: adapted }) as unknown as T;
  }
  const params = record['params'];
  if (isJsonObject(params)) {
    const adapted = holderFor(params, version);
    return (adapted === params ? message : { ...record, params: adapted }) as unknown as T;
  }
  return message;
}

/** A result or params object with its content blocks (`content`, `messages[].content`) adapted. */
function holderFor(holder: JsonObject, version: string): JsonObject {
  let out = holder;
  const content = holder['content'];
  if (Array.isArray(content)) {
    const adapted = blocksFor(content, version);
    if (adapted !== content) out = { ...out, content: adapted };
  }
  const messages = holder['messages'];
  if (Array.isArray(messages)) {
    let changed = false;
    const adapted = messages.map((entry: unknown) => {
      if (!isJsonObject(entry)) return entry;
      const inner = entry['content'];
      const next = Array.isArray(inner) ? blocksFor(inner, version) : isJsonObject(inner) ? blockFor(inner, version) : inner;
      if (next === inner) return entry;
      changed = true;
      return { ...entry, content: next };
    });
    if (changed) out = { ...out, messages: adapted };
  }
  return out;
}

function blocksFor(blocks: unknown[], version: string): unknown[] {
  let changed = false;
  const adapted = blocks.map((block) => {
    if (!isJsonObject(block)) return block;
    const next = blockFor(block, version);
    if (next !== block) changed = true;
    return next;
  });
  return changed ? adapted : blocks;
}

/** One content block, as a `text` block when `version` predates its type. */
function blockFor(block: JsonObject, version: string): JsonObject {
  const type = block['type'];
  const since = typeof type === 'string' ? CONTENT_SINCE.get(type) : undefined;
  if (since === undefined || version >= since) return block;
  if (type === 'resource_link') {
    const name = typeof block['name'] === 'string' ? block['name'] : 'resource';
    return { type: 'text', text: `${name}: ${String(block['uri'])}` };
  }
  const data = typeof block['data'] === 'string' ? block['data'] : '';
  return { type: 'text', text: `[audio content (${String(block['mimeType'] ?? 'unknown type')}, ${Math.floor((data.length * 3) / 4)} bytes) not shown: this client's protocol version has no audio]` };
}
