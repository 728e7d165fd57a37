/**
 * The format-neutral view of a host config file that import and rewire work
 * on. Edits are splices at offsets of the original text: nothing outside the
 * swapped fields is rewritten, so comments, order, indentation, line endings
 * and a BOM stay as they were.
 */
import type { HostDefinition, HostFile } from './hostRegistry.js';
import type { HostEntry } from './serverEntry.js';

/** Replace `length` characters at `offset` with `content`. */
export interface Edit {
  offset: number;
  length: number;
  content: string;
}

/** A span of the text: the part of the file one entry's transport lives in. */
export interface Span {
  offset: number;
  length: number;
}

/**
 * The transport fields of an entry, in the host's spelling: `undefined`
 * means absent (to write: remove the field).
 */
export interface Transport {
  command: string | undefined;
  args: string[] | undefined;
  /** Only on hosts with a `type` field. */
  type?: string | undefined;
}

export interface HostDocument {
  readonly text: string;
  /** Entries of the servers map in file order; undefined when the file has no servers map. */
  readonly entries: HostEntry[] | undefined;
  /** The parsed file, for checking an edit changed only what it meant to. */
  readonly value: unknown;
  /** The smallest span holding all of the entry's transport fields; undefined when the entry is not there. */
  region(name: string): Span | undefined;
  /** The entry's transport fields as they are now. */
  transport(name: string): Transport | undefined;
  /**
   * Edits that give the entry `target`'s transport fields, keeping every
   * other field. Throws `Error` when the entry is laid out in a way it
   * cannot edit in place (the message says how).
   */
  swap(name: string, target: Transport): Edit[];
  /** Where the entry's transport fields sit in the parsed value (for checks), and how they are spelled there. */
  transportPath(name: string): TransportPath;
  /** The entry's own fields as parsed; undefined when the entry is not there or not an object. */
  fields(name: string): Record<string, unknown> | undefined;
  /**
   * Edits that give the entry's own fields `set` (in that order; fields it
   * lacks go where the first removed one was) and remove those named in
   * `remove` (with their sub-tables, in TOML), keeping every other field.
   * For a change of transport kind (stdio <-> HTTP), where whole fields come
   * and go. Throws `Error` when the entry is laid out in a way it cannot
   * edit in place (the message says how).
   */
  replaceFields(name: string, set: ReadonlyArray<readonly [string, FieldValue]>, remove: readonly string[]): Edit[];
  /**
   * Edits that give the map `field` of the object holding the entry's
   * transport fields (the entry; Zed's nested `command`) the keys `entries`,
   * adding those it lacks after its last key and replacing the values of
   * those it has, every other key as written; a missing map is added. For
   * the variables mux-proxy needs in its environment. Throws `Error` when
   * the map is laid out in a way it cannot edit in place (the message says how).
   */
  setMapEntries(name: string, field: string, entries: ReadonlyArray<readonly [string, string]>): Edit[];
}

/** A value `replaceFields` writes: a string, a list of strings, or a map (headers; what undo puts back, such as `env`). */
export type FieldValue = string | readonly string[] | Readonly<Record<string, unknown>>;

/** The object holding an entry's transport fields (keys from the root) and their names in it. */
export interface TransportPath {
  path: string[];
  names: { command: string; args: string; type: string };
  /** The program and its arguments are one list in `names.command` (opencode); `names.args` is unused. */
  joined?: boolean;
}

export const PLAIN_FIELDS = { command: 'command', args: 'args', type: 'type' } as const;

/** `text` with a leading BOM turned into a space of the same length, for the parsers: offsets stay those of `text`. */
export function maskBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? ' ' + text.slice(1) : text;
}

/**
 * Where a plain entry at `path` keeps its transport fields:
 * `command`/`args`/`type`, or the host's own names (opencode: one `command`
 * list; Goose: `cmd`/`args`).
 */
export function plainWhere(host: Pick<HostDefinition, 'stdioFields'>, path: string[]): TransportPath {
  const names = host.stdioFields;
  if (!names) return { path, names: { ...PLAIN_FIELDS } };
  return { path, names: { command: names.command, args: names.args ?? names.command, type: 'type' }, ...(names.args === undefined ? { joined: true } : {}) };
}

/** The error an editor throws when asked to change an entry `name` the file's servers map does not hold. */
export function noEntryError(file: Pick<HostFile, 'path' | 'serversPath'>, name: string): Error {
  return new Error(`${file.path}: no entry ${JSON.stringify(name)} in ${file.serversPath.join('.')}`);
}

/** Applies edits made against `text` (non-overlapping; inserts at one offset keep their order). */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  const sorted = edits.map((edit, index) => ({ edit, index })).sort((a, b) => a.edit.offset - b.edit.offset || a.index - b.index);
  let result = '';
  let position = 0;
  for (const { edit } of sorted) {
    if (edit.offset < position) throw new Error('overlapping edits');
    result += text.slice(position, edit.offset) + edit.content;
    position = edit.offset + edit.length;
  }
  return result + text.slice(position);
}

/** '\r\n' when the text uses it, else '\n'. */
export function lineEnding(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** The offset where the line holding `offset` starts. */
export function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** The offset where the line holding `offset` ends (before its line ending). */
export function lineEnd(text: string, offset: number): number {
  const newline = text.indexOf('\n', offset);
  if (newline === -1) return text.length;
  return text[newline - 1] === '\r' ? newline - 1 : newline;
}

/** The whitespace before `offset` on its line, when nothing else is there. */
export function leadingIndent(text: string, offset: number): string | undefined {
  const prefix = text.slice(lineStart(text, offset), offset);
  return /^[ \t]*$/.test(prefix) ? prefix : undefined;
}

/**
 * A list of strings as JSON/TOML array text, shaped like `previous` (the
 * array it replaces): one line stays one line; a multi-line array keeps its
 * element indentation, closing indentation and trailing comma.
 */
export function formatStringArray(values: readonly string[], previous: string | undefined, eol: string, elementIndent?: string, closeIndent?: string): string {
  const items = values.map((value) => JSON.stringify(value));
  if (previous === undefined || !previous.includes('\n') || elementIndent === undefined || closeIndent === undefined || items.length === 0) {
    return `[${items.join(', ')}]`;
  }
  const trailing = /,\s*(?:(?:\/\/|#)[^\n]*\s*)*\]$/.test(previous) ? ',' : '';
  return `[${eol}${items.map((item) => elementIndent + item).join(`,${eol}`)}${trailing}${eol}${closeIndent}]`;
}

/** A stable text of a parsed value, for comparing documents (key order ignored, bigints and dates as text). */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return `${item}n`;
    if (item && typeof item === 'object' && !Array.isArray(item) && !(item instanceof Date)) {
      return Object.fromEntries(Object.keys(item).sort().map((key) => [key, (item as Record<string, unknown>)[key]]));
    }
    return item;
  });
}

/** The value at `path` inside `root` (objects only, own keys only: an entry named `constructor` is not Object's). */
export function valueAt(root: unknown, path: readonly string[]): unknown {
  let current = root;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** One entry's transport change: where its fields are and what they become. */
export interface TransportChange {
  where: TransportPath;
  target: Transport;
}

/** One entry's change of whole fields (`replaceFields`): the entry's path, the fields set, the fields removed. */
export interface FieldChange {
  path: string[];
  set: Readonly<Record<string, unknown>>;
  remove: readonly string[];
}

/**
 * Edits removing the items at `removed` from a comma-separated list (JSON
 * object properties, TOML inline table fields) given their spans in order:
 * an item goes with what follows it up to the next item; a run at the end
 * goes with what precedes it from the last item kept, so commas stay right
 * (and a trailing comma stays). Keeping none removes from the first to the
 * last.
 */
export function removeListItems(items: readonly Span[], removed: ReadonlySet<number>): Edit[] {
  const edits: Edit[] = [];
  const end = (span: Span) => span.offset + span.length;
  for (let index = 0; index < items.length; index++) {
    if (!removed.has(index)) continue;
    const item = items[index] as Span;
    const keptAfter = items.some((_, later) => later > index && !removed.has(later));
    if (keptAfter) {
      edits.push({ offset: item.offset, length: (items[index + 1] as Span).offset - item.offset, content: '' });
      continue;
    }
    const last = items[items.length - 1] as Span;
    let keptBefore: Span | undefined;
    for (let earlier = index - 1; earlier >= 0; earlier--) {
      if (!removed.has(earlier)) {
        keptBefore = items[earlier];
        break;
      }
    }
    const from = keptBefore ? end(keptBefore) : item.offset;
    edits.push({ offset: from, length: end(last) - from, content: '' });
    break;
  }
  return edits;
}

/**
 * Checks that `after` (the edited file, parsed) equals `before` with only the
 * transport fields of `changes` set. Throws when an edit touched anything
 * else: the file is then not written.
 */
export function checkOnlyTransportChanged(before: unknown, after: unknown, changes: ReadonlyArray<TransportChange | FieldChange>, file: string): void {
  const expected = structuredCloneLoose(before);
  for (const change of changes) {
    const { path, set, remove } = 'where' in change ? fieldChangeOf(change) : change;
    const holder = valueAt(expected, path);
    if (typeof holder !== 'object' || holder === null) throw new Error(`${file}: entry ${path.join('.')} not found after editing`);
    const fields = holder as Record<string, unknown>;
    for (const key of remove) delete fields[key];
    for (const [key, value] of Object.entries(set)) fields[key] = value;
  }
  if (canonical(expected) !== canonical(after)) {
    const names = changes.map((change) => ('where' in change ? change.where.path : change.path).at(-1));
    throw new Error(`${file}: the edit would change more than the transport fields of ${names.join(', ')}; file left as it is`);
  }
}

/** A transport change as the fields it sets and removes in its holder. */
function fieldChangeOf({ where, target }: TransportChange): FieldChange {
  const set: Record<string, unknown> = {};
  const remove: string[] = [];
  if (where.joined) {
    const { command, args, type } = target;
    if (command === undefined) remove.push(where.names.command);
    else set[where.names.command] = [command, ...(args ?? [])];
    if ('type' in target) {
      if (type === undefined) remove.push(where.names.type);
      else set[where.names.type] = type;
    }
    return { path: where.path, set, remove };
  }
  for (const key of ['command', 'args', 'type'] as const) {
    if (!(key in target)) continue;
    const value = target[key];
    if (value === undefined) remove.push(where.names[key]);
    else set[where.names[key]] = value;
  }
  return { path: where.path, set, remove };
}

/** A deep copy of plain data that keeps dates and bigints as they are (structuredClone drops Date subclasses' own fields). */
function structuredCloneLoose(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(structuredCloneLoose);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, structuredCloneLoose(item)]));
  }
  return value;
}
