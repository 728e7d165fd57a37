/**
 * Codex's config.toml. There is no well-kept TOML editor that edits a value
 * in place and tells where it is, so entries are located with
 * toml-eslint-parser (a full TOML AST with the range of every key, value and
 * table) and only the `command`/`args` values are spliced; smol-toml, the
 * parser @muxd/config uses, reads the values and re-checks the result.
 */
import { parse as parseToml } from 'smol-toml';
import { parseTOML } from 'toml-eslint-parser';
import type { AST } from 'toml-eslint-parser';
import { PLAIN_FIELDS, canonical, formatStringArray, leadingIndent, lineEnd, lineEnding, lineStart, valueAt } from './hostDocument.js';
import type { Edit, HostDocument, Span, Transport, TransportPath } from './hostDocument.js';
import type { HostFile } from './hostRegistry.js';
import { classifyEntry } from './serverEntry.js';
import type { HostEntry } from './serverEntry.js';

type KeyValue = AST.TOMLKeyValue;

function keyNames(key: AST.TOMLKey): string[] {
  return key.keys.map((part) => (part.type === 'TOMLBare' ? part.name : part.value));
}

function samePath(a: readonly (string | number)[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((part, index) => part === b[index]);
}

/** Where one entry is written: a `[mcp_servers.NAME]` table, or an inline table `NAME = { ... }`. */
interface EntryLayout {
  region: Span;
  /** The key-values that are the entry's own fields. */
  fields: KeyValue[];
  inline: boolean;
}

/** Parses a TOML host file. Throws `Error` with the line of a syntax error. */
export function parseTomlHostDocument(file: Pick<HostFile, 'path' | 'serversPath' | 'host'>, text: string, proxyCommand?: string): HostDocument {
  // A BOM becomes a space of the same length: offsets stay those of `text`.
  const source = text.charCodeAt(0) === 0xfeff ? ' ' + text.slice(1) : text;
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
    for (const item of top.body) {
      if (item.type === 'TOMLTable') {
        if (item.kind === 'standard' && samePath(item.resolvedKey, path)) {
          // To the end of the last line: a comment there belongs to the entry.
          const end = lineEnd(source, item.range[1]);
          return { region: { offset: item.range[0], length: end - item.range[0] }, fields: item.body.filter((kv) => kv.key.keys.length === 1), inline: false };
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
    return { region: { offset: table.range[0], length: table.range[1] - table.range[0] }, fields: table.body.filter((kv) => kv.key.keys.length === 1), inline: true };
  }

  const field = (entry: EntryLayout, key: string): KeyValue | undefined => entry.fields.find((kv) => keyNames(kv.key)[0] === key);

  const entries: HostEntry[] | undefined =
    serversMap && Object.entries(serversMap).map(([name, raw]) => classifyEntry(file.host, name, raw, proxyCommand));

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
      return typeof found === 'object' ? found.region : undefined;
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
      if (!entry) throw new Error(`${file.path}: no entry ${JSON.stringify(name)} in ${file.serversPath.join('.')}`);
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
      return { path: [...file.serversPath, name], names: { ...PLAIN_FIELDS } };
    },
  };
}
