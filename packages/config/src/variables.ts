import { MuxError, MuxErrorCodes } from '@muxd/protocol';

/** `${A:-${B:-...}}` nests at most this deep in one config string. */
export const MAX_VARIABLE_NESTING = 8;

/** Longest a config string may grow to once its variables are expanded: Linux passes no longer argument or variable to a program. */
export const MAX_EXPANDED_LENGTH = 128 * 1024;

/** A parsed config string: literal text, and variables with their defaults. */
type Template = Array<string | { name: string; fallback: Template | undefined }>;

const VARIABLE_NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/**
 * Parses `text` from `start` into a template. Inside a default (`nested`),
 * stops at the `}` that closes it; `end` is where parsing stopped, and
 * `closed` whether that `}` was found. A `${` that does not open a
 * well-formed variable is literal text, as it was before defaults nested.
 */
function parseTemplate(text: string, start: number, depth: number, nested: boolean, fail: (message: string) => never): { template: Template; end: number; closed: boolean } {
  const template: Template = [];
  let literal = '';
  let index = start;
  while (index < text.length) {
    if (nested && text[index] === '}') {
      if (literal) template.push(literal);
      return { template, end: index, closed: true };
    }
    if (text.startsWith('${', index)) {
      VARIABLE_NAME.lastIndex = index + 2;
      const name = VARIABLE_NAME.exec(text)?.[0];
      const after = index + 2 + (name?.length ?? 0);
      if (name !== undefined && text[after] === '}') {
        if (literal) template.push(literal);
        literal = '';
        template.push({ name, fallback: undefined });
        index = after + 1;
        continue;
      }
      if (name !== undefined && text.startsWith(':-', after)) {
        if (depth >= MAX_VARIABLE_NESTING) fail(`\${...:-default} nested more than ${MAX_VARIABLE_NESTING} deep`);
        const inner = parseTemplate(text, after + 2, depth + 1, true, fail);
        if (inner.closed) {
          if (literal) template.push(literal);
          literal = '';
          template.push({ name, fallback: inner.template });
          index = inner.end + 1;
          continue;
        }
      }
    }
    literal += text[index];
    index++;
  }
  if (literal) template.push(literal);
  return { template, end: index, closed: false };
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` with values from `env`, as the
 * shell does: the default also stands in for an empty variable, while a
 * plain `${VAR}` set to '' expands to ''; a default may hold variables of
 * its own (`${A:-${B:-x}}`), expanded only when it is used. Only `env`'s own
 * entries count (`${constructor}` is not Object's). Throws
 * `MUX_CONFIG_INVALID` for an unset variable without a default, defaults
 * nested more than `MAX_VARIABLE_NESTING` deep, or a result longer than
 * `MAX_EXPANDED_LENGTH`.
 */
export function expandVariables(text: string, env: NodeJS.ProcessEnv, where: string, file: string): string {
  const fail = (message: string): never => {
    throw new MuxError(MuxErrorCodes.ConfigInvalid, `${file}: ${where}: ${message}`);
  };
  let length = 0;
  const counted = (piece: string): string => {
    length += piece.length;
    if (length > MAX_EXPANDED_LENGTH) fail(`expands to more than ${MAX_EXPANDED_LENGTH / 1024} KiB, the longest string Linux passes to a program`);
    return piece;
  };
  const expand = (template: Template): string => {
    let out = '';
    for (const part of template) {
      if (typeof part === 'string') {
        out += counted(part);
        continue;
      }
      const value = Object.hasOwn(env, part.name) ? env[part.name] : undefined;
      if (part.fallback !== undefined && (value === undefined || value === '')) out += expand(part.fallback);
      else if (value !== undefined) out += counted(value);
      else fail(`environment variable ${part.name} is not set (write \${${part.name}:-default} to give a default)`);
    }
    return out;
  };
  return expand(parseTemplate(text, 0, 0, false, fail).template);
}

