/**
 * muxd's own config file, as `muxctl import` reads and extends it: services
 * as written (variables unexpanded), and new `services.<name>` entries added
 * without disturbing the rest. YAML goes through the `yaml` package's
 * Document API (new entries are spliced in when the `services` map is a
 * plain block map, so every existing byte stays; otherwise the document is
 * re-rendered, comments kept); JSON through jsonc-parser; TOML is appended to.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { applyEdits as applyJsonEdits, findNodeAtLocation, getNodeValue, modify, parseTree } from 'jsonc-parser';
import type { ParseError } from 'jsonc-parser';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { Document, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { applyEdits, canonical, leadingIndent, lineEnding } from './hostDocument.js';
import { insertAfterLast } from './jsonHostDocument.js';
import type { ServerSpec } from './serverEntry.js';

export type MuxConfigFormat = 'yaml' | 'json' | 'toml' | 'js';

export interface MuxConfigText {
  path: string;
  exists: boolean;
  format: MuxConfigFormat;
  text: string;
  /** Services as written (`services` and `mcpServers` with a command), variables unexpanded. */
  services: Map<string, ServerSpec>;
  /** Names of services written with `disabled: true`. */
  disabled: Set<string>;
  /** Names of services written with `http: false` (kept off the HTTP front). */
  httpOff: Set<string>;
  /** `http.listen` as written; undefined when the HTTP front is off. */
  httpListen?: string | number;
}

/** A service to add, as it is written into the file. */
export interface NewService {
  name: string;
  spec: ServerSpec;
}

export function configFormat(path: string, text = ''): MuxConfigFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.toml') return 'toml';
  if (ext === '.js' || ext === '.mjs' || ext === '.cjs') return 'js';
  if (ext === '' && text.trimStart().startsWith('{')) return 'json';
  return 'yaml';
}

function parseRaw(format: MuxConfigFormat, text: string, path: string): Record<string, unknown> {
  let raw: unknown;
  if (format === 'json') {
    const errors: ParseError[] = [];
    // The syntax tree's values are null-prototype objects: a "__proto__" key stays a key.
    const root = parseTree(text.replace(/^\uFEFF/, ''), errors, { allowTrailingComma: true });
    if (errors.length) throw new Error(`${path}: cannot parse it as JSON`);
    raw = root === undefined ? undefined : getNodeValue(root);
  } else if (format === 'toml') {
    raw = parseToml(text.replace(/^\uFEFF/, ''));
  } else {
    const doc = parseDocument(text);
    if (doc.errors.length) throw new Error(`${path}: cannot parse: ${doc.errors[0]?.message.split('\n')[0]}`);
    raw = doc.toJS();
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${path}: expected a map at the top`);
  return raw as Record<string, unknown>;
}

function specOf(raw: unknown): ServerSpec | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const entry = raw as Record<string, unknown>;
  if (typeof entry['command'] !== 'string') return undefined;
  const spec: ServerSpec = {
    command: entry['command'],
    args: Array.isArray(entry['args']) ? entry['args'].map(String) : [],
    env: Object.fromEntries(Object.entries((entry['env'] as Record<string, unknown> | undefined) ?? {}).map(([key, value]) => [key, String(value)])),
  };
  if (typeof entry['cwd'] === 'string') spec.cwd = entry['cwd'];
  return spec;
}

/** Reads muxd's config (an absent file reads as empty). JavaScript configs are read for nothing: muxctl cannot edit them. */
export async function readMuxConfig(path: string): Promise<MuxConfigText> {
  const exists = existsSync(path);
  return parseMuxConfig(path, exists ? await readFile(path, 'utf8') : '', exists);
}

/** `readMuxConfig` on text already read. Throws `Error` when the file cannot be parsed. */
export function parseMuxConfig(path: string, text: string, exists = true): MuxConfigText {
  const format = configFormat(path, text);
  const services = new Map<string, ServerSpec>();
  const disabled = new Set<string>();
  const httpOff = new Set<string>();
  if (format === 'js') return { path, exists, format, text, services, disabled, httpOff };
  const raw = parseRaw(format, text, path);
  for (const section of ['services', 'mcpServers']) {
    const map = raw[section];
    if (typeof map !== 'object' || map === null) continue;
    for (const [name, entry] of Object.entries(map)) {
      const spec = specOf(entry);
      // A disabled service is no target for rewire; its name is still taken.
      if (spec) services.set(name, spec);
      if (spec && (entry as Record<string, unknown>)['disabled'] === true) disabled.add(name);
      if (spec && section === 'services' && (entry as Record<string, unknown>)['http'] === false) httpOff.add(name);
    }
  }
  const listen = (raw['http'] as Record<string, unknown> | undefined)?.['listen'];
  return { path, exists, format, text, services, disabled, httpOff, ...(typeof listen === 'string' || typeof listen === 'number' ? { httpListen: listen } : {}) };
}

/** A spec as the file holds it: empty args and env left out. */
function serviceObject(spec: ServerSpec): Record<string, unknown> {
  const result: Record<string, unknown> = { command: spec.command };
  if (spec.args.length) result['args'] = spec.args;
  if (Object.keys(spec.env).length) result['env'] = spec.env;
  if (spec.cwd !== undefined) result['cwd'] = spec.cwd;
  return result;
}

export const NEW_CONFIG_HEADER = '# muxd config: each service runs once and is shared by every MCP session.\n# Written by muxctl import; edit freely, comments are kept.\n';

/**
 * The config text with `added` as new `services.<name>` entries (names must
 * be new). Throws `Error` for a JavaScript config or when the result would
 * not hold exactly the old content plus the new services.
 */
export function addServices(config: MuxConfigText, added: readonly NewService[]): string {
  if (added.length === 0) return config.text;
  if (config.format === 'js') throw new Error(`${config.path} is JavaScript: muxctl cannot edit it; add the services by hand or use a YAML config`);
  const text = config.exists ? config.text : NEW_CONFIG_HEADER;
  const before = parseRaw(config.format, text, config.path);
  const expected = { ...before, services: { ...((before['services'] as Record<string, unknown> | undefined) ?? {}) } };
  for (const { name, spec } of added) (expected.services as Record<string, unknown>)[name] = serviceObject(spec);
  const check = (candidate: string): boolean => {
    try {
      return canonical(parseRaw(config.format, candidate, config.path)) === canonical(expected);
    } catch {
      return false;
    }
  };
  const attempts = config.format === 'json' ? [addJson] : config.format === 'toml' ? [addToml] : [spliceYaml, renderYaml];
  for (const attempt of attempts) {
    const result = attempt(text, added);
    if (result !== undefined && check(result)) return result;
  }
  throw new Error(`${config.path}: cannot add the services without changing the rest of the file; add them by hand`);
}

function yamlEntries(added: readonly NewService[]): Document {
  const doc = new Document(Object.fromEntries(added.map(({ name, spec }) => [name, serviceObject(spec)])));
  if (isMap(doc.contents)) {
    for (const item of doc.contents.items) {
      if (!isMap(item.value)) continue;
      const args = item.value.get('args', true);
      if (isSeq(args)) args.flow = true;
    }
  }
  return doc;
}

const YAML_OPTIONS = { lineWidth: 0, flowCollectionPadding: false } as const;

/** New entries as text at the end of a block `services` map (or a new `services:` at the end): every existing byte stays. */
function spliceYaml(text: string, added: readonly NewService[]): string | undefined {
  const doc = parseDocument(text);
  const eol = lineEnding(text);
  const rendered = (indent: string) =>
    yamlEntries(added)
      .toString(YAML_OPTIONS)
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => indent + line)
      .join(eol) + eol;
  const services = doc.get('services', true);
  if (services === undefined && !doc.has('services')) {
    const separator = text === '' || text.endsWith('\n') ? '' : eol;
    return `${text}${separator}services:${eol}${rendered('  ')}`;
  }
  if (!isMap(services) || services.flow || services.items.length === 0 || !services.range) return undefined;
  const firstKey = services.items[0]?.key;
  if (!isScalar(firstKey) || !firstKey.range) return undefined;
  const indent = text.slice(text.lastIndexOf('\n', firstKey.range[0] - 1) + 1, firstKey.range[0]);
  if (!/^ +$/.test(indent)) return undefined;
  const at = services.range[1];
  const prefix = at === 0 || text[at - 1] === '\n' ? '' : eol;
  return text.slice(0, at) + prefix + rendered(indent) + text.slice(at);
}

/** The whole document rendered again with the new entries: comments kept, some spacing normalized. */
function renderYaml(text: string, added: readonly NewService[]): string {
  const doc = parseDocument(text);
  if (!isMap(doc.get('services', true))) doc.set('services', doc.createNode({}));
  const entries = yamlEntries(added).contents;
  if (isMap(entries)) for (const item of entries.items) doc.setIn(['services', item.key], item.value);
  return doc.toString(YAML_OPTIONS);
}

function addJson(text: string, added: readonly NewService[]): string {
  const source = text.replace(/^\uFEFF/, ' ');
  const eol = lineEnding(text);
  const root = parseTree(source, [], { allowTrailingComma: true });
  const unit = /\n\t/.test(text) ? '\t' : ' '.repeat(/\n( +)"/.exec(text)?.[1]?.length ?? 2);
  const services = root && findNodeAtLocation(root, ['services']);
  const entries = Object.fromEntries(added.map(({ name, spec }) => [name, serviceObject(spec)]));
  // Splice after the last service (or the last top-level key): the existing text stays as it is.
  const [anchor, properties] =
    services?.type === 'object' && services.children?.length
      ? [services.children.at(-1), Object.entries(entries)]
      : services === undefined && root?.type === 'object' && root.children?.length
        ? [root.children.at(-1), [['services', entries] as const]]
        : [undefined, []];
  if (anchor) {
    const indent = leadingIndent(source, anchor.offset) ?? '';
    const propertyText = properties.map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value, null, unit).replace(/\n/g, eol + indent)}`).join(`,${eol}${indent}`);
    return applyEdits(text, insertAfterLast(source, eol, anchor, propertyText));
  }
  const formattingOptions = { insertSpaces: unit !== '\t', tabSize: unit === '\t' ? 1 : unit.length, eol };
  let result = root === undefined ? '{}' : text;
  for (const { name, spec } of added) result = applyJsonEdits(result, modify(result, ['services', name], serviceObject(spec), { formattingOptions }));
  return result;
}

function addToml(text: string, added: readonly NewService[]): string {
  const eol = lineEnding(text);
  const tables = stringifyToml({ services: Object.fromEntries(added.map(({ name, spec }) => [name, serviceObject(spec)])) }).replace(/\n/g, eol);
  const separator = text === '' ? '' : text.endsWith('\n') ? eol : eol + eol;
  return `${text}${separator}${tables}${tables.endsWith(eol) ? '' : eol}`;
}
