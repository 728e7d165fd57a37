/**
 * JSON read as text, for the fuzzer's byte-exact checks: the raw text of the
 * members of a message (its id above all: `1.0`, `-0`, `1e400` and
 * `9007199254740993` must come back as they were sent, which JSON.parse would
 * hide), and how deeply it nests. Iterative, so thousands of levels cost no
 * stack. The text must be valid JSON (check it with JSON.parse first).
 */

/** One JSON value, seen from outside: its kind, and for an object its top-level members as raw text. */
export interface RawValue {
  kind: 'object' | 'array' | 'scalar';
  /** An object's members: decoded key -> the raw text of its value (the last one wins, as in JSON.parse). */
  members: Map<string, string>;
  /** Arrays and objects nested inside it, itself included: `[[1]]` is 2, `1` is 0. */
  depth: number;
}

/** A line, seen from outside: the value, and for an array each element as a RawValue. */
export interface RawMessage extends RawValue {
  elements: RawValue[];
}

interface Frame {
  open: '{' | '[';
  start: number;
  /** In an object: waiting for a key (after `{` or `,`). */
  expectKey: boolean;
  key: string | undefined;
  /** Set for the frames whose members are recorded: the top level, and objects that are elements of a top-level array. */
  value: RawValue | undefined;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/** The end (exclusive) of the JSON string starting at `start` (its opening quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i += 2;
    else if (c === 0x22) return i + 1;
    else i++;
  }
  return i;
}

/** Reads a valid JSON text. */
export function scanJson(text: string): RawMessage {
  const top: RawMessage = { kind: 'scalar', members: new Map(), depth: 0, elements: [] };
  const stack: Frame[] = [];
  /** The element of a top-level array being read (its depth is tracked). */
  let element: RawValue | undefined;

  const finished = (start: number, end: number): void => {
    const parent = stack[stack.length - 1];
    if (parent === undefined) return;
    if (parent.value && parent.open === '{' && parent.key !== undefined) parent.value.members.set(parent.key, text.slice(start, end));
    parent.key = undefined;
    if (stack.length === 1 && top.kind === 'array' && element === undefined) top.elements.push({ kind: 'scalar', members: new Map(), depth: 0 });
    if (stack.length === 1) element = undefined;
  };

  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (WHITESPACE.has(c) || c === ':') {
      i++;
      continue;
    }
    if (c === ',') {
      const frame = stack[stack.length - 1];
      if (frame?.open === '{') frame.expectKey = true;
      i++;
      continue;
    }
    if (c === '"') {
      const end = stringEnd(text, i);
      const frame = stack[stack.length - 1];
      if (frame?.open === '{' && frame.expectKey) {
        frame.key = frame.value ? (JSON.parse(text.slice(i, end)) as string) : '';
        frame.expectKey = false;
      } else {
        finished(i, end);
      }
      i = end;
      continue;
    }
    if (c === '{' || c === '[') {
      const frame: Frame = { open: c, start: i, expectKey: c === '{', key: undefined, value: undefined };
      if (stack.length === 0) {
        top.kind = c === '{' ? 'object' : 'array';
        frame.value = top;
      } else if (stack.length === 1 && top.kind === 'array') {
        element = { kind: c === '{' ? 'object' : 'array', members: new Map(), depth: 0 };
        top.elements.push(element);
        frame.value = element;
      }
      stack.push(frame);
      top.depth = Math.max(top.depth, stack.length);
      if (element) element.depth = Math.max(element.depth, stack.length - 1);
      i++;
      continue;
    }
    if (c === '}' || c === ']') {
      const frame = stack.pop() as Frame;
      i++;
      // An element's own frame is done: `finished` must not count it as a scalar.
      finished(frame.start, i);
      continue;
    }
    // A number or a literal.
    let end = i;
    while (end < text.length && !WHITESPACE.has(text[end] as string) && !',]}:'.includes(text[end] as string)) end++;
    finished(i, end);
    i = end;
  }
  return top;
}

/** True for the raw text of a JSON string. */
export function isRawString(raw: string): boolean {
  return raw.startsWith('"');
}

/** True for the raw text of a JSON number (any spelling: `-0`, `1.0`, `1e400`). */
export function isRawNumber(raw: string): boolean {
  return /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/.test(raw);
}

/**
 * An id as the oracle compares it: a number byte for byte (`1.0` is not
 * `1`), a string as the string it is (`"\/"` and `"/"` are one id: JSON-RPC
 * compares values, and muxd writes strings as JSON.stringify does).
 */
export function idText(raw: string | undefined): string | undefined {
  if (raw === undefined || !isRawString(raw)) return raw;
  try {
    return JSON.stringify(JSON.parse(raw));
  } catch {
    return raw;
  }
}

/** True for a raw id a JSON-RPC request may carry: a string or a number, spelled any way JSON allows. */
export function isRawId(raw: string | undefined): raw is string {
  return raw !== undefined && (isRawString(raw) || isRawNumber(raw));
}

/**
 * Nesting depth of any text, JSON or not: brackets outside strings (a string
 * left open runs to the end). For lines that are not JSON, where a muxd that
 * measures depth before parsing might see a deep message.
 */
export function bracketDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) i = stringEnd(text, i) - 1;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth = Math.max(0, depth - 1);
  }
  return max;
}

/**
 * Splits bytes into lines as muxd's reader does: on `\n`, without a trailing
 * `\r`, empty lines skipped. The last piece, if not ended by `\n`, is returned
 * apart as `rest`.
 */
export function splitLines(bytes: Buffer): { lines: Buffer[]; rest: Buffer } {
  const lines: Buffer[] = [];
  let start = 0;
  for (let newline = bytes.indexOf(0x0a); newline !== -1; newline = bytes.indexOf(0x0a, start)) {
    let line = bytes.subarray(start, newline);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (line.length > 0) lines.push(line);
    start = newline + 1;
  }
  return { lines, rest: bytes.subarray(start) };
}

/** True when `bytes` is not valid UTF-8 (decoding would replace something with U+FFFD). */
export function isInvalidUtf8(bytes: Buffer): boolean {
  return !Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

/** A short, printable view of a long text: runs of a repeated piece are folded (`"[" x 5000`), the middle of very long text cut. */
export function preview(text: string, max = 600): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    let folded = false;
    for (let unit = 1; unit <= 8 && !folded; unit++) {
      const piece = text.slice(i, i + unit);
      if (piece.length < unit) break;
      let count = 1;
      while (text.startsWith(piece, i + count * unit)) count++;
      if (count * unit >= 24) {
        out += `⟨${JSON.stringify(piece)} x ${count}⟩`;
        i += count * unit;
        folded = true;
      }
    }
    if (!folded) {
      out += text[i];
      i++;
    }
  }
  if (out.length > max) out = `${out.slice(0, max / 2)}⟨… ${out.length - max} chars …⟩${out.slice(out.length - max / 2)}`;
  return JSON.stringify(out);
}
