import { ErrorCodes } from './errorCodes.js';
import { errorResponse } from './jsonrpc.js';
import type { JsonRpcFailure, JsonRpcId } from './jsonrpc.js';

/**
 * Deepest nesting of arrays and objects muxd accepts in one message, the
 * envelope included (serde_json's default limit, so Rust MCP peers already
 * hold to it). `JSON.stringify` recurses, and a message a few thousand
 * levels deep would overflow the stack of whatever serialized it.
 */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * True when `line` nests arrays and objects deeper than `maxDepth`. Reads
 * bytes only (no parse), so it is safe and linear on any input; string
 * contents are skipped with `indexOf`.
 */
export function nestsDeeperThan(line: Uint8Array, maxDepth: number): boolean {
  if (line.length <= maxDepth) return false;
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const byte = line[i];
    if (byte === QUOTE) {
      i = closingQuote(line, i);
      if (i === -1) return false;
    } else if (byte === OPEN_BRACKET || byte === OPEN_BRACE) {
      if (++depth > maxDepth) return true;
    } else if (byte === CLOSE_BRACKET || byte === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

/** Index of the quote that closes the string opening at `open`, or -1. */
function closingQuote(line: Uint8Array, open: number): number {
  let at = line.indexOf(QUOTE, open + 1);
  while (at !== -1) {
    let backslashes = 0;
    while (line[at - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
    at = line.indexOf(QUOTE, at + 1);
  }
  return -1;
}

// ------------------------------------------------------------- exact ids

/**
 * A JSON-RPC id (or progress token) that is a number JavaScript cannot hold
 * exactly (`9007199254740993`, `1.0`, `1e3`) travels through muxd as this
 * tag plus the number's own text, and `encodeMessage` writes the text back
 * unchanged. The nonce makes the tag unguessable, so no string a peer sends
 * can pass for one.
 */
const RAW_NUMBER_TAG = `\u0000muxd-number-${randomNonce()}:`;
const RAW_NUMBER_TEXT = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
/** The tag as `JSON.stringify` writes it inside a string. */
const ENCODED_TAG = JSON.stringify(RAW_NUMBER_TAG).slice(1, -1);
const ENCODED_TAGGED_NUMBER = new RegExp(`"${ENCODED_TAG.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}(-?[0-9][0-9.eE+-]*)"`, 'g');

function randomNonce(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** True for an id that stands for a number kept as its text (see `exactNumberId`). */
export function isExactNumberId(id: unknown): id is string {
  return typeof id === 'string' && id.startsWith(RAW_NUMBER_TAG);
}

/** How an id reads in a message for people: the number's own text for an exact-number id. */
export function describeId(id: JsonRpcId | null): string {
  if (isExactNumberId(id)) return id.slice(RAW_NUMBER_TAG.length);
  return JSON.stringify(id);
}

/** Where numeric ids or tokens sit that must come back exactly as they were written. */
const EXACT_PATHS: ReadonlyArray<readonly string[]> = [['id'], ['params', 'requestId'], ['params', 'progressToken'], ['params', '_meta', 'progressToken']];

/**
 * Replaces every number at an `EXACT_PATHS` place of `message` whose text
 * would not survive `JSON.parse` then `JSON.stringify` (past 2^53, `1.0`,
 * `1e3`, `-0`) with an exact-number id. `text` is the message's JSON text.
 */
function keepExactNumbers(message: Record<string, unknown>, text: string, base: readonly (string | number)[]): void {
  for (const path of EXACT_PATHS) {
    let holder: Record<string, unknown> | undefined = message;
    for (const key of path.slice(0, -1)) {
      const next: unknown = holder?.[key];
      holder = typeof next === 'object' && next !== null && !Array.isArray(next) ? (next as Record<string, unknown>) : undefined;
    }
    const key = path[path.length - 1] as string;
    const value = holder?.[key];
    if (holder === undefined || typeof value !== 'number') continue;
    const fullPath = [...base, ...path];
    // The common case, `"id":1` as written, settles without a scan.
    if (Number.isSafeInteger(value) && !Object.is(value, -0) && writtenPlainly(text, key, value, path.length === 1 && base.length === 0)) continue;
    const raw = valueTextAt(text, fullPath);
    if (raw !== undefined) holder[key] = exactId(raw) ?? value;
  }
}

/**
 * True when `"key":value` is written plainly in `text` (`"id":1,` but not
 * `"id":1.0`), without reading more of the line than it must. A top-level
 * key is found where every SDK writes it, first after `jsonrpc` or last
 * before the closing brace; otherwise the one `"key"` in the whole text
 * must be it. A second `"key"` anywhere (a nested member, a string)
 * answers false, leaving it to a scan.
 */
function writtenPlainly(text: string, key: string, value: number, topLevel: boolean): boolean {
  const member = `"${key}":${value}`;
  if (topLevel) {
    const end = text.trimEnd();
    if (end.endsWith(`${member}}`) && /[{,]\s*$/.test(end.slice(0, end.length - member.length - 1).slice(-8))) return true;
    if (text.startsWith(`{${member},`) || text.startsWith(`{"jsonrpc":"2.0",${member},`)) return true;
  }
  const quoted = `"${key}"`;
  const at = text.indexOf(quoted);
  if (at === -1 || text.indexOf(quoted, at + 1) !== -1) return false;
  if (!text.startsWith(member, at)) return false;
  const next = text[at + member.length];
  return next === undefined || next === ',' || next === '}' || next === ' ' || next === '\n' || next === '\r' || next === '\t';
}

/**
 * The JSON text of the value at `path` (object keys and array indexes) in
 * `text`, which must be valid JSON. Undefined when there is none.
 */
export function valueTextAt(text: string, path: readonly (string | number)[]): string | undefined {
  let at = skipSpace(text, 0);
  for (const step of path) {
    const open = text[at];
    if (typeof step === 'number') {
      if (open !== '[') return undefined;
      at = skipSpace(text, at + 1);
      for (let index = 0; ; index++) {
        if (text[at] === ']') return undefined;
        if (index === step) break;
        at = skipSpace(text, skipValue(text, at));
        if (text[at] !== ',') return undefined;
        at = skipSpace(text, at + 1);
      }
      continue;
    }
    if (open !== '{') return undefined;
    at = skipSpace(text, at + 1);
    let found = false;
    // The last member of a name wins, as in JSON.parse.
    let foundAt = -1;
    while (text[at] === '"') {
      const keyEnd = skipValue(text, at);
      const name: unknown = JSON.parse(text.slice(at, keyEnd));
      at = skipSpace(text, skipSpace(text, keyEnd) + 1);
      if (name === step) {
        found = true;
        foundAt = at;
      }
      at = skipSpace(text, skipValue(text, at));
      if (text[at] !== ',') break;
      at = skipSpace(text, at + 1);
    }
    if (!found) return undefined;
    at = foundAt;
  }
  return text.slice(at, skipValue(text, at));
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && (text[at] === ' ' || text[at] === '\n' || text[at] === '\r' || text[at] === '\t')) at++;
  return at;
}

/** The index just past the JSON value starting at `at`. Iterative: any depth is safe. */
function skipValue(text: string, at: number): number {
  let depth = 0;
  do {
    const char = text[at];
    if (char === '"') {
      at++;
      while (at < text.length && text[at] !== '"') at += text[at] === '\\' ? 2 : 1;
      at++;
    } else if (char === '[' || char === '{') {
      depth++;
      at++;
    } else if (char === ']' || char === '}') {
      depth--;
      at++;
    } else if (char === ',' || char === ':' || char === ' ' || char === '\n' || char === '\r' || char === '\t') {
      at++;
    } else {
      // A number, true, false or null (or, in a line that is not JSON, anything): at least one character.
      do at++;
      while (at < text.length && !/[\s,\]}:"[{]/.test(text[at] as string));
    }
  } while (depth > 0 && at < text.length);
  return at;
}

// ---------------------------------------------------------- decode/encode

/** Why a line could not be taken as a message, and who to tell. */
export interface DecodeFailure {
  /** `ErrorCodes.ParseError` or `ErrorCodes.NestedTooDeep`. */
  code: number;
  message: string;
  /**
   * Ids of the requests the line held (members with a method and an id),
   * each owed this error. Empty for a parse error, which JSON-RPC answers
   * once with a null id.
   */
  requests: JsonRpcId[];
  /**
   * Ids of the answers the line held (members with an id and no method):
   * the requests they answer are owed this error in their place.
   */
  answers: JsonRpcId[];
  /** The line was a batch: the errors go back as one array. */
  batch: boolean;
}

/**
 * The errors owed for a line that could not be taken: one with a null id
 * for a parse error, one per request otherwise (an array for a batch), or
 * nothing when it held no request.
 */
export function failureResponses(failure: DecodeFailure): JsonRpcFailure | JsonRpcFailure[] | undefined {
  if (failure.code === ErrorCodes.ParseError) return errorResponse(null, failure.code, failure.message);
  const responses = failure.requests.map((id) => errorResponse(id, failure.code, failure.message));
  if (responses.length === 0) return undefined;
  return failure.batch ? responses : responses[0];
}

/**
 * The requests in a line too deep to parse, found by scanning (iteratively,
 * so any depth is safe). Ids come out exact, as `decodeMessage` gives them.
 */
function requestsIn(text: string): Pick<DecodeFailure, 'requests' | 'answers' | 'batch'> {
  const start = skipSpace(text, 0);
  const batch = text[start] === '[';
  const members: string[] = [];
  if (batch) {
    let at = skipSpace(text, start + 1);
    while (at < text.length && text[at] !== ']') {
      const end = skipValue(text, at);
      members.push(text.slice(at, end));
      at = skipSpace(text, end);
      if (text[at] !== ',') break;
      at = skipSpace(text, at + 1);
    }
  } else {
    members.push(text);
  }
  const requests: JsonRpcId[] = [];
  const answers: JsonRpcId[] = [];
  for (const member of members) {
    try {
      const raw = valueTextAt(member, ['id']);
      const id = raw === undefined ? undefined : exactId(raw);
      if (id === undefined) continue;
      if (valueTextAt(member, ['method']) !== undefined) requests.push(id);
      else answers.push(id);
    } catch {
      // Not JSON after all: nothing can be read from this member.
    }
  }
  return { requests, answers, batch };
}

/** An id from its JSON text: a string, a number, or an exact-number id; undefined for anything else. */
function exactId(raw: string): JsonRpcId | undefined {
  const value: unknown = JSON.parse(raw);
  if (typeof value === 'string') return value;
  if (typeof value !== 'number') return undefined;
  // Past what a double holds (1e400) too: the number's own text stands for it.
  if (!RAW_NUMBER_TEXT.test(raw)) return Number.isFinite(value) ? value : undefined;
  return raw === String(value) ? value : RAW_NUMBER_TAG + raw;
}

export type DecodeResult = { ok: true; message: unknown } | { ok: false; failure: DecodeFailure };

/**
 * Parses one NDJSON line into a JSON value, for every place muxd reads
 * messages from a peer (client sockets, HTTP bodies, a child's stdout).
 * Refuses, without parsing, a line nested deeper than `MAX_JSON_DEPTH`;
 * keeps numeric ids and progress tokens that JavaScript numbers would
 * change exact (see `isExactNumberId`). Never throws.
 */
export function decodeMessage(line: Uint8Array | string, maxDepth: number = MAX_JSON_DEPTH): DecodeResult {
  const bytes = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
  const text = typeof line === 'string' ? line : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (nestsDeeperThan(bytes, maxDepth)) {
    return {
      ok: false,
      failure: { code: ErrorCodes.NestedTooDeep, message: `Message nested too deeply: over ${maxDepth} levels of arrays and objects`, ...requestsIn(text) },
    };
  }
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (error) {
    return { ok: false, failure: { code: ErrorCodes.ParseError, message: `Parse error: ${(error as Error).message}`, requests: [], answers: [], batch: false } };
  }
  if (Array.isArray(message)) {
    message.forEach((member, index) => {
      if (typeof member === 'object' && member !== null && !Array.isArray(member)) keepExactNumbers(member as Record<string, unknown>, text, [index]);
    });
  } else if (typeof message === 'object' && message !== null) {
    keepExactNumbers(message as Record<string, unknown>, text, []);
  }
  return { ok: true, message };
}

/**
 * Serializes one message (or batch) as an NDJSON line, writing exact-number
 * ids back as the numbers they were. Returns undefined instead of throwing
 * when the value cannot be serialized (a cycle, a BigInt, a stack overflow),
 * so no message can take its writer down.
 */
export function encodeMessage(message: unknown): string | undefined {
  let text: string | undefined;
  try {
    text = JSON.stringify(message);
  } catch {
    return undefined;
  }
  if (text === undefined) return undefined;
  if (text.includes(ENCODED_TAG)) {
    text = text.replace(ENCODED_TAGGED_NUMBER, (whole, raw: string) => (RAW_NUMBER_TEXT.test(raw) ? raw : whole));
  }
  return text + '\n';
}
