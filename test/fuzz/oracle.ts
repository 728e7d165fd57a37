/**
 * What muxd owes a client for what it sent, worked out from the bytes alone,
 * and the check of what came back. Numeric ids are compared as raw text: a
 * request sent with id `1.0` must be answered with `1.0`, not `1`; string
 * ids as the strings they are (`idText`).
 *
 * The rules, from docs/multiplexing.md and docs/reliability.md:
 * - a request (an object with a string `method` and a string or number id)
 *   gets exactly one answer under its id, whatever else is wrong with it
 *   (wrong version, bad params, nested past the limit, sent twice);
 * - a line that is not JSON gets -32700 with id null; JSON that is not
 *   JSON-RPC and has no id that can be read gets -32600 with id null;
 * - notifications and responses from a client get nothing back;
 * - a message nested deeper than 128 levels gets -32040 under its id if it
 *   has one, and is dropped otherwise;
 * - a request the client cancelled (notifications/cancelled) may go unanswered.
 * Where these leave a choice (a depth near the limit, bytes that are not
 * UTF-8, a byte order mark, a whole batch past the limit), both outcomes are
 * allowed, but never more than one answer per request, and never an answer
 * to an id nobody sent.
 */
import { bracketDepth, idText, isInvalidUtf8, isRawId, isRawNumber, preview, scanJson } from './rawJson.js';
import type { RawValue } from './rawJson.js';

/** The error codes the checks look for (docs/multiplexing.md). */
export const ErrorCodes = { ParseError: -32700, InvalidRequest: -32600, RequestTimeout: -32001, NestedTooDeep: -32040 } as const;

/** Below this depth a message is within the limit however levels are counted. */
export const SURELY_SHALLOW = 100;
/** From this depth on a message is past the limit however levels are counted. */
export const SURELY_DEEP = 200;

/** What a client is owed. */
export class Expected {
  /** Raw id -> answers it must get. */
  readonly must = new Map<string, number>();
  /** Raw id -> answers it may get on top of those. */
  readonly may = new Map<string, number>();
  nullMin = 0;
  nullMax = 0;
  /** -32700 answers it must get at least (shallow lines that are not JSON). */
  parseErrors = 0;
  /** Raw id -> requests with it that are surely too deep: their answers must be -32040. */
  readonly deep = new Map<string, number>();
  /** Requests cancelled by a notifications/cancelled (loose keys: 1 and 1.0 alike). */
  readonly cancelled = new Set<string>();
  /** For the report: the raw id of each request, with the line it came in (as sent; folded when reported). */
  readonly origin = new Map<string, string>();
  /** For the report: each line that may or must be answered with id null, and how many times. */
  readonly nullSources: Array<{ min: number; max: number; line: string }> = [];

  addMust(id: string, line: string): void {
    this.must.set(id, (this.must.get(id) ?? 0) + 1);
    if (!this.origin.has(id)) this.origin.set(id, line);
  }

  addMay(id: string, line: string, count = 1): void {
    this.may.set(id, (this.may.get(id) ?? 0) + count);
    if (!this.origin.has(id)) this.origin.set(id, line);
  }

  addNull(min: number, max: number, line: string): void {
    this.nullMin += min;
    this.nullMax += max;
    this.nullSources.push({ min, max, line });
  }

  /** Cancelled requests may go unanswered: their `must` becomes `may`. Call once all lines are in. */
  applyCancellations(): void {
    for (const [id, count] of [...this.must]) {
      if (!this.cancelled.has(looseKey(id))) continue;
      this.must.delete(id);
      this.may.set(id, (this.may.get(id) ?? 0) + count);
      this.deep.delete(id);
    }
  }
}

/** An id as a value, for matching cancellations however they spell it. */
export function looseKey(raw: string): string {
  if (isRawNumber(raw)) return `n:${Number(raw)}`;
  try {
    return `s:${JSON.parse(raw) as string}`;
  } catch {
    return `?:${raw}`;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type Kind = 'request' | 'notification' | 'response' | 'invalid';

/** JSON-RPC 2.0 as MCP uses it (params, when present, an object), with ids judged by their raw text. */
function classify(parsed: unknown, raw: RawValue): Kind {
  if (!isObject(parsed) || parsed['jsonrpc'] !== '2.0') return 'invalid';
  const id = idText(raw.members.get('id'));
  const method = parsed['method'];
  if (typeof method === 'string') {
    const params = parsed['params'];
    if (params !== undefined && !isObject(params)) return 'invalid';
    if (!('id' in parsed)) return 'notification';
    return isRawId(id) ? 'request' : 'invalid';
  }
  if (method !== undefined) return 'invalid';
  const hasResult = 'result' in parsed;
  if (hasResult === 'error' in parsed) return 'invalid';
  if (!hasResult) {
    const error = parsed['error'];
    return isObject(error) && typeof error['code'] === 'number' && (isRawId(id) || id === 'null') ? 'response' : 'invalid';
  }
  return isRawId(id) && isObject(parsed['result']) ? 'response' : 'invalid';
}

/** A raw number id that doubles cannot hold at all (1e400): muxd may see no id, and answer with null. */
function overflows(id: string | undefined): boolean {
  return id !== undefined && isRawNumber(id) && !Number.isFinite(Number(id));
}

/** Records a notifications/cancelled, so the request it names may go unanswered. */
function noteCancel(parsed: unknown, raw: RawValue, expected: Expected): void {
  if (!isObject(parsed) || parsed['method'] !== 'notifications/cancelled') return;
  const params = raw.members.get('params');
  if (params === undefined || !params.startsWith('{')) return;
  const requestId = scanJson(params).members.get('requestId');
  if (isRawId(requestId)) expected.cancelled.add(looseKey(idText(requestId) as string));
}

interface MessageContext {
  line: string;
  /** The message is in a batch (its depth code is not checked). */
  inBatch: boolean;
  /** The line or body is allowed to be refused whole (bytes that are not UTF-8, a BOM, a whole batch past the limit). */
  lenient: boolean;
}

/** What one message (a line, or a member of a batch) is owed. */
function expectMessage(parsed: unknown, raw: RawValue, context: MessageContext, expected: Expected): void {
  const kind = classify(parsed, raw);
  const id = idText(raw.members.get('id'));
  const readable = isRawId(id);
  const hasMethod = isObject(parsed) && typeof parsed['method'] === 'string';
  noteCancel(parsed, raw, expected);
  if (context.lenient) {
    if (readable) expected.addMay(id, context.line);
    expected.addNull(0, 1, context.line);
    return;
  }
  const deepish = raw.depth > SURELY_SHALLOW;
  const answerable = kind === 'request' || (kind === 'invalid' && hasMethod && readable);
  if (answerable) {
    expected.addMust(id as string, context.line);
    if (overflows(id)) expected.addNull(0, 1, context.line);
    if (raw.depth >= SURELY_DEEP && !context.inBatch) expected.deep.set(id as string, (expected.deep.get(id as string) ?? 0) + 1);
    return;
  }
  if (kind === 'notification') return;
  if (kind === 'response') {
    if (deepish && readable) expected.addMay(id, context.line);
    if (overflows(id) || deepish) expected.addNull(0, 1, context.line);
    return;
  }
  // Invalid, and no id muxd is sure to read.
  if (readable) {
    expected.addMay(id, context.line);
    expected.addNull(0, 1, context.line);
  } else {
    expected.addNull(deepish ? 0 : 1, 1, context.line);
  }
}

/** The members of a parsed value: a batch's elements, or the value itself. */
function messagesOf(parsed: unknown, text: string): { batch: boolean; members: Array<[unknown, RawValue]>; depth: number } {
  const raw = scanJson(text);
  if (Array.isArray(parsed)) {
    return { batch: true, members: parsed.map((member, k) => [member, raw.elements[k] as RawValue]), depth: raw.depth };
  }
  return { batch: false, members: [[parsed, raw]], depth: raw.depth };
}

function tryParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * A line that is not JSON but nests deep: a muxd that measures depth before
 * parsing takes it for a deep message, and may answer -32040 under an id it
 * reads in it. Each `"id":value` in the text is allowed one such answer.
 */
function expectDeepGarbage(text: string, line: string, expected: Expected): void {
  expected.addNull(0, 1, line);
  const ids = new Set<string>();
  // A key spelled with escapes (`"\u0069d"`) is "id" all the same.
  for (const match of text.matchAll(/("(?:[^"\\]|\\.)*")\s*:\s*(-?\d[\d.eE+-]*|"(?:[^"\\]|\\.)*")/g)) {
    if (ids.size >= 16) break;
    if (idText(match[1]) !== '"id"') continue;
    if (isRawId(match[2])) ids.add(idText(match[2]) as string);
  }
  for (const id of ids) expected.addMay(id, line);
}

/** What one line on a data socket is owed (the line as muxd splits it: no newline). */
export function expectSocketLine(bytes: Buffer, expected: Expected): void {
  const text = bytes.toString('utf8');
  const line = text;
  let lenient = isInvalidUtf8(bytes);
  let parsed = tryParse(text);
  let body = text;
  if (!parsed.ok && text.startsWith('\ufeff')) {
    // A byte order mark: JSON.parse refuses it; RFC 8259 lets a parser ignore it.
    body = text.slice(1);
    parsed = tryParse(body);
    lenient = true;
  }
  if (!parsed.ok) {
    if (bracketDepth(text) > SURELY_SHALLOW) {
      expectDeepGarbage(text, line, expected);
    } else {
      expected.addNull(1, 1, line);
      expected.parseErrors++;
    }
    return;
  }
  const { batch, members, depth } = messagesOf(parsed.value, body);
  if (!batch) {
    expectMessage(parsed.value, members[0]?.[1] as RawValue, { line, inBatch: false, lenient }, expected);
    return;
  }
  if (members.length === 0) {
    expected.addNull(lenient ? 0 : 1, 1, line);
    return;
  }
  // A batch past the limit may be refused whole; each of its members may be too.
  const whole = lenient || depth > SURELY_SHALLOW;
  if (whole) expected.addNull(0, 1, line);
  for (const [member, raw] of members) expectMessage(member, raw, { line, inBatch: true, lenient: whole }, expected);
}

/** What one HTTP POST body is owed, and the statuses it may get. */
export function expectHttpBody(bytes: Buffer, expected: Expected): { statuses: number[] | 'any' } {
  const text = bytes.toString('utf8');
  const line = text;
  const leniently = (): { statuses: 'any' } => {
    const parsed = tryParse(text.startsWith('\ufeff') ? text.slice(1) : text);
    if (parsed.ok) {
      const { members } = messagesOf(parsed.value, text.startsWith('\ufeff') ? text.slice(1) : text);
      for (const [member, raw] of members) expectMessage(member, raw, { line, inBatch: true, lenient: true }, expected);
    }
    expected.addNull(0, 1, line);
    return { statuses: 'any' };
  };
  if (isInvalidUtf8(bytes) || text.startsWith('\ufeff')) return leniently();
  const parsed = tryParse(text);
  if (!parsed.ok) {
    if (bracketDepth(text) > SURELY_SHALLOW) {
      expectDeepGarbage(text, line, expected);
      return { statuses: 'any' };
    }
    expected.addNull(1, 1, line);
    expected.parseErrors++;
    return { statuses: [400] };
  }
  const { batch, members, depth } = messagesOf(parsed.value, text);
  const kinds = members.map(([member, raw]) => classify(member, raw));
  if (depth >= SURELY_DEEP && !batch) {
    // Nested past the limit: refused before anything else is looked at, under its id if it has one.
    // Over HTTP even a notification gets a reply, which may carry an error with id null.
    expected.addNull(0, 1, line);
    expectMessage(parsed.value, members[0]?.[1] as RawValue, { line, inBatch: false, lenient: false }, expected);
    return { statuses: 'any' };
  }
  // Near the limit, either rule may apply; a batch past it may be refused whole.
  if (depth > SURELY_SHALLOW) return leniently();
  for (const [member, raw] of members) noteCancel(member, raw, expected);
  if (members.length === 0 || kinds.includes('invalid')) {
    // The whole body is refused (400, id null); a muxd that reads ids may name them.
    for (const [, raw] of members) {
      const id = idText(raw.members.get('id'));
      if (isRawId(id)) expected.addMay(id, line);
    }
    expected.addNull(1, 1, line);
    return { statuses: [400] };
  }
  const initialize = members.some(([member], k) => kinds[k] === 'request' && isObject(member) && member['method'] === 'initialize');
  if (initialize) {
    for (const [, raw] of members) {
      const id = idText(raw.members.get('id'));
      if (isRawId(id)) expected.addMay(id, line);
    }
    expected.addNull(1, 1, line);
    return { statuses: [400] };
  }
  if (!kinds.includes('request')) return { statuses: [202] };
  for (const [member, raw] of members) expectMessage(member, raw, { line, inBatch: batch, lenient: false }, expected);
  return { statuses: [200] };
}

// ------------------------------------------------------------------ answers

/** What came back. */
export class Answers {
  /** Raw id -> the error code of each answer (0 for a result). */
  readonly byId = new Map<string, number[]>();
  /** Error codes of the answers with id null. */
  readonly nullCodes: number[] = [];
  /** The first few answers with id null, for the report. */
  readonly nullAnswers: string[] = [];
  /** Lines that were not JSON, or responses without an id. */
  readonly malformed: string[] = [];

  /** Takes one line (or SSE event) muxd sent; notifications and requests are ignored. */
  add(text: string): void {
    const parsed = tryParse(text);
    if (!parsed.ok) {
      this.malformed.push(`not JSON: ${preview(text, 200)}`);
      return;
    }
    // Notifications and server requests (the bulk of a flood) need no closer look.
    if (isObject(parsed.value) && typeof parsed.value['method'] === 'string') return;
    const raw = scanJson(text);
    const members: Array<[unknown, RawValue]> = Array.isArray(parsed.value) ? parsed.value.map((member, k) => [member, raw.elements[k] as RawValue]) : [[parsed.value, raw]];
    for (const [member, value] of members) {
      if (!isObject(member) || typeof member['method'] === 'string') continue;
      const id = idText(value.members.get('id'));
      const error = member['error'];
      const code = isObject(error) && typeof error['code'] === 'number' ? error['code'] : 0;
      if (id === undefined) {
        this.malformed.push(`a response without an id: ${preview(text, 200)}`);
      } else if (id === 'null') {
        this.nullCodes.push(code);
        if (this.nullAnswers.length < 6) this.nullAnswers.push(JSON.stringify(member));
      } else {
        const codes = this.byId.get(id) ?? [];
        codes.push(code);
        this.byId.set(id, codes);
      }
    }
  }

  /** Every answer so far, null ids included. */
  get total(): number {
    let total = this.nullCodes.length;
    for (const codes of this.byId.values()) total += codes.length;
    return total;
  }

  count(id: string): number {
    return this.byId.get(id)?.length ?? 0;
  }
}

/** True once every id that must be answered has its answers. */
export function allAnswered(expected: Expected, answers: Answers): boolean {
  for (const [id, count] of expected.must) if (answers.count(id) < count) return false;
  return true;
}

/** Every broken promise, one line each (empty when none). */
export function judge(expected: Expected, answers: Answers, who: string): string[] {
  const problems: string[] = [];
  const show = (id: string): string => preview(id, 120);
  const sentIn = (id: string): string => {
    const line = expected.origin.get(id);
    return line === undefined ? '?' : preview(line, 300);
  };
  const strays: string[] = [];
  const twice: string[] = [];
  const missing: string[] = [];
  for (const [id, codes] of answers.byId) {
    const low = expected.must.get(id) ?? 0;
    const high = low + (expected.may.get(id) ?? 0);
    if (high === 0) strays.push(id);
    else if (codes.length > high) twice.push(`id ${show(id)} was answered ${codes.length} times for ${high} request(s) (codes ${codes.join(', ')}); sent in ${sentIn(id)}`);
  }
  for (const [id, count] of expected.must) {
    const got = answers.count(id);
    if (got < count) missing.push(`request id ${show(id)} got ${got} answer(s), owed ${count}; sent in ${sentIn(id)}`);
  }
  const some = (list: string[], what: string): string[] =>
    list.length <= 4 ? list.map((item) => `${who}: ${item}`) : [...list.slice(0, 4).map((item) => `${who}: ${item}`), `${who}: … and ${list.length - 4} more ${what}`];
  problems.push(...some(twice, 'answered too often'), ...some(missing, 'not answered'));
  if (strays.length > 0) problems.push(`${who}: answers under ids nobody sent: ${strays.slice(0, 8).map(show).join(', ')}${strays.length > 8 ? ` and ${strays.length - 8} more` : ''}`);
  const nulls = answers.nullCodes.length;
  if (nulls < expected.nullMin || nulls > expected.nullMax) {
    problems.push(`${who}: ${nulls} answer(s) with id null (codes ${[...new Set(answers.nullCodes)].join(', ') || 'none'}), expected between ${expected.nullMin} and ${expected.nullMax}`);
    for (const answer of answers.nullAnswers) problems.push(`${who}:   got ${preview(answer, 200)}`);
    for (const source of expected.nullSources.slice(0, 8)) problems.push(`${who}:   owed ${source.min === source.max ? source.min : `${source.min} to ${source.max}`} for ${preview(source.line, 200)}`);
  }
  const parseErrors = answers.nullCodes.filter((code) => code === ErrorCodes.ParseError).length;
  if (parseErrors < expected.parseErrors) problems.push(`${who}: ${parseErrors} -32700 answer(s) for ${expected.parseErrors} line(s) that are not JSON`);
  for (const [id, count] of expected.deep) {
    const codes = answers.byId.get(id) ?? [];
    const total = (expected.must.get(id) ?? 0) + (expected.may.get(id) ?? 0);
    // Only when every request with this id is the deep one: otherwise its answers can't be told apart.
    if (count === total && codes.length === count && codes.some((code) => code !== ErrorCodes.NestedTooDeep)) {
      problems.push(`${who}: request id ${show(id)}, nested past ${SURELY_DEEP} levels, was answered with code(s) ${codes.join(', ')} instead of ${ErrorCodes.NestedTooDeep}; sent in ${sentIn(id)}`);
    }
  }
  const timeouts = [...answers.byId.values()].flat().filter((code) => code === ErrorCodes.RequestTimeout).length;
  if (timeouts > 0) problems.push(`${who}: ${timeouts} request(s) timed out inside muxd (-32001), though the server answers at once`);
  for (const message of answers.malformed.slice(0, 3)) problems.push(`${who}: muxd sent ${message}`);
  return problems;
}
