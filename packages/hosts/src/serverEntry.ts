import { argSecrets, redactArgs as redactArgsWith } from '@muxd/config';
/**
 * Host entries, host-neutral: what a host's server entry is (a stdio server,
 * one already going through muxd, a remote or extension server...), the
 * server spec muxd would run for it, and the helpers to compare and print
 * specs without showing secrets.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, win32 } from 'node:path';
import { isJsonObject } from '@muxd/protocol';
import { isPrototypeKey, isValidServiceName } from '@muxd/protocol/paths';

/** How a server is started: what muxd's `services.<name>` holds. */
export interface ServerSpec {
  command: string;
  args: string[];
  /** Values as written, host variables and all: never resolved, never printed. */
  env: Record<string, string>;
  cwd?: string;
}

export const EntryKind = {
  /** A local server the host starts itself: import and rewire it. */
  Stdio: 'stdio',
  /** Already goes through muxd (`mux-proxy <service>`). */
  Muxd: 'muxd',
  /** An HTTP/SSE server: muxd runs stdio servers only. */
  Remote: 'remote',
  /** An extension or plugin server the host manages (Zed). */
  Extension: 'extension',
  /** Turned off in the host. */
  Disabled: 'disabled',
  /** Not an entry muxd understands (no command, wrong types). */
  Invalid: 'invalid',
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

/** One server entry of a host file. */
export interface HostEntry {
  /** The name in the host's file: permissions and tool ids are keyed on it, so it never changes. */
  name: string;
  kind: EntryKind;
  /** For stdio (and disabled stdio) entries: what muxd would run. */
  spec?: ServerSpec;
  /** For muxd entries: the service the proxy connects to, or the HTTP URL names; undefined for an ad-hoc `mux-proxy -- CMD` entry. */
  service?: string;
  /** For an ad-hoc muxd entry (`mux-proxy [--env NAMES] -- CMD ARGS...`): the server it shares. */
  adhoc?: { command: string; args: string[] };
  /** For muxd entries: through mux-proxy (stdio) or muxd's HTTP front. */
  via?: MuxdTransport;
  /** For muxd entries over HTTP: the field holding the URL, in the spelling the entry uses (`url`, Gemini's `httpUrl`...). */
  urlKey?: string;
  /** Why the entry is skipped, or what it is (remote: its transport). */
  detail?: string;
  /** Settings the host reads that muxd cannot reproduce (`envFile`). */
  hostOnly: string[];
}

/** How a host entry reaches muxd: `mux-proxy <service>` over stdio, or `<http url>/mcp/<service>`. */
export const MuxdTransports = ['stdio', 'http'] as const;
export type MuxdTransport = (typeof MuxdTransports)[number];

/** What marks an entry as muxd's: the mux-proxy path rewire writes, and the base URLs and token of muxd's HTTP front. */
export interface MuxdMarks {
  proxyCommand?: string | undefined;
  /** Base URLs (`http://127.0.0.1:7777`): an entry whose URL is `<base>/mcp/<service>` goes through muxd. */
  httpUrls?: readonly string[] | undefined;
  /**
   * muxd's bearer token: an entry at `/mcp/<service>` on a loopback address
   * that sends it goes through muxd too, whatever its base URL says
   * (`localhost` for `127.0.0.1`, a front muxd is not running now).
   */
  httpToken?: string | undefined;
}

/** Every field a host keeps a remote server's URL in (shared/docs/hosts.md): an entry at muxd's front in any of them is muxd's. */
export const URL_KEYS = ['url', 'httpUrl', 'serverUrl', 'uri'] as const;
/** Every field a host keeps an HTTP entry's request headers in. */
export const HEADER_KEYS = ['headers', 'http_headers'] as const;

/**
 * Host variables muxd cannot expand: `${input:id}`, `${env:NAME}`, `${config:x}`...
 * (muxd reads only `${NAME}` and `${NAME:-default}`), and opencode's `{env:NAME}`, `{file:path}`.
 */
const HOST_VARIABLE = /\$\{[A-Za-z_][\w.]*:(?!-)[^}]*\}|(?<!\$)\{(?:env|file):[^}\s]+\}/;

/**
 * True when `text` holds a variable only a host can fill in: the forms
 * muxd cannot expand, and, given a host's `dialect`, the variables that host
 * fills in itself (Claude Code's `${VAR}`, Gemini CLI's `$VAR`).
 */
export function hasHostVariable(text: string, dialect?: Pick<EntryDialect, 'hostVariables'>): boolean {
  return hostVariableIn(text, dialect) !== undefined;
}

/** The first variable in `text` only a host can fill in (see `hasHostVariable`), as written. */
export function hostVariableIn(text: string, dialect?: Pick<EntryDialect, 'hostVariables'>): string | undefined {
  return HOST_VARIABLE.exec(text)?.[0] ?? dialect?.hostVariables?.exec(text)?.[0];
}

/** Every text of a spec that a host variable may hide in. */
export function specTexts(spec: ServerSpec): string[] {
  return [spec.command, ...spec.args, ...Object.values(spec.env), ...(spec.cwd === undefined ? [] : [spec.cwd])];
}

/**
 * True when `text` (an argument, the value of a `--flag=value`, an env
 * value) names a path relative to the working directory: `./x`, `../x`,
 * `.`, `..`; a path with a separator that is not absolute, a URL or
 * `scheme:` spec (`github:owner/repo`), or a scoped npm package
 * (`@scope/pkg`); a file name with an extension (`server.py`, `app.db`);
 * or a bare name that exists in `cwd`. Flags and plain words
 * (`-y`, `stdio`, `mcp-server-fetch`) are not.
 */
function namesRelativePath(text: string, cwd: string): boolean {
  const value = text.startsWith('-') ? (text.includes('=') ? text.slice(text.indexOf('=') + 1) : '') : text;
  if (value === '') return false;
  if (/^\.\.?(?:[\\/]|$)/.test(value)) return true;
  if (isAbsolute(value) || win32.isAbsolute(value) || value.startsWith('~')) return false;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value) || /^@[\w.-]+\/[\w.-]+(?:@[^/\\]*)?$/.test(value)) return false;
  if (/[\\/]/.test(value) || /^[^@=\s]+\.[A-Za-z][A-Za-z0-9]{0,9}$/.test(value)) return true;
  return existsSync(join(cwd, value));
}

/** True when `name` is an executable in one of `PATH`'s directories. */
function onPath(name: string, pathValue: string): boolean {
  return pathValue.split(delimiter).some((dir) => {
    if (dir === '' || !isAbsolute(dir)) return false;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * True when where a server runs can change what it does: its command is a
 * relative path (`./server`, `bin/server`), or a bare name found in `cwd`
 * but not on `PATH` (`env.PATH`); or an argument or env value names a
 * relative path (`namesRelativePath`: `node dist/index.js`,
 * `--db-path=app.db`, `MEMORY_FILE_PATH=./memory.jsonl`). A server that
 * does not (`npx -y @scope/server`, `uvx mcp-server-fetch`, an absolute
 * path) is the same server whatever directory it is started in. Programs
 * that look in their directory by themselves (a project's own
 * node_modules/.bin for npx, pyproject.toml for `uv run`) are not seen:
 * such an entry needs a `cwd` of its own.
 */
export function dependsOnCwd(spec: Pick<ServerSpec, 'command' | 'args' | 'env'>, cwd: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const { command } = spec;
  const relativeCommand = /[\\/]/.test(command) ? namesRelativePath(command, cwd) : !onPath(command, env['PATH'] ?? '') && existsSync(join(cwd, command));
  return relativeCommand || [...spec.args, ...Object.values(spec.env)].some((text) => namesRelativePath(text, cwd));
}

/** `cmd /c npx -y pkg` (Windows hosts) runs `npx -y pkg`: muxd starts the program itself. */
export function unwrapShell(command: string, args: string[]): { command: string; args: string[] } {
  const name = basename(command.replaceAll('\\', '/')).toLowerCase();
  if ((name === 'cmd' || name === 'cmd.exe') && args.length >= 2) {
    let index = 0;
    while (index < args.length && /^\/[a-z]$/i.test(args[index] as string) && !/^\/c$/i.test(args[index] as string)) index++;
    if (/^\/c$/i.test(args[index] ?? '') && index + 1 < args.length) {
      return { command: args[index + 1] as string, args: args.slice(index + 2) };
    }
  }
  return { command, args };
}

/** What a mux-proxy command line goes to: a service of muxd's config, or a server muxd runs ad hoc. */
export type ProxyTarget = { service: string } | { adhoc: { command: string; args: string[] } };

/**
 * What a `mux-proxy <service>` or `mux-proxy [--env NAMES] -- CMD ARGS...`
 * command line goes to (`node /path/mux-proxy.js ...` too), or undefined
 * when it runs no mux-proxy.
 */
export function proxyTarget(command: string, args: readonly string[], proxyCommand?: string): ProxyTarget | undefined {
  const isProxy = (path: string) => path === proxyCommand || /^mux-proxy(\.js|\.cjs|\.cmd)?$/.test(basename(path.replaceAll('\\', '/')));
  let rest: readonly string[];
  if (isProxy(command)) rest = args;
  // `node /path/to/mux-proxy.js <service>`
  else if (/^node(\.exe)?$/.test(basename(command.replaceAll('\\', '/'))) && args[0] !== undefined && isProxy(args[0])) rest = args.slice(1);
  else return undefined;
  const dashes = rest.indexOf('--');
  if (dashes !== -1 && rest[dashes + 1] !== undefined) return { adhoc: { command: rest[dashes + 1] as string, args: rest.slice(dashes + 2) } };
  return rest[0] === undefined || rest[0].startsWith('-') ? undefined : { service: rest[0] };
}

/**
 * The service `url` names on one of muxd's HTTP fronts (`<base>/mcp/<service>`),
 * or undefined when it is not one. With `anyLoopback` (the entry sends
 * muxd's token) any loopback origin counts as muxd's.
 */
export function httpService(url: string, bases: readonly string[], anyLoopback = false): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const match = /^\/mcp\/([^/]+)\/?$/.exec(parsed.pathname);
  if (!match || parsed.search !== '' || parsed.hash !== '') return undefined;
  const sameOrigin = bases.some((base) => {
    try {
      return new URL(base).origin === parsed.origin;
    } catch {
      return false;
    }
  });
  const loopback = anyLoopback && parsed.protocol === 'http:' && /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i.test(parsed.hostname);
  if (!sameOrigin && !loopback) return undefined;
  try {
    return decodeURIComponent(match[1] as string);
  } catch {
    return undefined;
  }
}

const REMOTE_TYPES = new Set(['http', 'sse', 'streamable-http', 'streamableHttp', 'streamable_http', 'remote', 'ws', 'websocket']);

/** True when `type` names an HTTP or SSE transport in some host's spelling. */
export function isRemoteType(type: unknown): boolean {
  return typeof type === 'string' && REMOTE_TYPES.has(type);
}

/** The bearer token an entry sends (`Authorization: Bearer <token>` in any host's headers field), or undefined. */
function bearerToken(raw: Record<string, unknown>): string | undefined {
  for (const key of HEADER_KEYS) {
    const headers = raw[key];
    if (!isJsonObject(headers)) continue;
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() !== 'authorization' || typeof value !== 'string') continue;
      const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
      if (match) return match[1];
    }
  }
  return undefined;
}

/**
 * The service a remote entry reaches on muxd's HTTP front, and the field its
 * URL is in: the host's own URL field first, then every host's spelling
 * (a Gemini entry written `"type": "http", "url": ...`, a Cursor one with
 * `serverUrl`), at a known base URL of muxd's front, or at a loopback address
 * with muxd's token. Gemini CLI's untyped `url` counts too: documented as
 * SSE, it tries Streamable HTTP first, and reaches muxd.
 */
function muxdHttpTarget(dialect: EntryDialect, raw: Record<string, unknown>, marks: MuxdMarks): { service: string; urlKey: string } | undefined {
  const keys = [...new Set([...(dialect.http ? [dialect.http.urlKey] : []), ...dialect.remoteKeys, ...URL_KEYS])];
  const token = marks.httpToken !== undefined && marks.httpToken !== '' && bearerToken(raw) === marks.httpToken;
  for (const key of keys) {
    const url = raw[key];
    if (typeof url !== 'string') continue;
    const service = httpService(url, marks.httpUrls ?? [], token);
    if (service !== undefined) return { service, urlKey: key };
  }
  return undefined;
}


/** A map of strings (numbers and booleans as text), or undefined when it is not one. Every key is kept, `__proto__` too. */
function stringMap(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return {};
  if (!isJsonObject(value)) return undefined;
  const entries: Array<[string, string]> = [];
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string') entries.push([key, item]);
    else if (typeof item === 'number' || typeof item === 'boolean') entries.push([key, String(item)]);
    else return undefined;
  }
  return Object.fromEntries(entries);
}

function stringList(value: unknown): string[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return undefined;
  const result: string[] = [];
  for (const item of value) {
    if (typeof item === 'string') result.push(item);
    else if (typeof item === 'number') result.push(String(item));
    else return undefined;
  }
  return result;
}

/** How a host spells a Streamable HTTP entry that sends request headers (shared/docs/hosts.md). */
export interface HttpDialect {
  /** The field holding the URL (`url`, `serverUrl`, Gemini's `httpUrl`). */
  urlKey: string;
  /** The field holding the request headers (`headers`, Codex's `http_headers`). */
  headersKey: string;
  /** The `type` an HTTP entry has, for hosts with the field. */
  type?: string;
}

/** How one host spells its entries: what marks a remote, an extension, a disabled entry. */
export interface EntryDialect {
  /** Keys whose presence makes an entry remote (`url`, `serverUrl`, `httpUrl`). */
  remoteKeys: readonly string[];
  /** Streamable HTTP with headers; undefined for hosts that run stdio servers only (Claude Desktop). */
  http?: HttpDialect;
  /**
   * Variables the host fills in itself, beyond the `${kind:name}` forms every
   * check knows (`${input:id}`, `${env:NAME}`): Claude Code's `${VAR}` and
   * `${VAR:-default}`, Gemini CLI's `$VAR`, VS Code's `${workspaceFolder}`.
   * Their values are the host's: an entry holding one is shared ad hoc.
   */
  hostVariables?: RegExp;
  /** Zed: `command` may be `{ path, args, env }`, and entries with only `settings` are extension servers. */
  zed?: boolean;
  /** How a stdio entry's fields are named, when not `command`/`args`/`env` (Goose, opencode). */
  stdioFields?: StdioFields;
  /** The entry types muxd may touch; an entry with another `type` is the host's own (Goose's builtins): an extension. */
  entryTypes?: readonly string[];
  /** The servers are a list whose items hold their name in this field (Continue's `name`), not a map keyed by name. */
  listedBy?: string;
}

/** The names of a stdio entry's fields in a host's spelling. */
export interface StdioFields {
  /** The program (Goose: `cmd`); with no `args` field, a list: the program, then its arguments (opencode). */
  command: string;
  /** The arguments; undefined when they are in `command`'s list. */
  args?: string;
  /** The environment (Goose: `envs`; opencode: `environment`). */
  env: string;
}

export const PLAIN_STDIO_FIELDS: StdioFields = { command: 'command', args: 'args', env: 'env' };

/**
 * Classifies one raw entry of a host's servers map. `marks` say what is
 * muxd's already: the mux-proxy path rewire writes, muxd's HTTP URLs.
 */
export function classifyEntry(dialect: EntryDialect, name: string, raw: unknown, marks: MuxdMarks = {}): HostEntry {
  const entry = (kind: EntryKind, extra: Partial<HostEntry> = {}): HostEntry => ({ name, kind, hostOnly: [], ...extra });
  if (!isJsonObject(raw)) return entry(EntryKind.Invalid, { detail: 'not an object' });
  const type = typeof raw['type'] === 'string' ? raw['type'] : undefined;
  if (dialect.entryTypes && type !== undefined && !dialect.entryTypes.includes(type)) {
    return entry(EntryKind.Extension, { detail: `a ${type} extension (the host manages it)` });
  }
  const remoteKey = [...dialect.remoteKeys, ...URL_KEYS].find((key) => raw[key] !== undefined && (dialect.remoteKeys.includes(key) || raw['command'] === undefined));
  if (remoteKey !== undefined || isRemoteType(type)) {
    const muxd = muxdHttpTarget(dialect, raw, marks);
    if (muxd) return entry(EntryKind.Muxd, { service: muxd.service, via: 'http', urlKey: muxd.urlKey });
    return entry(EntryKind.Remote, { detail: `a remote server (${type ?? remoteKey})` });
  }
  const names = dialect.stdioFields ?? PLAIN_STDIO_FIELDS;
  let command: unknown = raw[names.command];
  let args: unknown = names.args === undefined ? undefined : raw[names.args];
  let env: unknown = raw[names.env];
  if (names.args === undefined && command !== undefined) {
    // One list: the program, then its arguments.
    if (!Array.isArray(command)) return entry(EntryKind.Invalid, { detail: `${names.command} is not a list` });
    args = command.slice(1);
    command = command[0];
  }
  if (dialect.zed && isJsonObject(command)) {
    // Zed's older form: "command": { "path": ..., "args": [...], "env": {...} }
    args = command['args'];
    env = command['env'];
    command = command['path'];
  }
  if (command === undefined) {
    if (dialect.zed && (raw['settings'] !== undefined || raw['source'] === 'extension')) {
      return entry(EntryKind.Extension, { detail: 'an extension server (Zed manages it)' });
    }
    return entry(EntryKind.Invalid, { detail: 'no command' });
  }
  const argList = stringList(args);
  const envMap = stringMap(env);
  if (typeof command !== 'string' || command === '') return entry(EntryKind.Invalid, { detail: 'command is not a string' });
  if (argList === undefined) return entry(EntryKind.Invalid, { detail: 'args is not a list of strings' });
  if (envMap === undefined) return entry(EntryKind.Invalid, { detail: 'env is not a map of strings' });
  const proxied = proxyTarget(command, argList, marks.proxyCommand);
  if (proxied && 'service' in proxied) return entry(EntryKind.Muxd, { service: proxied.service, via: 'stdio' });
  if (proxied) return entry(EntryKind.Muxd, { adhoc: proxied.adhoc, via: 'stdio', detail: `shared ad hoc: ${commandLine(proxied.adhoc)}` });
  const unwrapped = unwrapShell(command, argList);
  const spec: ServerSpec = { command: unwrapped.command, args: unwrapped.args, env: envMap };
  if (typeof raw['cwd'] === 'string' && raw['cwd'] !== '') spec.cwd = raw['cwd'];
  const hostOnly: string[] = [];
  if (raw['envFile'] !== undefined) hostOnly.push('envFile');
  if (raw['disabled'] === true || raw['enabled'] === false) return entry(EntryKind.Disabled, { spec, hostOnly, detail: 'disabled in the host' });
  return entry(EntryKind.Stdio, { spec, hostOnly });
}

/** True when two specs start the same server. */
export function sameSpec(a: ServerSpec, b: ServerSpec): boolean {
  return (
    a.command === b.command &&
    a.args.length === b.args.length &&
    a.args.every((arg, index) => arg === b.args[index]) &&
    (a.cwd ?? '') === (b.cwd ?? '') &&
    sameEnv(a.env, b.env)
  );
}

function sameEnv(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && b[key] === a[key]);
}

/**
 * A service name for a host entry name: muxd's names are file names, so
 * other characters become '-'; a name every JavaScript object has
 * (`constructor`...), which muxd refuses, gets `-server` added.
 */
export function serviceNameFor(name: string): string {
  let result = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  if (result.length > 64) result = result.slice(0, 64);
  if (isPrototypeKey(result)) result = `${result}-server`;
  return isValidServiceName(result) ? result : 'server';
}

const REDACTED = '***';

/** Hides the values of secret-looking flags and the passwords in URLs, for printing. */
export function redactArgs(args: readonly string[]): string[] {
  return redactArgsWith(args, REDACTED);
}

export { argSecrets };

/** Env values fit to print: host variables as written (they hold no secret), literal values hidden. */
export function redactEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, /^\$\{[^}]*\}$/.test(value) ? value : REDACTED]));
}

/** A command line fit to print. */
export function commandLine(spec: { command: string; args: readonly string[] }): string {
  return [spec.command, ...redactArgs(spec.args)].map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : JSON.stringify(part))).join(' ');
}
