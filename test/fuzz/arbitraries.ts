/**
 * fast-check arbitraries for the fuzzer: JSON-RPC-shaped traffic written as
 * raw text, so that every byte is the fuzzer's choice (number spellings,
 * string escapes, member order, whitespace), for the three surfaces muxd
 * reads: its data sockets, its HTTP front, and a child's stdout.
 */
import fc from 'fast-check';
import { preview } from './rawJson.js';

type Arb<T> = fc.Arbitrary<T>;

// ------------------------------------------------------------------ numbers

/** Numbers JSON allows and doubles do not keep as written. */
export const ODD_NUMBERS = [
  '9007199254740993',
  '9007199254740992',
  '-9007199254740993',
  '18446744073709551617',
  '123456789012345678901234567890',
  '1e400',
  '-1e400',
  '1E400',
  '1e-400',
  '-0',
  '0.0',
  '-0.0',
  '1.5',
  '-2.25',
  '1.0',
  '1.50',
  '0.1',
  '1e2',
  '1E+2',
  '2.5e-3',
  '1e21',
  '1e+21',
  '123e-2',
  '5e-324',
  '1.7976931348623157e308',
  '0e0',
  '-0e-0',
  '100000000000000000000000',
] as const;

export const numberToken: Arb<string> = fc.oneof(
  { weight: 3, arbitrary: fc.nat().map(String) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 4, arbitrary: fc.constantFrom(...ODD_NUMBERS) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => JSON.stringify(value)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: -999, max: 999 }), fc.nat(99), fc.constantFrom('e', 'E', 'e+', 'e-', 'E-'), fc.nat(420))
      .map(([whole, fraction, e, exponent]) => `${whole}.${fraction}${e}${exponent}`),
  },
);

// ------------------------------------------------------------------ strings

/** Code units that have broken JSON handling somewhere: NUL, lone surrogates, BOM, RTL marks, emoji, line separators. */
export const ODD_UNITS = [
  '\u0000',
  '\ud800',
  '\udfff',
  '\udbff',
  '\ufeff',
  '\u202e',
  '\u200f',
  '\u2028',
  '\u2029',
  '\u{1f600}',
  '\u{1f469}\u200d\u{1f469}\u200d\u{1f467}',
  'é',
  'e\u0301',
  '中',
  '\u0085',
  '\u001f',
  '"',
  '\\',
  '/',
  '\u007f',
  '\ufdfa',
  '\uffff',
  '\ufffe',
] as const;

const unit: Arb<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...'abcxyz019 -_.') },
  { weight: 3, arbitrary: fc.constantFrom(...ODD_UNITS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

export const oddText: Arb<string> = fc.string({ unit, maxLength: 16 });

/** How a string is written as JSON. Only `canonical` is what JSON.stringify writes. */
export type StringStyle = 'canonical' | 'escapeNonAscii' | 'escapeAll' | 'escapeAllUpper' | 'slashes';

const hex = (code: number, upper: boolean): string => {
  const digits = code.toString(16).padStart(4, '0');
  return `\\u${upper ? digits.toUpperCase() : digits}`;
};

/** `value` written as a JSON string in `style`. */
export function renderString(value: string, style: StringStyle): string {
  const canonical = JSON.stringify(value);
  switch (style) {
    case 'canonical':
      return canonical;
    case 'slashes':
      return canonical.replace(/\//g, '\\/');
    case 'escapeNonAscii':
      return canonical.replace(/[^\x20-\x7e]/g, (char) => hex(char.charCodeAt(0), false));
    case 'escapeAll':
    case 'escapeAllUpper': {
      let out = '"';
      for (let i = 0; i < value.length; i++) out += hex(value.charCodeAt(i), style === 'escapeAllUpper');
      return out + '"';
    }
  }
}

const stringStyle: Arb<StringStyle> = fc.constantFrom<StringStyle>('canonical', 'canonical', 'canonical', 'canonical', 'escapeNonAscii', 'escapeAll', 'escapeAllUpper', 'slashes');

export const stringToken: Arb<string> = fc.tuple(oddText, stringStyle).map(([value, style]) => renderString(value, style));

/** A very long JSON string: many copies of one piece, as written inside the quotes. */
export const longStringToken: Arb<string> = fc
  .tuple(fc.constantFrom('x', 'é', '\u{1f600}', '\\u0000', '\\ud800', '\u202e', 'ab\\"'), fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1000, max: 100_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 100_000, max: 1_000_000 }) }))
  .map(([piece, count]) => `"${piece.repeat(count)}"`);

// --------------------------------------------------------------------- ids

/** Ids a request may carry (strings and numbers, any spelling). */
export const idToken: Arb<string> = fc.oneof(
  { weight: 3, arbitrary: numberToken },
  { weight: 2, arbitrary: stringToken },
  { weight: 1, arbitrary: fc.constantFrom('""', '"1"', '"-0"', '"1e400"', '"\\ud800"', '"\\uD800"', '"\\u0041"', '"\\/"', '"\\u00e9"', '"\\uD83D\\uDE00"') },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((count) => `"${'i'.repeat(count)}"`) },
);

/** Values that are not ids: the message carrying one is invalid. */
export const badIdToken: Arb<string> = fc.oneof(
  fc.constantFrom('null', 'true', 'false', '{}', '[]', '[1]', '{"id":1}', '[[[[[[[[[[1]]]]]]]]]]'),
  fc.integer({ min: 129, max: 6000 }).map((depth) => '['.repeat(depth) + '1' + ']'.repeat(depth)),
);

// ------------------------------------------------------------- deep nesting

const DEEP_UNITS: ReadonlyArray<readonly [string, string]> = [
  ['[', ']'],
  ['{"a":', '}'],
  ['[{"":', '}]'],
  ['{"x":[', ']}'],
  ['[1,', ']'],
  ['{"id":', '}'],
];

/** Nesting depths: shallow, around the 128-level limit, and far past it. */
export const depth: Arb<number> = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 200 }) },
  { weight: 3, arbitrary: fc.integer({ min: 129, max: 12_000 }) },
);

const leaf: Arb<string> = fc.oneof(numberToken, stringToken, fc.constantFrom('true', 'false', 'null', '{}', '[]'));

export const deepToken: Arb<string> = fc
  .tuple(fc.constantFrom(...DEEP_UNITS), depth, leaf)
  .map(([[open, close], levels, inner]) => open.repeat(levels) + inner + close.repeat(levels));

/** A deep array with its brackets never closed, or closed too often. */
export const unbalancedDeep: Arb<string> = fc
  .tuple(fc.constantFrom('[', '{"a":', ']', '}'), fc.integer({ min: 129, max: 12_000 }))
  .map(([piece, levels]) => piece.repeat(levels));

// ------------------------------------------------------------------ values

const sep: Arb<string> = fc.constantFrom('', '', '', '', ' ', '\t', '  ', '\r');

function array(of: Arb<string>): Arb<string> {
  return fc.tuple(fc.array(of, { maxLength: 4 }), sep).map(([items, space]) => `[${space}${items.join(`,${space}`)}${space}]`);
}

const keyToken: Arb<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('"a"', '"text"', '"_meta"', '"__proto__"', '"constructor"', '"id"', '"method"', '""') },
  { weight: 2, arbitrary: stringToken },
);

function object(of: Arb<string>): Arb<string> {
  return fc
    .tuple(fc.array(fc.tuple(keyToken, of), { maxLength: 4 }), sep)
    .map(([members, space]) => `{${space}${members.map(([key, value]) => `${key}${space}:${space}${value}`).join(`,${space}`)}${space}}`);
}

const value0: Arb<string> = fc.oneof({ weight: 6, arbitrary: leaf }, { weight: 2, arbitrary: deepToken }, { weight: 1, arbitrary: longStringToken });
const value1: Arb<string> = fc.oneof({ weight: 4, arbitrary: leaf }, { weight: 2, arbitrary: array(value0) }, { weight: 2, arbitrary: object(value0) }, { weight: 2, arbitrary: deepToken });
/** Any JSON value, up to three levels of ordinary structure, possibly with a deep or very long value inside. */
export const valueToken: Arb<string> = fc.oneof({ weight: 3, arbitrary: leaf }, { weight: 2, arbitrary: array(value1) }, { weight: 2, arbitrary: object(value1) }, { weight: 2, arbitrary: deepToken });
/** A JSON object. */
export const objectToken: Arb<string> = fc.oneof({ weight: 3, arbitrary: object(value1) }, { weight: 1, arbitrary: deepToken.map((deep) => `{"deep":${deep}}`) });

// ---------------------------------------------------------------- messages

/** Writes members in the order `order` picks (a permutation drawn from one number), with `space` around tokens. */
function envelope(members: Array<[string, string]>, order: number, space: string): string {
  const rest = [...members];
  const ordered: Array<[string, string]> = [];
  let pick = order;
  while (rest.length > 0) {
    const index = pick % rest.length;
    pick = Math.floor(pick / rest.length);
    ordered.push(rest.splice(index, 1)[0] as [string, string]);
  }
  return `{${space}${ordered.map(([key, value]) => `${key}${space}:${space}${value}`).join(`,${space}`)}${space}}`;
}

const VERSION = '"2.0"';
const idKeyToken: Arb<string> = fc.constantFrom('"id"', '"id"', '"id"', '"id"', '"id"', '"\\u0069d"');

export const METHODS = [
  'ping',
  'tools/list',
  'tools/call',
  'initialize',
  'resources/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'logging/setLevel',
  'completion/complete',
  'tasks/list',
  'tasks/get',
  'tasks/cancel',
  'no/such/method',
  '',
  // Names every JavaScript object has: a lookup by method name must not find Object.prototype's.
  '__proto__',
  'constructor',
  'toString',
] as const;

const methodToken: Arb<string> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...METHODS), stringStyle).map(([method, style]) => renderString(method, style)) },
  { weight: 1, arbitrary: stringToken },
);

/** Params for `method`: what the method takes, with odd values in it, or anything. */
function paramsFor(method: string): Arb<string> {
  const args = fc.oneof(
    object(value1),
    fc.tuple(fc.oneof(stringToken, valueToken, longStringToken)).map(([message]) => `{"message":${message}}`),
  );
  const specific: Arb<string> | undefined =
    method === 'tools/call'
      ? fc.tuple(fc.constantFrom('"echo"', '"echo"', '"nope"', '"e\\u0063ho"'), args).map(([name, values]) => `{"name":${name},"arguments":${values}}`)
      : method === 'logging/setLevel'
        ? fc.oneof(fc.constantFrom('debug', 'info', 'emergency', 'nonsense').map((level) => `{"level":"${level}"}`), object(value0))
        : method === 'initialize'
          ? fc.constantFrom('{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"0"}}', '{}', '{"protocolVersion":1e400}')
          : undefined;
  const withMeta = fc.tuple(fc.oneof(idToken, badIdToken), objectToken).map(([token, rest]) => `{"_meta":{"progressToken":${token}},"rest":${rest}}`);
  return specific ? fc.oneof({ weight: 3, arbitrary: specific }, { weight: 1, arbitrary: objectToken }, { weight: 1, arbitrary: withMeta }) : fc.oneof({ weight: 3, arbitrary: objectToken }, { weight: 1, arbitrary: withMeta });
}

/** A well-formed request (its values may still be deep or odd). */
export const requestText: Arb<string> = fc
  .tuple(fc.constantFrom(...METHODS), stringStyle, idToken, idKeyToken, fc.nat(), sep, fc.boolean())
  .chain(([method, style, id, idKey, order, space, withParams]) =>
    (withParams ? paramsFor(method).map((params): string | undefined => params) : fc.constant(undefined)).map((params) => {
      const members: Array<[string, string]> = [['"jsonrpc"', VERSION], [idKey, id], ['"method"', renderString(method, style)]];
      if (params !== undefined) members.push(['"params"', params]);
      return envelope(members, order, space);
    }),
  );

/** A request with a deep value next to its id (a member of its own, before or after the id). */
export const deepNeighbourRequest: Arb<string> = fc
  .tuple(fc.constantFrom('ping', 'tools/list', 'tools/call'), idToken, deepToken, fc.nat(), fc.constantFrom('"x"', '"params"', '"_meta"'))
  .map(([method, id, deep, order, key]) => envelope([['"jsonrpc"', VERSION], ['"id"', id], ['"method"', JSON.stringify(method)], [key, key === '"params"' ? `{"deep":${deep}}` : deep]], order, ''));

const NOTIFICATIONS = ['notifications/initialized', 'notifications/progress', 'notifications/roots/list_changed', 'notifications/message', 'notifications/cancelled', 'no/such/notification'] as const;

export const notificationText: Arb<string> = fc
  .tuple(fc.constantFrom(...NOTIFICATIONS), fc.option(objectToken), fc.oneof(idToken, badIdToken), fc.nat(), sep)
  .map(([method, params, requestId, order, space]) => {
    const members: Array<[string, string]> = [['"jsonrpc"', VERSION], ['"method"', JSON.stringify(method)]];
    if (method === 'notifications/cancelled') members.push(['"params"', `{"requestId":${requestId},"reason":"fuzz"}`]);
    else if (method === 'notifications/progress') members.push(['"params"', `{"progressToken":${requestId},"progress":${params === null ? '1' : params}}`]);
    else if (params !== null) members.push(['"params"', params]);
    return envelope(members, order, space);
  });

/** A response the client sends although nobody asked it anything (wrong ids). */
export const clientResponseText: Arb<string> = fc
  .tuple(idToken, fc.oneof(objectToken.map((result) => ['"result"', result] as [string, string]), fc.tuple(numberToken, stringToken, fc.option(valueToken)).map(([code, message, data]) => ['"error"', `{"code":${code},"message":${message}${data === null ? '' : `,"data":${data}`}}`] as [string, string])), fc.nat())
  .map(([id, payload, order]) => envelope([['"jsonrpc"', VERSION], ['"id"', id], payload], order, ''));

/** Messages that are JSON but not valid JSON-RPC. */
export const invalidText: Arb<string> = fc.oneof(
  idToken.map((id) => `{"jsonrpc":"1.0","id":${id},"method":"ping"}`),
  idToken.map((id) => `{"id":${id},"method":"ping"}`),
  idToken.map((id) => `{"jsonrpc":"2.0","id":${id}}`),
  fc.tuple(idToken, valueToken).map(([id, method]) => `{"jsonrpc":"2.0","id":${id},"method":${method.startsWith('"') ? '42' : method}}`),
  fc.tuple(badIdToken, fc.constantFrom('ping', 'tools/list')).map(([id, method]) => `{"jsonrpc":"2.0","id":${id},"method":"${method}"}`),
  idToken.map((id) => `{"jsonrpc":"2.0","id":${id},"method":"ping","params":[1,2]}`),
  idToken.map((id) => `{"jsonrpc":"2.0","id":${id},"method":"ping","params":"nope"}`),
  idToken.map((id) => `{"jsonrpc":"2.0","id":${id},"result":{},"error":{"code":1,"message":"both"}}`),
  idToken.map((id) => `{"jsonrpc":"2.0","id":${id},"result":5}`),
  idToken.map((id) => `{"jsonrpc":"2.0","id":${id},"error":{"message":"no code"}}`),
  fc.constantFrom('{"jsonrpc":"2.0","id":null,"result":{}}', '42', '"a string"', 'null', 'true', '1e400', '{}', '[]', '[[]]', '[1,2,3]', '{"jsonrpc":"2.0"}'),
  fc.tuple(idToken, idToken).map(([first, second]) => `{"jsonrpc":"2.0","id":${first},"method":"ping","id":${second}}`),
  valueToken,
);

/** A batch (2025-03-26): requests, notifications, responses and invalid members together. */
export const batchText: Arb<string> = fc
  .array(fc.oneof({ weight: 4, arbitrary: requestText }, { weight: 1, arbitrary: notificationText }, { weight: 1, arbitrary: clientResponseText }, { weight: 1, arbitrary: invalidText }), { maxLength: 6 })
  .map((members) => `[${members.join(',')}]`);

/** Lines that are not JSON at all. */
export const garbageText: Arb<string> = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  requestText.map((request) => request.slice(0, Math.max(1, Math.floor(request.length / 2)))),
  requestText.map((request) => `\ufeff${request}`),
  requestText.map((request) => `${request.slice(0, 1)}\u0000${request.slice(1)}`),
  idToken.map((id) => `{"jsonrpc":"2.0","id":${id},"method":"pi\u0001ng"}`),
  idToken.map((id) => `{"jsonrpc":"2.0","id":${id},"method":"ping",}`),
  idToken.map((id) => `{'jsonrpc':'2.0','id':${id},'method':'ping'}`),
  fc.constantFrom('NaN', 'Infinity', '-', '01', '1.', '.5', '+1', '0x10', '{"a":1}{"b":2}', 'nul', '"unterminated', '{"id":1e400e3}', '\u0000', '\ufeff'),
  unbalancedDeep,
);

/** One line as bytes, possibly with bytes that are not UTF-8 inside a string. */
export const invalidUtf8Line: Arb<Buffer> = fc
  .tuple(idToken, fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xf4, 0x90, 0x80, 0x80]))
  .map(([id, bad]) => {
    const [before, after] = `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"message":"<>"}}}`.split('<>') as [string, string];
    return Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]);
  });

/** Many small requests at once, past maxInflight. */
export const flood: Arb<string[]> = fc
  .tuple(fc.integer({ min: 50, max: 1500 }), fc.constantFrom('ping', 'tools/list', 'echo'), fc.nat(1_000_000))
  .map(([count, kind, base]) =>
    Array.from({ length: count }, (_, k) => {
      const id = k % 2 === 0 ? String(base + k) : `"flood-${base + k}"`;
      return kind === 'echo'
        ? `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"message":"flood ${k}"}}}`
        : `{"jsonrpc":"2.0","id":${id},"method":"${kind}"}`;
    }),
  );

/** One client message of any kind, as lines of text or bytes. */
export const clientLines: Arb<Array<string | Buffer>> = fc.oneof(
  { weight: 6, arbitrary: requestText.map((line) => [line]) },
  { weight: 2, arbitrary: notificationText.map((line) => [line]) },
  { weight: 2, arbitrary: clientResponseText.map((line) => [line]) },
  { weight: 3, arbitrary: invalidText.map((line) => [line]) },
  { weight: 2, arbitrary: batchText.map((line) => [line]) },
  { weight: 2, arbitrary: garbageText.map((line) => [line]) },
  { weight: 3, arbitrary: deepNeighbourRequest.map((line) => [line]) },
  { weight: 1, arbitrary: invalidUtf8Line.map((line) => [line]) },
  { weight: 1, arbitrary: flood },
  // The same request twice in a row: the second arrives while the first is in flight.
  { weight: 1, arbitrary: requestText.map((line) => [line, line]) },
);

// ---------------------------------------------------------------- servers

/** Numeric ids muxd never uses upstream (it counts up from 1): negative, fractional, far too large. */
const strayNumber: Arb<string> = fc.oneof(
  fc.constantFrom('-1', '-0', '0.5', '1.5', '-2.25', '1e400', '-1e400', '9007199254740993', '18446744073709551617', '1e10', '2.5E12', '4294967296', '1000000000'),
  fc.integer({ min: 1_000_000_000, max: 2_000_000_000 }).map(String),
  fc.integer({ min: -1_000_000, max: -1 }).map(String),
);
/** Ids that answer nothing muxd asked (strings, or numbers it never used). */
export const strayIdToken: Arb<string> = fc.oneof(strayNumber, stringToken);

const SERVER_REQUESTS = ['ping', 'sampling/createMessage', 'elicitation/create', 'roots/list', 'tasks/get', 'no/such/request'] as const;
const SERVER_NOTIFICATIONS = [
  'notifications/message',
  'notifications/progress',
  'notifications/tools/list_changed',
  'notifications/resources/updated',
  'notifications/cancelled',
  'notifications/tasks/status',
  'no/such/notification',
] as const;

/** What a server may print on stdout: every kind of line, right and wrong. */
export const serverFrame: Arb<string> = fc.oneof(
  // Notifications, odd or deep params.
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...SERVER_NOTIFICATIONS), objectToken, fc.nat()).map(([method, params, order]) => envelope([['"jsonrpc"', VERSION], ['"method"', JSON.stringify(method)], ['"params"', params]], order, '')) },
  // Responses to ids muxd never used.
  { weight: 3, arbitrary: fc.tuple(strayIdToken, valueToken, fc.nat()).map(([id, result, order]) => envelope([['"jsonrpc"', VERSION], ['"id"', id], ['"result"', result.startsWith('{') ? result : `{"v":${result}}`]], order, '')) },
  // An answer to the call itself ($ID), spelled in several ways, odd or deep.
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('$ID', '$ID', '$ID.0', '$IDe0', '"$ID"'), objectToken, fc.boolean()).map(([id, result, error]) => (error ? `{"jsonrpc":"2.0","id":${id},"error":{"code":-32000,"message":"early","data":${result}}}` : `{"jsonrpc":"2.0","id":${id},"result":${result}}`)) },
  // Requests to the clients, odd ids and params.
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...SERVER_REQUESTS), fc.oneof(idToken, strayIdToken), objectToken).map(([method, id, params]) => `{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${params}}`) },
  // Not JSON-RPC, or not JSON.
  { weight: 2, arbitrary: invalidText },
  { weight: 2, arbitrary: garbageText },
  // A batch from the server.
  { weight: 1, arbitrary: fc.array(fc.tuple(strayIdToken, objectToken), { minLength: 1, maxLength: 4 }).map((members) => `[${members.map(([id, result]) => `{"jsonrpc":"2.0","id":${id},"result":${result}}`).join(',')}]`) },
  // A flood of notifications.
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 10, max: 3000 }), fc.constantFrom('notifications/message', 'notifications/progress', 'no/such/notification')).map(([count, method]) =>
      Array.from({ length: count }, (_, k) => `{"jsonrpc":"2.0","method":"${method}","params":{"level":"info","data":"flood ${k}","progressToken":${k},"progress":${k}}}`).join('\n'),
    ),
  },
  // A very long line.
  { weight: 1, arbitrary: longStringToken.map((text) => `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":${text}}}`) },
);

/** Bytes a server writes: frames, each on its line, or sometimes run together; possibly with bytes that are not UTF-8. */
export const serverPayload: Arb<Buffer> = fc
  .tuple(fc.array(serverFrame, { minLength: 1, maxLength: 6 }), fc.constantFrom('\n', '\n', '\n', '\r\n', '\n\n'), fc.boolean(), fc.option(fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82])))
  .map(([frames, newline, endsOpen, bad]) => {
    const text = frames.join(newline) + (endsOpen ? '' : newline);
    return bad === null ? Buffer.from(text) : Buffer.concat([Buffer.from(text), Buffer.from(bad), Buffer.from('\n')]);
  });

// -------------------------------------------------------------- scenarios

/** Where to cut a stream of bytes across writes: positions (taken modulo the length), and whether to also cut inside each multi-byte character. */
export interface Cuts {
  at: number[];
  insideCharacters: boolean;
}

export const cuts: Arb<Cuts> = fc.record({ at: fc.array(fc.nat(), { maxLength: 12 }), insideCharacters: fc.boolean() });

export interface SocketScenario {
  surface: 'socket';
  /** Send initialize (and initialized) first, as clients must. */
  initialize: boolean;
  lines: Array<string | Buffer>;
  cuts: Cuts;
}

export interface HttpBody {
  body: string | Buffer;
  cuts: Cuts;
}

export interface HttpScenario {
  surface: 'http';
  protocolVersion: string;
  bodies: HttpBody[];
  /** POST the bodies all at once instead of one after the other. */
  parallel: boolean;
}

export interface Emit {
  /** The raw id of the tools/call that asks for it. */
  id: string;
  payload: Buffer;
  cuts: Cuts;
  /** A progress token for the call, raw, or null. */
  progressToken: string | null;
}

export interface ChildScenario {
  surface: 'child';
  emits: Emit[];
  /** Ordinary lines the same client sends while the server misbehaves. */
  lines: Array<string | Buffer>;
}

export type Scenario = SocketScenario | HttpScenario | ChildScenario;
export type Surface = Scenario['surface'];

function describeLine(line: string | Buffer): string {
  return typeof line === 'string' ? preview(line, 400) : `bytes(${preview(line.toString('latin1'), 400)})`;
}

/** A short, readable description, for counterexamples (long and deep text folded). */
export function describeScenario(scenario: Scenario): string {
  switch (scenario.surface) {
    case 'socket':
      return [`socket scenario: initialize=${scenario.initialize}, cuts=${JSON.stringify(scenario.cuts)}, ${scenario.lines.length} line(s):`, ...scenario.lines.slice(0, 40).map((line) => `  ${describeLine(line)}`), scenario.lines.length > 40 ? `  … ${scenario.lines.length - 40} more` : ''].filter(Boolean).join('\n');
    case 'http':
      return [`http scenario: protocolVersion=${scenario.protocolVersion}, parallel=${scenario.parallel}, ${scenario.bodies.length} POST(s):`, ...scenario.bodies.map((body) => `  ${describeLine(body.body)} cuts=${JSON.stringify(body.cuts)}`)].join('\n');
    case 'child':
      return [
        `child scenario: ${scenario.emits.length} emit(s), ${scenario.lines.length} other line(s):`,
        ...scenario.emits.map((emit) => `  emit id=${preview(emit.id, 80)} progressToken=${emit.progressToken === null ? 'none' : preview(emit.progressToken, 80)} cuts=${JSON.stringify(emit.cuts)} payload=${describeLine(emit.payload.toString('utf8'))}`),
        ...scenario.lines.map((line) => `  line ${describeLine(line)}`),
      ].join('\n');
  }
}

function printable<T extends Scenario>(scenario: T): T {
  Object.defineProperty(scenario, fc.toStringMethod, { value: () => describeScenario(scenario), enumerable: false });
  return scenario;
}

export const socketScenario: Arb<SocketScenario> = fc
  .record({
    initialize: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    lines: fc.array(clientLines, { minLength: 1, maxLength: 10 }).map((groups) => groups.flat()),
    cuts,
  })
  .map((scenario) => printable({ surface: 'socket' as const, ...scenario }));

const httpBody: Arb<HttpBody> = fc.record({
  body: fc.oneof(
    { weight: 6, arbitrary: requestText },
    { weight: 2, arbitrary: notificationText },
    { weight: 1, arbitrary: clientResponseText },
    { weight: 2, arbitrary: invalidText },
    { weight: 3, arbitrary: batchText },
    { weight: 2, arbitrary: garbageText },
    { weight: 3, arbitrary: deepNeighbourRequest },
    { weight: 1, arbitrary: invalidUtf8Line },
    { weight: 1, arbitrary: flood.map((lines) => `[${lines.slice(0, 300).join(',')}]`) },
    { weight: 1, arbitrary: requestText.map((line) => `[${line},${line}]`) },
  ),
  cuts,
});

export const httpScenario: Arb<HttpScenario> = fc
  .record({
    protocolVersion: fc.constantFrom('2025-11-25', '2025-06-18', '2025-03-26'),
    bodies: fc.array(httpBody, { minLength: 1, maxLength: 5 }),
    parallel: fc.boolean(),
  })
  .map((scenario) => printable({ surface: 'http' as const, ...scenario }));

export const childScenario: Arb<ChildScenario> = fc
  .record({
    emits: fc.array(fc.record({ id: idToken, payload: serverPayload, cuts, progressToken: fc.option(idToken) }), { minLength: 1, maxLength: 3 }),
    lines: fc.array(requestText, { maxLength: 3 }),
  })
  .map((scenario) => printable({ surface: 'child' as const, ...scenario }));

export const scenarios: Record<Surface, Arb<Scenario>> = {
  socket: socketScenario,
  http: httpScenario,
  child: childScenario,
};

/** Every surface at once: what `npm run fuzz` draws from. */
export const anyScenario: Arb<Scenario> = fc.oneof(socketScenario, httpScenario, childScenario);
