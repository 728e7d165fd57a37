/**
 * Codex's config.toml. There is no well-kept TOML editor that edits a value
 * in place and tells where it is, so entries are located with
 * toml-eslint-parser (a full TOML AST with the range of every key, value and
 * table) and only the `command`/`args` values are spliced (between stdio
 * and HTTP: the transport key-values and the entry's `env` table); smol-toml,
 * the parser @muxd/config uses, reads the values and re-checks the result.
 */
import { parse as parseToml } from 'smol-toml';
import { parseTOML } from 'toml-eslint-parser';
import type { AST } from 'toml-eslint-parser';
import { canonical, formatStringArray, leadingIndent, lineEnd, lineEnding, lineStart, maskBom, noEntryError, plainWhere, removeListItems, valueAt } from './hostDocument.js';
import type { Edit, FieldValue, HostDocument, Span, Transport, TransportPath } from './hostDocument.js';
import type { HostFile } from './hostRegistry.js';
import { classifyEntry } from './serverEntry.js';
import type { HostEntry, MuxdMarks } from './serverEntry.js';

type KeyValue = AST.TOMLKeyValue;

function keyNames(key: AST.TOMLKey): string[] {
  return key.keys.map((part) => (part.type === 'TOMLBare' ? part.name : part.value));
}

function samePath(a: readonly (string | number)[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((part, index) => part === b[index]);
}

/** Where one entry is written: a `[mcp_servers.NAME]` table, or an inline table `NAME = { ... }`. */
interface EntryLayout {
  /** The table or inline table itself. */
  region: Span;
  /** The region with the entry's sub-tables that follow it (`[mcp_servers.NAME.env]`): what the entry's text is. */
  extent: Span;
  /** The key-values that are the entry's own fields. */
  fields: KeyValue[];
  /** Every key-value in the table, dotted keys (`env.KEY = ...`) too. */
  body: KeyValue[];
  /** Sub-tables of the entry anywhere in the file, with whether they are inside `extent`. */
  subTables: Array<{ table: AST.TOMLTable; key: string; inExtent: boolean }>;
  inline: boolean;
}

/** Parses a TOML host file. Throws `Error` with the line of a syntax error. */
export function parseTomlHostDocument(file: Pick<HostFile, 'path' | 'serversPath' | 'host'>, text: string, marks?: MuxdMarks): HostDocument {
  const source = maskBom(text);
  let value: Record<string, unknown>;
  let program: AST.TOMLProgram;
  try {
    value = parseToml(source) as Record<string, unknown>;
    program = parseTOML(source);
  } catch (error) {
    throw new Error(`${file.path}: cannot parse: ${(error as Error).message.split('\n')[0]}`);
  }
  const eol = lineEnding(text);
  const top = program.body[0];
  const servers = valueAt(value, file.serversPath);
  const serversMap = typeof servers === 'object' && servers !== null && !Array.isArray(servers) ? (servers as Record<string, unknown>) : undefined;

  function layout(name: string): EntryLayout | 'dotted' | undefined {
    const path = [...file.serversPath, name];
    let dotted = false;
    for (const [index, item] of top.body.entries()) {
      if (item.type === 'TOMLTable') {
        if (item.kind === 'standard' && samePath(item.resolvedKey, path)) {
          // To the end of the last line: a comment there belongs to the entry.
          const end = lineEnd(source, item.range[1]);
          const isSub = (other: (typeof top.body)[number]): other is AST.TOMLTable =>
            other.type === 'TOMLTable' && other.resolvedKey.length > path.length && samePath(other.resolvedKey.slice(0, path.length), path);
          let last = index;
          while (last + 1 < top.body.length && isSub(top.body[last + 1] as (typeof top.body)[number])) last++;
          const extentEnd = lineEnd(source, (top.body[last] as AST.TOMLTable).range[1]);
          const subTables = top.body.flatMap((other, otherIndex) =>
            isSub(other) ? [{ table: other, key: String(other.resolvedKey[path.length]), inExtent: otherIndex > index && otherIndex <= last }] : [],
          );
          return {
            region: { offset: item.range[0], length: end - item.range[0] },
            extent: { offset: item.range[0], length: extentEnd - item.range[0] },
            fields: item.body.filter((kv) => kv.key.keys.length === 1),
            body: item.body,
            subTables,
            inline: false,
          };
        }
        for (const kv of item.body) {
          const full = [...item.resolvedKey.map(String), ...keyNames(kv.key)];
          if (samePath(full, path) && kv.value.type === 'TOMLInlineTable') return inlineLayout(kv.value);
          if (full.length > path.length && samePath(full.slice(0, path.length), path)) dotted = true;
        }
      } else {
        const full = keyNames(item.key);
        if (samePath(full, path) && item.value.type === 'TOMLInlineTable') return inlineLayout(item.value);
        if (full.length > path.length && samePath(full.slice(0, path.length), path)) dotted = true;
      }
    }
    return dotted ? 'dotted' : undefined;
  }

  function inlineLayout(table: AST.TOMLInlineTable): EntryLayout {
    const region = { offset: table.range[0], length: table.range[1] - table.range[0] };
    return { region, extent: region, fields: table.body.filter((kv) => kv.key.keys.length === 1), body: table.body, subTables: [], inline: true };
  }

  const field = (entry: EntryLayout, key: string): KeyValue | undefined => entry.fields.find((kv) => keyNames(kv.key)[0] === key);

  const entries: HostEntry[] | undefined =
    serversMap && Object.entries(serversMap).map(([name, raw]) => classifyEntry(file.host, name, raw, marks));

  function format(wanted: string | string[], previous: AST.TOMLContentNode | undefined): string {
    if (typeof wanted === 'string') return JSON.stringify(wanted);
    if (previous?.type !== 'TOMLArray') return formatStringArray(wanted, undefined, eol);
    const first = previous.elements[0];
    return formatStringArray(
      wanted,
      source.slice(previous.range[0], previous.range[1]),
      eol,
      first === undefined ? undefined : leadingIndent(source, first.range[0]),
      leadingIndent(source, previous.range[1] - 1),
    );
  }

  function remove(entry: EntryLayout, kv: KeyValue): Edit {
    if (!entry.inline) {
      const start = lineStart(source, kv.range[0]);
      const end = lineEnd(source, kv.range[1]);
      const next = source.indexOf('\n', end);
      return { offset: start, length: (next === -1 ? end : next + 1) - start, content: '' };
    }
    const index = entry.fields.indexOf(kv);
    const previous = entry.fields[index - 1];
    const next = entry.fields[index + 1];
    if (previous) return { offset: previous.range[1], length: kv.range[1] - previous.range[1], content: '' };
    return { offset: kv.range[0], length: (next ? next.range[0] : kv.range[1]) - kv.range[0], content: '' };
  }

  return {
    text,
    entries,
    value,
    region(name): Span | undefined {
      const found = layout(name);
      return typeof found === 'object' ? found.extent : undefined;
    },
    transport(name): Transport | undefined {
      const entry = valueAt(value, [...file.serversPath, name]);
      if (typeof entry !== 'object' || entry === null) return undefined;
      const { command, args } = entry as Record<string, unknown>;
      return { command: typeof command === 'string' ? command : undefined, args: Array.isArray(args) ? args.map(String) : undefined };
    },
    swap(name, target): Edit[] {
      const entry = layout(name);
      if (entry === 'dotted') throw new Error(`${file.path}: ${file.serversPath.join('.')}.${name} is written with dotted keys; rewire edits [${file.serversPath.join('.')}.${name}] tables and inline tables`);
      if (!entry) throw noEntryError(file, name);
      const edits: Edit[] = [];
      for (const key of ['command', 'args'] as const) {
        if (!(key in target)) continue;
        const wanted = target[key];
        const kv = field(entry, key);
        if (wanted === undefined) {
          if (kv) edits.push(remove(entry, kv));
          continue;
        }
        if (kv) {
          const current = valueAt(value, [...file.serversPath, name, key]);
          if (canonical(current) !== canonical(wanted)) edits.push({ offset: kv.value.range[0], length: kv.value.range[1] - kv.value.range[0], content: format(wanted, kv.value) });
          continue;
        }
        const text = `${key} = ${format(wanted, undefined)}`;
        const command = field(entry, 'command');
        if (entry.inline) {
          const anchor = key === 'args' && command ? command : entry.fields.at(-1);
          edits.push(anchor ? { offset: anchor.range[1], length: 0, content: `, ${text}` } : { offset: entry.region.offset + 1, length: 0, content: ` ${text} ` });
        } else {
          // A new line after `command` (or the table's last field), indented like it.
          const anchor = (key === 'args' ? command : undefined) ?? entry.fields.at(-1);
          if (anchor) edits.push({ offset: lineEnd(source, anchor.range[1]), length: 0, content: `${eol}${leadingIndent(source, anchor.range[0]) ?? ''}${text}` });
          else edits.push({ offset: entry.region.offset + entry.region.length, length: 0, content: `${eol}${text}` });
        }
      }
      return edits;
    },
    transportPath(name): TransportPath {
      return plainWhere(file.host, [...file.serversPath, name]);
    },
    fields(name) {
      const entry = valueAt(value, [...file.serversPath, name]);
      return typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? (entry as Record<string, unknown>) : undefined;
    },
    replaceFields(name, set, remove): Edit[] {
      const entry = layout(name);
      const where = `${file.serversPath.join('.')}.${name}`;
      if (entry === 'dotted') throw new Error(`${file.path}: ${where} is written with dotted keys; rewire edits [${where}] tables and inline tables`);
      if (!entry) throw noEntryError(file, name);
      const wanted = new Map(set);
      const first = (kv: KeyValue) => keyNames(kv.key)[0] as string;
      // A field written as a table or with dotted keys is removed whole, and written again inline when set.
      const goes = (key: string) => remove.includes(key) || wanted.has(key);
      const edits: Edit[] = [];
      const removed = new Set<number>();
      entry.body.forEach((kv, index) => {
        const key = first(kv);
        if (kv.key.keys.length === 1 && wanted.has(key)) {
          const current = valueAt(value, [...file.serversPath, name, key]);
          const next = wanted.get(key) as FieldValue;
          if (canonical(current) !== canonical(next)) edits.push({ offset: kv.value.range[0], length: kv.value.range[1] - kv.value.range[0], content: formatField(next, kv.value) });
        } else if (goes(key)) {
          removed.add(index);
        }
      });
      const subTables = entry.subTables.filter((sub) => goes(sub.key));
      const apart = subTables.find((sub) => !sub.inExtent);
      if (apart) {
        throw new Error(`${file.path}: [${apart.table.resolvedKey.join('.')}] is apart from [${where}]; move it right under that table and run again`);
      }
      const inserts = set.filter(([key]) => !entry.fields.some((kv) => first(kv) === key && !removed.has(entry.body.indexOf(kv))));
      const slot = entry.body.findIndex((_, index) => removed.has(index));
      if (entry.inline) {
        if (inserts.length > 0) {
          const text = inserts.map(([key, item]) => `${tomlKey(key)} = ${formatField(item, undefined)}`).join(', ');
          const anchor = entry.body[slot];
          const last = entry.body.at(-1);
          if (anchor) {
            removed.delete(slot);
            edits.push({ offset: anchor.range[0], length: anchor.range[1] - anchor.range[0], content: text });
          } else if (last) {
            edits.push({ offset: last.range[1], length: 0, content: `, ${text}` });
          } else {
            edits.push({ offset: entry.region.offset + 1, length: 0, content: ` ${text} ` });
          }
        }
        edits.push(...removeListItems(entry.body.map((kv) => ({ offset: kv.range[0], length: kv.range[1] - kv.range[0] })), removed));
        return edits;
      }
      if (inserts.length > 0) {
        const anchor = entry.body[slot];
        const indent = anchor ? (leadingIndent(source, anchor.range[0]) ?? '') : '';
        const lines = inserts.map(([key, item]) => `${indent}${tomlKey(key)} = ${formatField(item, undefined)}`);
        if (anchor) {
          // The slot's whole line(s), its comment too (it spoke of the field replaced).
          removed.delete(slot);
          const start = lineStart(source, anchor.range[0]);
          edits.push({ offset: start, length: lineEnd(source, anchor.range[1]) - start, content: lines.join(eol) });
        } else {
          const last = entry.body.at(-1);
          const at = last ? lineEnd(source, last.range[1]) : lineEnd(source, entry.region.offset);
          edits.push({ offset: at, length: 0, content: eol + lines.join(eol) });
        }
      }
      for (const index of removed) edits.push(removeLine(entry.body[index] as KeyValue));
      for (const { table } of subTables) {
        // The table's lines, and the blank line before it.
        let start = lineStart(source, table.range[0]);
        const previousLine = lineStart(source, start - 1);
        if (start > 0 && /^[ \t]*\r?\n$/.test(source.slice(previousLine, start))) start = previousLine;
        const end = lineEnd(source, table.range[1]);
        const next = source.indexOf('\n', end);
        edits.push({ offset: start, length: (next === -1 ? end : next + 1) - start, content: '' });
      }
      return edits;
    },
    setMapEntries(name, field, entries): Edit[] {
      const entry = layout(name);
      const where = `${file.serversPath.join('.')}.${name}`;
      if (entry === 'dotted') throw new Error(`${file.path}: ${where} is written with dotted keys; rewire edits [${where}] tables and inline tables`);
      if (!entry) throw noEntryError(file, name);
      const line = (key: string, value: string) => `${tomlKey(key)} = ${JSON.stringify(value)}`;
      const edits: Edit[] = [];
      /** Sets the keys among `kvs` (keyed by their part after `prefix`), and returns the entries still to add. */
      const update = (kvs: readonly KeyValue[], prefix: number): Array<readonly [string, string]> =>
        entries.filter(([key, value]) => {
          const kv = kvs.find((item) => item.key.keys.length === prefix + 1 && keyNames(item.key)[prefix] === key);
          if (!kv) return true;
          if (kv.value.type !== 'TOMLValue' || kv.value.value !== value) {
            edits.push({ offset: kv.value.range[0], length: kv.value.range[1] - kv.value.range[0], content: JSON.stringify(value) });
          }
          return false;
        });
      const sub = entry.subTables.find((item) => item.key === field && item.table.resolvedKey.length === file.serversPath.length + 2);
      const inline = entry.fields.find((kv) => keyNames(kv.key)[0] === field);
      const dotted = entry.body.filter((kv) => kv.key.keys.length === 2 && keyNames(kv.key)[0] === field);
      if (sub) {
        // [mcp_servers.NAME.env]: lines at its end.
        if (!sub.inExtent) throw new Error(`${file.path}: [${sub.table.resolvedKey.join('.')}] is apart from [${where}]; move it right under that table and run again`);
        const added = update(sub.table.body, 0);
        const last = sub.table.body.at(-1);
        const at = lineEnd(source, last ? last.range[1] : sub.table.range[0]);
        if (added.length > 0) edits.push({ offset: at, length: 0, content: added.map(([key, value]) => `${eol}${last ? (leadingIndent(source, last.range[0]) ?? '') : ''}${line(key, value)}`).join('') });
      } else if (inline && inline.value.type === 'TOMLInlineTable') {
        // env = { A = "1" }: `, K = "v"` after its last key.
        const table = inline.value;
        const added = update(table.body, 0);
        const last = table.body.at(-1);
        if (added.length > 0) {
          const text = added.map(([key, value]) => line(key, value)).join(', ');
          edits.push(last ? { offset: last.range[1], length: 0, content: `, ${text}` } : { offset: table.range[0], length: table.range[1] - table.range[0], content: `{ ${text} }` });
        }
      } else if (inline) {
        throw new Error(`${file.path}: ${where}.${field} is not a table; make it one and run again`);
      } else if (dotted.length > 0) {
        // env.A = "1": lines after the last one.
        const added = update(dotted, 1);
        const last = dotted.at(-1) as KeyValue;
        if (added.length > 0) {
          const separator = entry.inline ? ', ' : `${eol}${leadingIndent(source, last.range[0]) ?? ''}`;
          edits.push({ offset: entry.inline ? last.range[1] : lineEnd(source, last.range[1]), length: 0, content: added.map(([key, value]) => `${separator}${tomlKey(field)}.${line(key, value)}`).join('') });
        }
      } else {
        // No map yet: `env = { K = "v" }` after the entry's last field.
        const text = `${tomlKey(field)} = { ${entries.map(([key, value]) => line(key, value)).join(', ')} }`;
        const last = entry.body.at(-1);
        if (entry.inline) edits.push(last ? { offset: last.range[1], length: 0, content: `, ${text}` } : { offset: entry.region.offset + 1, length: 0, content: ` ${text} ` });
        else edits.push({ offset: lineEnd(source, last ? last.range[1] : entry.region.offset), length: 0, content: `${eol}${last ? (leadingIndent(source, last.range[0]) ?? '') : ''}${text}` });
      }
      return edits;
    },
  };

  /** A field's value as TOML: strings and lists as before, maps as an inline table. */
  function formatField(wanted: FieldValue, previous: AST.TOMLContentNode | undefined): string {
    if (typeof wanted === 'string' || (Array.isArray(wanted) && wanted.every((item) => typeof item === 'string'))) return format(wanted as string | string[], previous);
    return tomlValue(wanted);
  }

  /** Removes a key-value of a standard table: its whole line(s). */
  function removeLine(kv: KeyValue): Edit {
    const start = lineStart(source, kv.range[0]);
    const end = lineEnd(source, kv.range[1]);
    const next = source.indexOf('\n', end);
    return { offset: start, length: (next === -1 ? end : next + 1) - start, content: '' };
  }
}

/** Plain data as an inline TOML value. Throws `Error` for what TOML cannot hold (null). */
function tomlValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  if (value && typeof value === 'object') {
    const items = Object.entries(value).map(([key, item]) => `${tomlKey(key)} = ${tomlValue(item)}`);
    return items.length === 0 ? '{}' : `{ ${items.join(', ')} }`;
  }
  throw new Error(`cannot write ${String(value)} in TOML`);
}

/** A TOML key: bare when it can be, else quoted. */
function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}
