/**
 * What `muxctl rewire` would do to a host file (rewire.ts does it): which
 * entries muxd has a service for, what each becomes (`mux-proxy <service>`
 * over stdio, an ad-hoc `mux-proxy --`, or the service's URL on muxd's HTTP
 * front with the bearer token), and the edits that swap only their
 * transport fields, checked to change nothing else.
 */
import { existsSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import type { BackupStore } from './backupStore.js';
import { applyEdits, canonical, checkOnlyTransportChanged, valueAt } from './hostDocument.js';
import type { Edit, FieldChange, FieldValue, HostDocument, Transport, TransportChange } from './hostDocument.js';
import { parseHostDocument } from './hostFiles.js';
import type { HostDefinition, HostFile, HostScope } from './hostRegistry.js';
import { labelOf } from './hostRegistry.js';
import { importSpecs } from './importPlan.js';
import { PROXY_ENV_NAMES } from './proxyCommand.js';
import { EntryKind, HEADER_KEYS, PLAIN_STDIO_FIELDS, URL_KEYS, argSecrets, commandLine, hasHostVariable, hostVariableIn, isRemoteType, sameSpec, serviceNameFor, specTexts } from './serverEntry.js';
import type { EntryDialect, HostEntry, MuxdMarks, MuxdTransport, ServerSpec } from './serverEntry.js';

/** What happened (or would) to one entry. */
export interface EntryOutcome {
  name: string;
  action: 'rewire' | 'already' | 'skip' | 'restore';
  service?: string;
  /** For an entry rewired to be shared ad hoc (`mux-proxy -- CMD`): the server's command line, secrets hidden. */
  adhoc?: string;
  /** For entries through muxd (rewired or already): how they reach it. */
  transport?: MuxdTransport;
  reason?: string;
}

/** muxd's Streamable HTTP front, as `rewire --transport http` writes it into entries. */
export interface HttpFront {
  /** Base URL (the daemon's status `httpUrl`): services are at `<url>/mcp/<service>`. */
  url: string;
  /** The bearer token: written into host files, masked in every diff, never printed. */
  token: string;
}

/** The fields of a stdio entry that an HTTP entry has no use for (each host spells a subset). */
const STDIO_FIELDS = ['command', 'args', 'env', 'cwd', 'envFile', 'env_vars'] as const;

/** The stdio fields an HTTP entry of `host` drops: the common ones, and the host's own names (Goose's `cmd`, `envs`). */
function stdioFieldsOf(host: HostDefinition): string[] {
  const own = host.stdioFields;
  return [...new Set<string>([...STDIO_FIELDS, ...(own ? [own.command, own.env, ...(own.args === undefined ? [] : [own.args])] : [])])];
}

/** What happened (or would) to one host file. */
export interface FileOutcome {
  host: string;
  hostName: string;
  scope: HostScope;
  variant?: string;
  file: string;
  entries: EntryOutcome[];
  /** True when the file was (or, with --dry-run, would be) written. */
  changed: boolean;
  /** Unified diff of the change, secrets masked (dry runs). */
  diff?: string;
  backup?: string;
  /** Why the whole file was left alone by choice (tracked by git, gone). */
  skipped?: string;
  /** Why the file could not be read or written. */
  error?: string;
  reload: string;
}

export interface RewireOptions {
  files: readonly HostFile[];
  /** muxd's services as written in its config. */
  services: ReadonlyMap<string, ServerSpec>;
  /** Absolute path written as each entry's command. */
  proxyCommand: string;
  projectDir: string;
  store: BackupStore;
  dryRun: boolean;
  /** Rewire files git tracks too (they are skipped otherwise: the path is this machine's). */
  includeTracked: boolean;
  /**
   * How entries reach muxd: new entries get it (default `stdio`, mux-proxy;
   * `http` needs `http`). Entries through muxd already keep theirs unless it
   * is given: then they are switched to it.
   */
  transport?: MuxdTransport;
  /** muxd's HTTP front; required for `transport: 'http'`. */
  http?: HttpFront;
  /** More base URLs of muxd's HTTP front that entries may point at (recognised as muxd's, and switched by `transport`). */
  httpUrls?: readonly string[];
  /** muxd's HTTP token, when there is one: an entry sending it at a loopback `/mcp/<service>` URL is muxd's. */
  httpToken?: string;
  /** Services muxd keeps off its HTTP front (`http: false`): they stay on mux-proxy. */
  httpOff?: ReadonlySet<string>;
  /**
   * Variables written into the env of each entry rewired to mux-proxy, for
   * it to reach this muxd whatever environment its host gives it
   * (`proxyEnvironment()`: `MUXD_HOME`...). Default none.
   */
  proxyEnv?: Readonly<Record<string, string>>;
}

/** What an entry becomes; over HTTP, in the URL and headers fields the entry already uses, if any (a Gemini entry's `url`). */
export type Target = { transport: 'stdio'; stdio: Transport } | { transport: 'http'; url: string; headers: Record<string, string>; urlKey: string; headersKey: string };

export interface EntryPlan {
  outcome: EntryOutcome;
  target?: Target;
  /** How the entry reached muxd before the change (undefined: it did not). */
  from?: MuxdTransport;
}

/** One planned change of an entry: its edits, what the check expects, and what the journal keeps. */
export interface PlannedChange {
  name: string;
  edits: Edit[];
  checks: Array<TransportChange | FieldChange>;
  /** For a change of whole fields: the touched fields before and after (null: absent). */
  fields?: { before: Record<string, unknown>; after: Record<string, unknown> };
}

/**
 * Picks the service an entry maps to: same command, args, cwd and env. Only
 * when none is identical, one whose env filled in the entry's host variables
 * (those of `dialect`, the entry's host, too), or added variables, will do.
 */
export function matchService(entry: HostEntry, spec: ServerSpec, services: ReadonlyMap<string, ServerSpec>, dialect?: Pick<EntryDialect, 'hostVariables'>): { service: string } | { reason: string } {
  const base = serviceNameFor(entry.name);
  const pick = (candidates: Array<[string, ServerSpec]>): { service: string } | { reason: string } | undefined => {
    if (candidates.length === 0) return undefined;
    const exact = candidates.find(([name]) => name === base);
    if (exact) return { service: exact[0] };
    if (candidates.length === 1) return { service: (candidates[0] as [string, ServerSpec])[0] };
    const prefixed = candidates.filter(([name]) => name.startsWith(`${base}-`));
    if (prefixed.length === 1) return { service: (prefixed[0] as [string, ServerSpec])[0] };
    return { reason: `several services run it (${candidates.map(([name]) => name).join(', ')}); keep one` };
  };
  const all = [...services];
  const identical = pick(all.filter(([, service]) => sameSpec(service, spec)));
  if (identical) return identical;
  const filledIn = pick(
    all.filter(([, service]) => {
      if (service.command !== spec.command || (service.cwd ?? '') !== (spec.cwd ?? '') || service.args.length !== spec.args.length) return false;
      if (service.args.some((arg, index) => arg !== spec.args[index] && !hasHostVariable(spec.args[index] as string, dialect))) return false;
      return Object.entries(spec.env).every(([key, value]) => (Object.hasOwn(service.env, key) && (service.env[key] === value || hasHostVariable(value, dialect))));
    }),
  );
  return filledIn ?? { reason: "no service in muxd's config runs it (muxctl import adds one)" };
}

function planEntry(file: HostFile, doc: HostDocument, entry: HostEntry, options: RewireOptions): EntryPlan {
  const outcome = (action: EntryOutcome['action'], extra: Partial<EntryOutcome> = {}): EntryPlan => ({ outcome: { name: entry.name, action, ...extra } });
  if (entry.kind === EntryKind.Muxd) return planMuxdEntry(file, doc, entry, options);
  if (entry.kind !== EntryKind.Stdio || !entry.spec) return outcome('skip', { reason: entry.kind === EntryKind.Disabled ? 'disabled in the host' : `${entry.detail ?? entry.kind}: not muxd's` });
  if (entry.hostOnly.includes('envFile')) {
    return outcome('skip', { reason: "reads an envFile, which muxd does not: copy its variables into muxd's config and remove envFile from the entry" });
  }
  // A value the host fills in (a secret it prompts for, its own environment's) stays the host's.
  const hostFilled = specTexts(entry.spec).map((text) => hostVariableIn(text, file.host)).find((variable) => variable !== undefined);
  // A service imported by an older muxctl (with the project as cwd) still counts.
  const [spec, ...earlier] = importSpecs(file, entry.spec, options.projectDir) as [ServerSpec, ...ServerSpec[]];
  let match = matchService(entry, spec, options.services, file.host);
  for (const form of earlier) if ('reason' in match) match = matchService(entry, form, options.services, file.host);
  if ('service' in match) {
    const service = options.services.get(match.service) as ServerSpec;
    const unresolved = specTexts(service).find((text) => hasHostVariable(text));
    // The service runs it when muxd's config set those values itself (not the host's variables, copied).
    if (unresolved === undefined && (hostFilled === undefined || fillsHostVariables(service, spec, file.host))) {
      const { target, note } = targetFor(file.host, match.service, options, undefined);
      return { outcome: { name: entry.name, action: 'rewire', service: match.service, transport: target.transport, ...(note === undefined ? {} : { reason: note }) }, target };
    }
    if (hostFilled === undefined) {
      return outcome('skip', { service: match.service, reason: `services.${match.service} still holds ${hostVariableIn(unresolved as string)}, which muxd cannot fill in: set the value in muxd's config first` });
    }
  } else if (hostFilled === undefined) {
    return outcome('skip', { reason: match.reason });
  }
  return planAdhoc(file, doc, entry, hostFilled, options);
}

/** True when `service` sets its own value everywhere the entry holds a variable its host fills in. */
function fillsHostVariables(service: ServerSpec, spec: ServerSpec, dialect: EntryDialect): boolean {
  const filled = (mine: string | undefined, theirs: string) => !hasHostVariable(theirs, dialect) || (mine !== undefined && mine !== theirs && !hasHostVariable(mine));
  return (
    filled(service.command, spec.command) &&
    spec.args.every((arg, index) => filled(service.args[index], arg)) &&
    Object.entries(spec.env).every(([key, value]) => filled(Object.hasOwn(service.env, key) ? service.env[key] : undefined, value))
  );
}

/**
 * An entry holding a value only its host fills in (`variable`) is shared ad
 * hoc: `mux-proxy --env NAMES -- CMD ARGS...`, its command and arguments as
 * written, its env left in the entry for the host to fill in, and every
 * variable of it named for mux-proxy to pass on to muxd.
 */
function planAdhoc(file: HostFile, doc: HostDocument, entry: HostEntry, variable: string, options: RewireOptions): EntryPlan {
  const written = doc.transport(entry.name);
  if (written?.command === undefined) return { outcome: { name: entry.name, action: 'skip', reason: 'no command to share' } };
  // The server's variables: not those that tell mux-proxy where muxd is.
  const names = Object.keys(entry.spec?.env ?? {}).filter((key) => !(PROXY_ENV_NAMES as readonly string[]).includes(key));
  const server = { command: written.command, args: written.args ?? [] };
  const proxyArgs = [...(names.length === 0 ? ['--env='] : ['--env', names.join(',')]), '--', server.command, ...server.args];
  const target: Target = { transport: 'stdio', stdio: stdioTarget(file.host, proxyArgs, options.proxyCommand) };
  const http = options.transport === 'http' ? '; an ad-hoc server has no HTTP endpoint: kept on mux-proxy' : '';
  const reason = `${variable} is filled in by ${file.host.name}: shared ad hoc through mux-proxy --env, the value staying in ${file.host.name}${http}`;
  return { outcome: { name: entry.name, action: 'rewire', adhoc: commandLine(server), transport: 'stdio', reason }, target };
}

/**
 * An entry that goes through muxd already is left as it is (whatever
 * mux-proxy path or command form it uses), except to switch it to the
 * transport `--transport` names, to give an HTTP entry muxd's current token
 * (with `--transport http`), or to repoint one whose mux-proxy or node is gone.
 */
function planMuxdEntry(file: HostFile, doc: HostDocument, entry: HostEntry, options: RewireOptions): EntryPlan {
  const from = entry.via ?? 'stdio';
  const service = entry.service;
  const already = (...notes: Array<string | undefined>): EntryPlan => {
    const reason = notes.filter((note) => note !== undefined).join('; ');
    return { outcome: { name: entry.name, action: 'already', ...(service === undefined ? {} : { service }), transport: from, ...(reason === '' ? {} : { reason }) } };
  };
  // Which muxd its mux-proxy finds: an entry for another home's muxd is that muxd's; one lacking what it needs to find this muxd is said so.
  let lacks: string | undefined;
  if (from === 'stdio') {
    const env = entryEnv(file, doc, entry.name);
    const proxyEnv = options.proxyEnv ?? {};
    const home = env['MUXD_HOME'];
    if (typeof home === 'string' && home !== '' && home !== proxyEnv['MUXD_HOME']) return already(`through the muxd of another home (its env has MUXD_HOME=${home}): left as it is`);
    const missing = Object.entries(proxyEnv).filter(([key, value]) => env[key] !== value);
    if (missing.length > 0) {
      lacks = `its env lacks ${missing.map(([key, value]) => `${key}=${value}`).join(', ')}: from a host that gives mux-proxy a bare environment it looks for another muxd (add ${missing.length === 1 ? 'it' : 'them'} to the entry's env)`;
    }
  }
  if (service === undefined) return already(entry.detail ?? 'shared ad hoc', options.transport === 'http' ? 'an ad-hoc server has no HTTP endpoint: kept on mux-proxy' : undefined, lacks);
  const { target, note } = targetFor(file.host, service, options, doc.fields(entry.name), entry.urlKey);
  // Only a transport asked for (and one the host has) switches an entry.
  const switching = options.transport !== undefined && target.transport !== from;
  if (upToDate(doc, file.host, entry.name, target) && lacks === undefined) return already(note);
  let why: string | undefined;
  if (!switching) {
    if (from === 'http' && !options.http) return already();
    const gone = from === 'stdio' ? missingProgram(doc.transport(entry.name)) : undefined;
    if (from === 'stdio' && gone === undefined) return already(note, lacks);
    why = gone === undefined ? "muxd's HTTP front has a new token or URL" : `${gone} is gone`;
  }
  if (!options.services.has(service)) return already(`services.${service} is not in muxd's config (or is disabled): left as it is`);
  const reason = [why, note].filter((part) => part !== undefined).join('; ');
  return { outcome: { name: entry.name, action: 'rewire', service, transport: target.transport, ...(reason === '' ? {} : { reason }) }, target, from };
}

/** The env map of the object holding an entry's transport fields (the entry; Zed's nested command), as written; empty when there is none. */
function entryEnv(file: HostFile, doc: HostDocument, name: string): Record<string, unknown> {
  const holder = valueAt(doc.value, doc.transportPath(name).path) as Record<string, unknown> | undefined;
  const env = holder?.[file.host.stdioFields?.env ?? PLAIN_STDIO_FIELDS.env];
  return env && typeof env === 'object' && !Array.isArray(env) ? (env as Record<string, unknown>) : {};
}

/** The program or proxy script of a mux-proxy entry that no longer exists (an upgraded node, a moved checkout), by absolute path; undefined when both are there or cannot be told. */
function missingProgram(transport: Transport | undefined): string | undefined {
  const paths = [transport?.command, ...(transport?.command !== undefined && /^node(\.exe)?$/.test(basename(transport.command)) ? [transport.args?.[0]] : [])];
  return paths.find((path): path is string => path !== undefined && isAbsolute(path) && !existsSync(path));
}

/**
 * What an entry for `service` becomes in `host`, and why it stays on
 * mux-proxy when HTTP was asked for but cannot be used. `current` is the
 * entry's fields now: headers other than Authorization are kept.
 */
function targetFor(host: HostDefinition, service: string, options: RewireOptions, current: Record<string, unknown> | undefined, urlKey?: string): { target: Target; note?: string } {
  const stdio: Target = { transport: 'stdio', stdio: stdioTarget(host, [service], options.proxyCommand) };
  if ((options.transport ?? 'stdio') !== 'http') return { target: stdio };
  if (!options.http) throw new Error('rewire over HTTP needs the HTTP front\'s URL and token');
  if (!host.http) return { target: stdio, note: `${host.name} has no HTTP transport: kept on mux-proxy (stdio)` };
  if (options.httpOff?.has(service)) return { target: stdio, note: `services.${service} has http: false: kept on mux-proxy (stdio)` };
  const headersKey = HEADER_KEYS.find((key) => current?.[key] !== undefined) ?? host.http.headersKey;
  const existing = current?.[headersKey];
  const kept = existing && typeof existing === 'object' && !Array.isArray(existing) ? Object.entries(existing) : [];
  const headers: Record<string, string> = Object.fromEntries(kept.filter(([key, value]) => typeof value === 'string' && key.toLowerCase() !== 'authorization'));
  // The token itself, not a variable for the host to expand: the file is the
  // user's own (as private as they keep it), Codex expands nothing in
  // http_headers, and a GUI host may not have the variable in its environment.
  headers['Authorization'] = `Bearer ${options.http.token}`;
  return { target: { transport: 'http', url: `${options.http.url}/mcp/${encodeURIComponent(service)}`, headers, urlKey: urlKey ?? host.http.urlKey, headersKey } };
}

/** True when the entry already is `target`. */
function upToDate(doc: HostDocument, host: HostDefinition, name: string, target: Target): boolean {
  if (target.transport === 'stdio') {
    const current = doc.transport(name);
    const wanted = target.stdio;
    return (
      current !== undefined &&
      current.command === wanted.command &&
      canonical(current.args) === canonical(wanted.args) &&
      (!('type' in wanted) || current.type === wanted.type) &&
      // No URL left from an HTTP rewire.
      URL_KEYS.every((key) => doc.fields(name)?.[key] === undefined)
    );
  }
  const fields = doc.fields(name);
  const http = host.http;
  return (
    fields !== undefined &&
    http !== undefined &&
    fields[target.urlKey] === target.url &&
    canonical(fields[target.headersKey]) === canonical(target.headers) &&
    (http.type === undefined ? fields['type'] === undefined || isRemoteType(fields['type']) : fields['type'] === http.type) &&
    stdioFieldsOf(host).every((key) => fields[key] === undefined)
  );
}

/**
 * The transport a rewired stdio entry gets. A proxy script (`.js`) is run by
 * this node, both by absolute path: GUI hosts have no shell PATH to resolve
 * the script's `#!/usr/bin/env node` with.
 */
function stdioTarget(host: HostDefinition, proxyArgs: readonly string[], proxyCommand: string): Transport {
  const result: Transport = proxyCommand.endsWith('.js') ? { command: process.execPath, args: [proxyCommand, ...proxyArgs] } : { command: proxyCommand, args: [...proxyArgs] };
  if (host.stdioType !== undefined) result.type = host.stdioType;
  return result;
}

/**
 * The edits that make the entry `target`. Within stdio only `command`/`args`/
 * `type` are swapped; to or from HTTP whole fields come and go, and what they
 * were is kept for undo.
 */
function planChange(file: HostFile, doc: HostDocument, name: string, target: Target, from: MuxdTransport | undefined, proxyEnv: Readonly<Record<string, string>> = {}): PlannedChange {
  const now = doc.fields(name) ?? {};
  const envField = file.host.stdioFields?.env ?? PLAIN_STDIO_FIELDS.env;
  if (target.transport === 'stdio' && from !== 'http') {
    const where = doc.transportPath(name);
    const check: TransportChange = { where, target: target.stdio };
    const holder = valueAt(doc.value, where.path);
    const env = (holder && typeof holder === 'object' ? (holder as Record<string, unknown>)[envField] : undefined) as Record<string, unknown> | undefined;
    const missing = Object.entries(proxyEnv).filter(([key, value]) => env?.[key] !== value);
    if (missing.length === 0) return { name, edits: doc.swap(name, target.stdio), checks: [check] };
    // What mux-proxy needs to find this muxd goes into the entry's env too.
    const newEnv = { ...(env && typeof env === 'object' ? env : {}), ...Object.fromEntries(missing) };
    const edits = [...doc.swap(name, target.stdio), ...doc.setMapEntries(name, envField, missing)];
    const checks = [check, { path: where.path, set: { [envField]: newEnv }, remove: [] }];
    // For undo once a host rewrote the entry: its fields as they were and as written (the entry's own, not Zed's nested command).
    if (where.path.length !== file.serversPath.length + 1) return { name, edits, checks };
    const { command, args, type } = target.stdio;
    const program: Record<string, unknown> = where.joined ? { [where.names.command]: [command, ...(args ?? [])] } : { [where.names.command]: command, [where.names.args]: args };
    const after: Record<string, unknown> = { ...program, ...('type' in target.stdio ? { [where.names.type]: type ?? null } : {}), [envField]: newEnv };
    const before = Object.fromEntries(Object.keys(after).map((key) => [key, key in now ? now[key] : null]));
    return { name, edits, checks, fields: { before, after } };
  }
  let set: Array<[string, FieldValue]>;
  let remove: string[];
  if (target.transport === 'http') {
    const http = file.host.http;
    if (!http) throw new Error(`${file.host.name} has no HTTP transport`);
    // An HTTP entry keeps the type it has (Gemini's `"type": "http"` with `url`); a host without a `type` for HTTP must not keep `type: "stdio"`.
    const keepType = http.type === undefined && isRemoteType(now['type']);
    set = [...(http.type === undefined || keepType ? [] : [['type', http.type] as [string, FieldValue]]), [target.urlKey, target.url], [target.headersKey, target.headers]];
    const otherSpellings = [...URL_KEYS, ...HEADER_KEYS].filter((key) => key !== target.urlKey && key !== target.headersKey);
    remove = [...stdioFieldsOf(file.host), ...otherSpellings, ...(http.type === undefined && !keepType ? ['type'] : [])];
  } else {
    const { command, args, type } = target.stdio;
    const names = file.host.stdioFields ?? PLAIN_STDIO_FIELDS;
    // opencode: one list, the program then its arguments.
    const program: Array<[string, FieldValue]> =
      names.args === undefined ? [[names.command, [command as string, ...(args ?? [])]]] : [[names.command, command as string], [names.args, args as string[]]];
    const env = now[envField];
    const withEnv: Array<[string, FieldValue]> = Object.keys(proxyEnv).length === 0 ? [] : [[envField, { ...(env && typeof env === 'object' ? env : {}), ...proxyEnv }]];
    set = [...(type === undefined ? [] : [['type', type] as [string, FieldValue]]), ...program, ...withEnv];
    // Whatever spelling the URL and headers had.
    remove = [...URL_KEYS, ...HEADER_KEYS, ...(type === undefined ? ['type'] : [])];
  }
  const setMap = Object.fromEntries(set);
  const touched = [...new Set([...Object.keys(now), ...Object.keys(setMap), ...remove])].filter((key) => key in setMap || (remove.includes(key) && key in now));
  const fields = {
    before: Object.fromEntries(touched.map((key) => [key, key in now ? now[key] : null])),
    after: Object.fromEntries(touched.map((key) => [key, key in setMap ? setMap[key] : null])),
  };
  return { name, edits: doc.replaceFields(name, set, remove), checks: [{ path: [...file.serversPath, name], set: setMap, remove }], fields };
}

/** Literal env and header values of every entry, to mask in diffs. */
export function secretsOf(doc: HostDocument, file: Pick<HostFile, 'serversPath'>): string[] {
  const secrets: string[] = [];
  const servers = file.serversPath.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc.value);
  const collect = (value: unknown) => {
    if (typeof value === 'string') {
      if (value.length >= 4 && !/^\$\{[^}]*\}$/.test(value)) secrets.push(value);
    } else if (value && typeof value === 'object') {
      for (const item of Object.values(value)) collect(item);
    }
  };
  for (const entry of Object.values((servers as Record<string, unknown> | undefined) ?? {})) {
    if (!entry || typeof entry !== 'object') continue;
    for (const key of ['env', 'envs', 'headers', 'http_headers', 'environment', 'settings']) collect((entry as Record<string, unknown>)[key]);
    const command = (entry as Record<string, unknown>)['command'];
    // opencode: the program and its arguments in one list.
    if (Array.isArray(command)) secrets.push(...argSecrets(command.slice(1).map(String)));
    else if (command && typeof command === 'object') collect((command as Record<string, unknown>)['env']);
    const args = (command && typeof command === 'object' ? (command as Record<string, unknown>)['args'] : (entry as Record<string, unknown>)['args']) as unknown;
    if (Array.isArray(args)) secrets.push(...argSecrets(args.map(String)));
  }
  return secrets.sort((a, b) => b.length - a.length);
}

/** A unified diff with env and header values masked. */
export function maskedDiff(path: string, before: string, after: string, secrets: readonly string[]): string {
  let diff = createTwoFilesPatch(path, path, before.replace(/\r\n/g, '\n'), after.replace(/\r\n/g, '\n'), '', '', { context: 2 });
  diff = diff.split('\n').filter((line) => !/^=+$/.test(line) && !line.startsWith('Index: ')).join('\n');
  for (const secret of secrets) diff = diff.split(secret).join('***');
  return diff;
}

export function baseOutcome(file: HostFile): FileOutcome {
  return {
    ...labelOf(file),
    entries: [],
    changed: false,
    reload: file.host.reload,
  };
}

/** What marks entries as muxd's for these options. */
export function marksOf(options: RewireOptions): MuxdMarks {
  return { proxyCommand: options.proxyCommand, httpUrls: [...(options.http ? [options.http.url] : []), ...(options.httpUrls ?? [])], httpToken: options.http?.token ?? options.httpToken };
}

/** A planned file rewire: each entry's plan, the changes made, and the new text (undefined: nothing to change). */
export interface FileRewirePlan {
  entries: EntryPlan[];
  changes: PlannedChange[];
  after: string | undefined;
  doc: HostDocument;
}

/** Plans the rewire of one file's text: the entries' outcomes, and the new text (undefined: nothing to change). */
export function planFileRewire(file: HostFile, text: string, options: RewireOptions): FileRewirePlan {
  const doc = parseHostDocument(file, text, marksOf(options));
  const entries = (doc.entries ?? []).map((entry) => planEntry(file, doc, entry, options));
  const changes: PlannedChange[] = [];
  for (const plan of entries) {
    if (!plan.target) continue;
    try {
      changes.push(planChange(file, doc, plan.outcome.name, plan.target, plan.from, plan.target.transport === 'stdio' ? options.proxyEnv : undefined));
    } catch (error) {
      plan.outcome = { name: plan.outcome.name, action: 'skip', ...(plan.outcome.service === undefined ? {} : { service: plan.outcome.service }), reason: (error as Error).message.replace(/^[^:]*: /, '') };
      delete plan.target;
    }
  }
  if (changes.length === 0) return { entries, changes, after: undefined, doc };
  const after = applyEdits(text, changes.flatMap((change) => change.edits));
  checkOnlyTransportChanged(doc.value, parseHostDocument(file, after).value, changes.flatMap((change) => change.checks), file.path);
  return { entries, changes, after, doc };
}
