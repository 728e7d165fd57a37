/**
 * YAML host files (Continue, Goose), read with the `yaml` package's Document
 * API, which keeps the source range of every node. Edits are splices of the
 * entry's own lines, the way the TOML editor works: values are replaced
 * where they are, pairs come and go as whole lines, and nothing else in the
 * file is written again, so comments, order and indentation stay.
 *
 * Continue's servers are a list whose items carry their `name`: the document
 * keys them by it (`value` holds the list as a map by name), so every entry
 * is addressed as in a map.
 */
import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, parse, parseDocument } from 'yaml';
import { isJsonObject } from '@muxd/protocol';
import type { Node as YamlNode, Pair, YAMLMap } from 'yaml';
import { canonical, leadingIndent, lineEnd, lineEnding, lineStart, maskBom, noEntryError, plainWhere, valueAt } from './hostDocument.js';
import type { Edit, FieldValue, HostDocument, Span, Transport, TransportPath } from './hostDocument.js';
import type { HostFile } from './hostRegistry.js';
import { EntryKind, classifyEntry } from './serverEntry.js';
import type { HostEntry, MuxdMarks } from './serverEntry.js';

type YamlPair = Pair<unknown, unknown>;

/** One entry of the servers map or list: its node, and where its text starts (its key, or its first field after `- `). */
interface EntryNode {
  key: string;
  node: unknown;
  start: number;
  /** Why a list item has no usable name (it is then keyed by its position). */
  problem?: string;
}


function rangeOf(node: unknown): [number, number, number] | undefined {
  return isAlias(node) || isScalar(node) || isCollection(node) ? (node as YamlNode).range ?? undefined : undefined;
}

/** Parses a YAML host file. Throws `Error` with the line of a syntax error. */
export function parseYamlHostDocument(file: Pick<HostFile, 'path' | 'serversPath' | 'host'>, text: string, marks?: MuxdMarks): HostDocument {
  const source = maskBom(text);
  const doc = parseDocument(source, { keepSourceTokens: true });
  const first = doc.errors[0];
  if (first) throw new Error(`${file.path}: cannot parse: ${first.message.split('\n')[0]}`);
  if (doc.contents !== null && !isMap(doc.contents)) throw new Error(`${file.path}: expected a YAML mapping at the top`);
  const eol = lineEnding(text);
  const listedBy = file.host.listedBy;
  const raw: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const value: Record<string, unknown> = isJsonObject(raw) ? raw : {};

  /** The end of a node's own text: a block collection's range runs on over its trailing comments and line break. */
  function contentEnd(node: unknown): number {
    if (isCollection(node) && !node.flow) {
      const last = node.items.at(-1);
      if (last !== undefined) return isPair(last) ? (last.value === null || last.value === undefined ? contentEnd(last.key) + 1 : contentEnd(last.value)) : contentEnd(last);
    }
    const range = rangeOf(node);
    if (!range) throw new Error(`${file.path}: cannot locate a value`);
    let end = range[1];
    while (end > range[0] && (source[end - 1] === '\n' || source[end - 1] === '\r')) end--;
    return end;
  }

  const serversNode = doc.getIn(file.serversPath, true);
  const entryNodes: EntryNode[] | undefined = (() => {
    if (listedBy !== undefined) {
      if (!isSeq(serversNode)) return undefined;
      const seen = new Set<string>();
      const names = serversNode.items.map((item) => (isMap(item) ? item.get(listedBy) : undefined));
      return serversNode.items.map((item, index) => {
        const name = names[index];
        const start = rangeOf(item)?.[0] ?? 0;
        const duplicate = typeof name === 'string' && names.indexOf(name) !== index;
        if (typeof name !== 'string' || name === '' || duplicate || seen.has(name)) {
          const problem = typeof name !== 'string' || name === '' ? `no ${listedBy}` : `a second entry named ${JSON.stringify(name)}`;
          return { key: `#${index + 1}`, node: item, start, problem };
        }
        seen.add(name);
        return { key: name, node: item, start };
      });
    }
    if (!isMap(serversNode)) return undefined;
    return serversNode.items.map((pair) => ({ key: String(isScalar(pair.key) ? pair.key.value : pair.key), node: pair.value, start: rangeOf(pair.key)?.[0] ?? 0 }));
  })();

  // A list becomes a map by name, so that checks and lookups address entries by name.
  if (listedBy !== undefined && entryNodes) {
    const list = valueAt(value, file.serversPath);
    if (Array.isArray(list)) {
      const holder = valueAt(value, file.serversPath.slice(0, -1)) as Record<string, unknown>;
      holder[file.serversPath.at(-1) as string] = Object.fromEntries(entryNodes.map((entry, index) => [entry.key, list[index]]));
    }
  }

  const entries: HostEntry[] | undefined = entryNodes?.map((entry) => {
    const fields = valueAt(value, [...file.serversPath, entry.key]);
    if (entry.problem !== undefined) return { name: entry.key, kind: EntryKind.Invalid, detail: entry.problem, hostOnly: [] };
    return classifyEntry(file.host, entry.key, fields, marks);
  });

  const find = (name: string): EntryNode | undefined => entryNodes?.filter((entry) => entry.key === name && entry.problem === undefined).at(-1);

  const where = (name: string): TransportPath => plainWhere(file.host, [...file.serversPath, name]);

  /** The entry's block mapping, checked to be editable in place. */
  function editable(name: string): { entry: EntryNode; map: YAMLMap<unknown, unknown> } {
    const entry = find(name);
    const label = `${file.serversPath.join('.')}.${name}`;
    if (!entry) throw noEntryError(file, name);
    if (!isMap(entry.node)) throw new Error(`${file.path}: ${label} is not a mapping`);
    if (entry.node.flow) throw new Error(`${file.path}: ${label} is written in flow style ({...}); rewire edits block mappings: write it one field a line and run again`);
    let shared = entry.node.anchor !== undefined;
    const walk = (node: unknown): void => {
      if (isAlias(node) || (isScalar(node) && node.anchor !== undefined)) shared = true;
      if (isPair(node)) {
        if (isScalar(node.key) && node.key.value === '<<') shared = true;
        walk(node.key);
        walk(node.value);
      } else if (isCollection(node)) {
        if (node.anchor !== undefined) shared = true;
        for (const item of node.items) walk(item);
      }
    };
    for (const item of entry.node.items) walk(item);
    if (shared) throw new Error(`${file.path}: ${label} uses YAML anchors, aliases or merge keys; rewire edits plain entries: write it out and run again`);
    return { entry, map: entry.node };
  }

  const keyOf = (pair: YamlPair): string => String(isScalar(pair.key) ? pair.key.value : pair.key);
  const pairOf = (map: YAMLMap<unknown, unknown>, key: string): YamlPair | undefined => map.items.filter((pair) => keyOf(pair) === key).at(-1);
  const keyStart = (pair: YamlPair): number => rangeOf(pair.key)?.[0] ?? 0;
  const pairEnd = (pair: YamlPair): number => (pair.value === null || pair.value === undefined ? contentEnd(pair.key) + 1 : contentEnd(pair.value));
  /** The spaces a field of `map` is indented by (its column: a list item's first field follows `- `). */
  const indentOf = (map: YAMLMap<unknown, unknown>): string => {
    const first = map.items[0];
    const at = first ? keyStart(first) : 0;
    return ' '.repeat(at - lineStart(source, at));
  };
  /** One more level of indentation: as the file nests the entry under its key, else two spaces. */
  const unitOf = (entry: EntryNode, indent: string): string => {
    const outer = entry.start - lineStart(source, entry.start);
    return listedBy === undefined && indent.length > outer ? ' '.repeat(indent.length - outer) : '  ';
  };

  /** A field as YAML text after its key: `: value`, or a block mapping on the lines below. */
  function afterKey(value: unknown, indent: string, unit: string): string {
    if (isJsonObject(value) && Object.keys(value).length > 0) {
      return `:${Object.entries(value)
        .map(([key, item]) => `${eol}${indent}${unit}${yamlString(key)}: ${flowValue(item)}`)
        .join('')}`;
    }
    return `: ${flowValue(value)}`;
  }

  /** The edit replacing a pair's value, shaped like the one it replaces (a block list stays one). */
  function replaceValue(pair: YamlPair, wanted: unknown, indent: string, unit: string): Edit {
    const node = pair.value;
    const range = rangeOf(node);
    const keyEnd = rangeOf(pair.key)?.[1] ?? 0;
    const end = pairEnd(pair);
    if (node === null || node === undefined || !range) return { offset: keyEnd, length: end - keyEnd, content: afterKey(wanted, indent, unit) };
    const block = isCollection(node) && !node.flow;
    if (block && isSeq(node) && Array.isArray(wanted) && wanted.length > 0) {
      // The range starts at the first item's dash.
      const itemIndent = leadingIndent(source, range[0]) ?? indent;
      return { offset: range[0], length: end - range[0], content: wanted.map((item) => `- ${flowValue(item)}`).join(`${eol}${itemIndent}`) };
    }
    if (block || (isJsonObject(wanted) && Object.keys(wanted).length > 0)) {
      // A block value becomes a flow one, or a map comes in: the text after the key is written again.
      return { offset: keyEnd, length: end - keyEnd, content: afterKey(wanted, indent, unit) };
    }
    const content = flowValue(wanted);
    return { offset: range[0], length: end - range[0], content: source[range[0] - 1] === ':' ? ` ${content}` : content };
  }

  /** The edit removing a pair: its lines, from the line break before it; a list item's first field gives its place to the next. */
  function removePair(map: YAMLMap<unknown, unknown>, pair: YamlPair, removed: ReadonlySet<YamlPair>): Edit {
    const start = keyStart(pair);
    const end = lineEnd(source, pairEnd(pair));
    const lineAt = lineStart(source, start);
    if (/^[ \t]*$/.test(source.slice(lineAt, start)) && lineAt > 0) {
      const from = lineAt - (source[lineAt - 2] === '\r' ? 2 : 1);
      return { offset: from, length: end - from, content: '' };
    }
    const next = map.items[map.items.indexOf(pair) + 1];
    if (!next || removed.has(next)) throw new Error(`${file.path}: cannot remove ${keyOf(pair)} from the line it shares with ${source.slice(lineAt, start).trim()}: give it a line of its own and run again`);
    return { offset: start, length: keyStart(next) - start, content: '' };
  }

  /** An edit adding lines of fields right after `pair`, or before it when `before` and it starts its line. */
  function insertAt(pair: YamlPair, lines: readonly string[], indent: string, before: boolean): Edit {
    const start = keyStart(pair);
    if (before && /^[ \t]*$/.test(source.slice(lineStart(source, start), start))) {
      const at = lineStart(source, start);
      return { offset: at, length: 0, content: lines.map((line) => `${indent}${line}${eol}`).join('') };
    }
    return { offset: lineEnd(source, pairEnd(pair)), length: 0, content: lines.map((line) => `${eol}${indent}${line}`).join('') };
  }

  const fieldsOf = (name: string): Record<string, unknown> | undefined => {
    if (!find(name)) return undefined;
    const fields = valueAt(value, [...file.serversPath, name]);
    return isJsonObject(fields) ? fields : undefined;
  };

  return {
    text,
    entries,
    value,
    region(name): Span | undefined {
      const entry = find(name);
      if (!entry || entry.node === null || entry.node === undefined) return undefined;
      const end = lineEnd(source, contentEnd(entry.node));
      return { offset: entry.start, length: end - entry.start };
    },
    transport(name): Transport | undefined {
      const fields = fieldsOf(name);
      if (!fields) return undefined;
      const { names, joined } = where(name);
      const type = typeof fields[names.type] === 'string' ? (fields[names.type] as string) : undefined;
      const command = fields[names.command];
      if (joined) {
        const [program, ...args] = Array.isArray(command) ? (command as unknown[]) : [];
        return { command: typeof program === 'string' ? program : undefined, args: Array.isArray(command) ? args.map(String) : undefined, type };
      }
      const args = fields[names.args];
      return { command: typeof command === 'string' ? command : undefined, args: Array.isArray(args) ? args.map(String) : undefined, type };
    },
    swap(name, target): Edit[] {
      const { entry, map } = editable(name);
      const { names } = where(name);
      const indent = indentOf(map);
      const unit = unitOf(entry, indent);
      const current = fieldsOf(name) ?? {};
      const edits: Edit[] = [];
      const inserts: Array<{ key: 'command' | 'args' | 'type'; line: string }> = [];
      for (const key of ['command', 'args', 'type'] as const) {
        if (!(key in target)) continue;
        const wanted = target[key];
        const pair = pairOf(map, names[key]);
        if (wanted === undefined) {
          if (pair) edits.push(removePair(map, pair, new Set()));
        } else if (pair) {
          if (canonical(current[names[key]]) !== canonical(wanted)) edits.push(replaceValue(pair, wanted, indent, unit));
        } else {
          inserts.push({ key, line: `${yamlString(names[key])}${afterKey(wanted, indent, unit)}` });
        }
      }
      const command = pairOf(map, names.command);
      const last = map.items.at(-1);
      for (const insert of inserts) {
        // `type` goes before the command where it can; `args` right after it.
        const anchor = insert.key === 'type' ? (command ?? last) : insert.key === 'args' ? (command ?? last) : last;
        if (!anchor) throw new Error(`${file.path}: ${name} has no fields to edit`);
        edits.push(insertAt(anchor, [insert.line], indent, insert.key === 'type' && anchor === command));
      }
      return edits;
    },
    transportPath: where,
    fields: fieldsOf,
    replaceFields(name, set, remove): Edit[] {
      const { entry, map } = editable(name);
      const indent = indentOf(map);
      const unit = unitOf(entry, indent);
      const current = fieldsOf(name) ?? {};
      for (const key of new Set([...set.map(([key]) => key), ...remove])) {
        if (map.items.filter((pair) => keyOf(pair) === key).length > 1) throw new Error(`${file.path}: ${name} has ${JSON.stringify(key)} twice; keep one and run again`);
      }
      const wanted = new Map(set);
      const edits: Edit[] = [];
      const removed = new Set<YamlPair>();
      for (const pair of map.items) {
        const key = keyOf(pair);
        if (wanted.has(key)) {
          if (canonical(current[key]) !== canonical(wanted.get(key))) edits.push(replaceValue(pair, wanted.get(key), indent, unit));
        } else if (remove.includes(key)) {
          removed.add(pair);
        }
      }
      const inserts = set.filter(([key]) => !map.items.some((pair) => keyOf(pair) === key));
      const lines = inserts.map(([key, item]) => `${yamlString(key)}${afterKey(item, indent, unit)}`);
      const slot = map.items.find((pair) => removed.has(pair));
      if (lines.length > 0) {
        if (slot && /^[ \t]*$/.test(source.slice(lineStart(source, keyStart(slot)), keyStart(slot)))) {
          // The new fields take the place of the first removed one (`cmd` -> `uri`).
          removed.delete(slot);
          const start = keyStart(slot);
          edits.push({ offset: start, length: lineEnd(source, pairEnd(slot)) - start, content: lines.join(`${eol}${indent}`) });
        } else {
          const last = map.items.at(-1);
          if (!last) throw new Error(`${file.path}: ${name} has no fields to edit`);
          edits.push(insertAt(last, lines, indent, false));
        }
      }
      for (const pair of removed) edits.push(removePair(map, pair, removed));
      return edits;
    },
    setMapEntries(name, field, entries): Edit[] {
      const { entry, map } = editable(name);
      const indent = indentOf(map);
      const unit = unitOf(entry, indent);
      const pair = pairOf(map, field);
      const wanted = Object.fromEntries(entries);
      if (!pair) {
        // No map yet: a block mapping after the entry's last field.
        const last = map.items.at(-1);
        if (!last) throw new Error(`${file.path}: ${name} has no fields to edit`);
        return [insertAt(last, [`${yamlString(field)}${afterKey(wanted, indent, unit)}`], indent, false)];
      }
      const inner = pair.value;
      if (isMap(inner) && !inner.flow && inner.items.length > 0) {
        // A block mapping: values replaced where they are, new keys on lines after its last one.
        const edits: Edit[] = [];
        const added: string[] = [];
        for (const [key, value] of entries) {
          const existing = pairOf(inner, key);
          if (!existing) added.push(`${yamlString(key)}: ${flowValue(value)}`);
          else if (canonical((inner.toJSON() as Record<string, unknown>)[key]) !== canonical(value)) edits.push(replaceValue(existing, value, indentOf(inner), unit));
        }
        if (added.length > 0) edits.push(insertAt(inner.items.at(-1) as YamlPair, added, indentOf(inner), false));
        return edits;
      }
      if (inner !== null && inner !== undefined && !isMap(inner)) throw new Error(`${file.path}: ${name}.${field} is not a mapping; make it one and run again`);
      // Empty (`envs:`, `envs: {}`) or flow style: written again as a block mapping.
      const current = isMap(inner) ? (inner.toJSON() as Record<string, unknown>) : {};
      return [replaceValue(pair, { ...current, ...wanted }, indent, unit)];
    },
  };
}

/** A string as a YAML scalar: plain when it reads back as the same string in block and flow context, else double-quoted. */
export function yamlString(value: string): string {
  if (/^[A-Za-z0-9_./~-][A-Za-z0-9_./~@%+=:-]*$/.test(value)) {
    try {
      const block = parse(`- ${value}`) as unknown;
      const flow = parse(`[${value}]`) as unknown;
      if (Array.isArray(block) && block[0] === value && Array.isArray(flow) && flow[0] === value) return value;
    } catch {
      // Quoted below.
    }
  }
  return JSON.stringify(value);
}

/** Plain data as YAML flow text. */
function flowValue(value: unknown): string {
  if (typeof value === 'string') return yamlString(value);
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(flowValue).join(', ')}]`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    const items = Object.entries(value).map(([key, item]) => `${yamlString(key)}: ${flowValue(item)}`);
    return items.length === 0 ? '{}' : `{ ${items.join(', ')} }`;
  }
  return String(value);
}
