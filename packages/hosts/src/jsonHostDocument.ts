/**
 * JSON and JSONC host files (every host but Codex), read and edited with
 * Microsoft's jsonc-parser: its syntax tree gives the offset of every node,
 * and edits are splices of just the transport values.
 */
import { findNodeAtLocation, getNodeValue, modify, parseTree, printParseErrorCode } from 'jsonc-parser';
import type { Node, ParseError } from 'jsonc-parser';
import { canonical, formatStringArray, leadingIndent, lineEnd, lineEnding, maskBom, noEntryError, plainWhere, removeListItems } from './hostDocument.js';
import type { Edit, FieldValue, HostDocument, Span, Transport, TransportPath } from './hostDocument.js';
import type { HostFile } from './hostRegistry.js';
import { classifyEntry } from './serverEntry.js';
import type { HostEntry, MuxdMarks } from './serverEntry.js';

const TRIVIA_TO_LINE_END = /^[ \t]*(?:\/\/.*|\/\*.*?\*\/[ \t]*)?$/;

/** One line, 1-based, of `offset` in `text`. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let index = 0; index < offset; index++) if (text.charCodeAt(index) === 10) line++;
  return line;
}

/**
 * Parses a JSON/JSONC host file (comments and trailing commas allowed, a BOM
 * kept). Throws `Error` naming the line of a syntax error.
 */
export function parseJsonHostDocument(file: Pick<HostFile, 'path' | 'serversPath' | 'host'>, text: string, marks?: MuxdMarks): HostDocument {
  const source = maskBom(text);
  const errors: ParseError[] = [];
  const root = parseTree(source, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: true });
  const first = errors[0];
  if (first) throw new Error(`${file.path}: cannot parse: ${printParseErrorCode(first.error)} at line ${lineOf(source, first.offset)}`);
  if (root !== undefined && root.type !== 'object') throw new Error(`${file.path}: expected a JSON object at the top`);
  const value: unknown = root === undefined ? {} : getNodeValue(root);
  const eol = lineEnding(text);
  const serversNode = root === undefined ? undefined : findNodeAtLocation(root, file.serversPath);
  const servers = serversNode?.type === 'object' ? serversNode : undefined;

  const entryNode = (name: string): Node | undefined => {
    // The last of duplicate keys is the one JSON parsers keep.
    const property = servers?.children?.filter((child) => child.children?.[0]?.value === name).at(-1);
    return property?.children?.[1];
  };

  const holder = (name: string): { node: Node; where: TransportPath } | undefined => {
    const node = entryNode(name);
    if (node?.type !== 'object') return undefined;
    const path = [...file.serversPath, name];
    const command = property(node, 'command')?.children?.[1];
    if (file.host.zed && command?.type === 'object') {
      return { node: command, where: { path: [...path, 'command'], names: { command: 'path', args: 'args', type: 'type' } } };
    }
    return { node, where: plainWhere(file.host, path) };
  };

  const entries: HostEntry[] | undefined = servers?.children?.map((child) => {
    const name = String(child.children?.[0]?.value);
    const raw = child.children?.[1] === undefined ? undefined : getNodeValue(child.children[1]);
    return classifyEntry(file.host, name, raw, marks);
  });

  function format(value: string | string[], previous: Node | undefined): string {
    if (typeof value === 'string') return JSON.stringify(value);
    if (previous?.type !== 'array') return formatStringArray(value, undefined, eol);
    const previousText = source.slice(previous.offset, previous.offset + previous.length);
    const firstItem = previous.children?.[0];
    const elementIndent = firstItem === undefined ? undefined : leadingIndent(source, firstItem.offset);
    const closeIndent = leadingIndent(source, previous.offset + previous.length - 1);
    return formatStringArray(value, previousText, eol, elementIndent, closeIndent);
  }

  return {
    text,
    entries,
    value,
    region(name): Span | undefined {
      const node = entryNode(name);
      return node && { offset: node.offset, length: node.length };
    },
    transport(name): Transport | undefined {
      const found = holder(name);
      if (!found) return undefined;
      const read = (key: string): unknown => {
        const node = property(found.node, key)?.children?.[1];
        return node === undefined ? undefined : getNodeValue(node);
      };
      const type = read(found.where.names.type);
      if (found.where.joined) {
        const list = read(found.where.names.command);
        const [program, ...args] = Array.isArray(list) ? (list as unknown[]) : [];
        return { command: typeof program === 'string' ? program : undefined, args: Array.isArray(list) ? args.map(String) : undefined, type: typeof type === 'string' ? type : undefined };
      }
      const command = read(found.where.names.command);
      const args = read(found.where.names.args);
      return {
        command: typeof command === 'string' ? command : undefined,
        args: Array.isArray(args) ? args.map(String) : undefined,
        type: typeof type === 'string' ? type : undefined,
      };
    },
    swap(name, target): Edit[] {
      const found = holder(name);
      if (!found) throw noEntryError(file, name);
      const { node, where } = found;
      const edits: Edit[] = [];
      const inserts: Array<{ key: 'command' | 'args' | 'type'; text: string }> = [];
      const wantedFields: Array<readonly ['command' | 'args' | 'type', string | string[] | undefined]> = [];
      if (where.joined) {
        // One list: the program, then its arguments.
        if ('command' in target) wantedFields.push(['command', target.command === undefined ? undefined : [target.command, ...(target.args ?? [])]]);
        if ('type' in target) wantedFields.push(['type', target.type]);
      } else {
        for (const key of ['command', 'args', 'type'] as const) if (key in target) wantedFields.push([key, target[key]]);
      }
      for (const [key, wanted] of wantedFields) {
        const existing = property(node, where.names[key]);
        const valueNode = existing?.children?.[1];
        if (wanted === undefined) {
          if (existing) edits.push(...modify(source, [...where.path, where.names[key]], undefined, {}));
          continue;
        }
        if (valueNode) {
          if (canonical(getNodeValue(valueNode)) !== canonical(wanted)) {
            edits.push({ offset: valueNode.offset, length: valueNode.length, content: format(wanted, valueNode) });
          }
          continue;
        }
        inserts.push({ key, text: `${JSON.stringify(where.names[key])}: ${format(wanted, undefined)}` });
      }
      const properties = node.children ?? [];
      const commandProperty = property(node, where.names.command);
      for (const insert of inserts) {
        // `type` goes before `command` (where hosts write it); `args` right after `command`.
        const anchor = commandProperty ?? properties[0];
        if (anchor === undefined) {
          // An empty object: `{}` becomes `{"key": value}`.
          edits.push({ offset: node.offset + 1, length: 0, content: insert.text });
        } else if (insert.key === 'args' && anchor === commandProperty) {
          const next = properties[properties.indexOf(anchor) + 1];
          edits.push(...(next ? [insertBefore(source, eol, next, insert.text)] : insertAfterLast(source, eol, anchor, insert.text)));
        } else {
          edits.push(insertBefore(source, eol, anchor, insert.text));
        }
      }
      return edits;
    },
    transportPath(name): TransportPath {
      return holder(name)?.where ?? plainWhere(file.host, [...file.serversPath, name]);
    },
    fields(name) {
      const node = entryNode(name);
      return node?.type === 'object' ? (getNodeValue(node) as Record<string, unknown>) : undefined;
    },
    replaceFields(name, set, remove): Edit[] {
      const node = entryNode(name);
      if (node?.type !== 'object') throw noEntryError(file, name);
      const properties = node.children ?? [];
      const keyOf = (item: Node) => String(item.children?.[0]?.value);
      for (const key of new Set([...set.map(([key]) => key), ...remove])) {
        if (properties.filter((item) => keyOf(item) === key).length > 1) throw new Error(`${file.path}: ${name} has ${JSON.stringify(key)} twice; keep one and run again`);
      }
      // A map value is written over lines when its property starts a line inside an indented entry.
      const closeIndent = leadingIndent(source, node.offset + node.length - 1);
      const formatValue = (value: FieldValue, indent: string | undefined): string => {
        if (typeof value === 'string') return JSON.stringify(value);
        if (isStringList(value)) return formatStringArray(value, undefined, eol);
        const items = Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}: ${JSON.stringify(item)}`);
        const unit = indent !== undefined && closeIndent !== undefined && indent.length > closeIndent.length && indent.startsWith(closeIndent) ? indent.slice(closeIndent.length) : undefined;
        if (indent === undefined || unit === undefined || items.length === 0) return `{${items.join(', ')}}`;
        return `{${eol}${items.map((item) => indent + unit + item).join(`,${eol}`)}${eol}${indent}}`;
      };
      const wanted = new Map(set);
      const edits: Edit[] = [];
      const removed = new Set<number>();
      properties.forEach((item, index) => {
        const key = keyOf(item);
        const valueNode = item.children?.[1];
        if (wanted.has(key)) {
          const value = wanted.get(key) as FieldValue;
          if (valueNode && canonical(getNodeValue(valueNode)) !== canonical(value)) {
            edits.push({ offset: valueNode.offset, length: valueNode.length, content: formatValue(value, leadingIndent(source, item.offset)) });
          }
        } else if (remove.includes(key)) {
          removed.add(index);
        }
      });
      const inserts = set.filter(([key]) => !properties.some((item) => keyOf(item) === key));
      if (inserts.length > 0) {
        // The new fields take the place of the first removed one (`command` -> `url`), else go first.
        const slot = properties.findIndex((_, index) => removed.has(index));
        const anchor = properties[slot === -1 ? 0 : slot];
        const indent = anchor === undefined ? undefined : leadingIndent(source, anchor.offset);
        const text = inserts.map(([key, value]) => `${JSON.stringify(key)}: ${formatValue(value, indent)}`).join(indent === undefined ? ', ' : `,${eol}${indent}`);
        if (anchor === undefined) {
          edits.push({ offset: node.offset + 1, length: 0, content: text });
        } else if (slot === -1) {
          edits.push(insertBefore(source, eol, anchor, text));
        } else {
          removed.delete(slot);
          edits.push({ offset: anchor.offset, length: anchor.length, content: text });
        }
      }
      edits.push(...removeListItems(properties, removed));
      return edits;
    },
    setMapEntries(name, field, entries): Edit[] {
      const found = holder(name);
      if (!found) throw noEntryError(file, name);
      const { node, where } = found;
      const pair = ([key, value]: readonly [string, string]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`;
      const mapProperty = property(node, field);
      if (mapProperty) {
        const map = mapProperty.children?.[1];
        if (map?.type !== 'object') throw new Error(`${file.path}: ${name}.${field} is not an object; make it one and run again`);
        const edits: Edit[] = [];
        const added: string[] = [];
        for (const entry of entries) {
          const existing = property(map, entry[0])?.children?.[1];
          if (!existing) added.push(pair(entry));
          else if (getNodeValue(existing) !== entry[1]) edits.push({ offset: existing.offset, length: existing.length, content: JSON.stringify(entry[1]) });
        }
        const last = map.children?.at(-1);
        if (added.length > 0 && !last) edits.push({ offset: map.offset + 1, length: 0, content: added.join(', ') });
        else if (added.length > 0 && last) {
          const indent = leadingIndent(source, last.offset);
          edits.push(...insertAfterLast(source, eol, last, added.join(indent === undefined ? ', ' : `,${eol}${indent}`)));
        }
        return edits;
      }
      // A new map after the arguments, or after the command when `swap` adds them (before the command when it is last: the
      // arguments' edits are there), so that the two never touch the same text.
      const text = `${JSON.stringify(field)}: {${entries.map(pair).join(', ')}}`;
      const properties = node.children ?? [];
      const command = property(node, where.names.command);
      const after = property(node, where.names.args) ?? command;
      const next = after === undefined ? undefined : properties[properties.indexOf(after) + 1];
      if (next) return [insertBefore(source, eol, next, text)];
      if (after && after !== command) return insertAfterLast(source, eol, after, text);
      const anchor = command ?? properties[0];
      return anchor ? [insertBefore(source, eol, anchor, text)] : [{ offset: node.offset + 1, length: 0, content: text }];
    },
  };
}

function isStringList(value: FieldValue): value is readonly string[] {
  return Array.isArray(value);
}

/** Edit adding the property `text` right before `anchor`: on its own line when the anchor starts one. */
export function insertBefore(source: string, eol: string, anchor: Node, text: string): Edit {
  const indent = leadingIndent(source, anchor.offset);
  if (indent !== undefined) return { offset: anchor.offset - indent.length, length: 0, content: `${indent}${text},${eol}` };
  return { offset: anchor.offset, length: 0, content: `${text}, ` };
}

/** Edits adding the property `text` right after `anchor`, the last property of its object (commas and trailing commas kept right). */
export function insertAfterLast(source: string, eol: string, anchor: Node, text: string): Edit[] {
  const end = anchor.offset + anchor.length;
  const indent = leadingIndent(source, anchor.offset);
  const restOfLine = source.slice(end, lineEnd(source, end));
  const comma = /^\s*,/.exec(source.slice(end));
  if (comma) {
    // A trailing comma (JSONC): keep the style, the new property gets one too.
    const commaAt = end + comma[0].length - 1;
    const after = source.slice(commaAt + 1, lineEnd(source, commaAt + 1));
    if (indent !== undefined && !comma[0].includes('\n') && TRIVIA_TO_LINE_END.test(after)) {
      return [{ offset: lineEnd(source, commaAt), length: 0, content: `${eol}${indent}${text},` }];
    }
    return [{ offset: commaAt + 1, length: 0, content: ` ${text},` }];
  }
  if (indent !== undefined && TRIVIA_TO_LINE_END.test(restOfLine)) {
    const lineEndAt = lineEnd(source, end);
    if (lineEndAt === end) return [{ offset: end, length: 0, content: `,${eol}${indent}${text}` }];
    return [
      { offset: end, length: 0, content: ',' },
      { offset: lineEndAt, length: 0, content: `${eol}${indent}${text}` },
    ];
  }
  return [{ offset: end, length: 0, content: `, ${text}` }];
}

function property(object: Node, key: string): Node | undefined {
  return object.children?.filter((child) => child.children?.[0]?.value === key).at(-1);
}
