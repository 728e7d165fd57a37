import type { ServiceConfig } from './config.js';

export const REDACTED = '[redacted]';
/** Flag names whose value is a secret (`--token X`, `--api-key=X`). */
const SECRET_FLAG = /^--?[\w-]*(token|secret|password|passwd|api[-_]?key|auth|credential)[\w-]*$/i;
/** The password of a URL's user info (`postgresql://user:PASSWORD@host/db`). */
const URL_PASSWORD = /([a-z][a-z\d+.-]*:\/\/[^\s:/?#@]*):([^\s/?#@]*)@/gi;

/** Rewrites each secret in `args` (flag values, URL passwords) with `hide`. */
function walkSecrets(args: readonly string[], hide: (secret: string) => string): string[] {
  const result: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string;
    const equals = arg.indexOf('=');
    if (equals > 0 && SECRET_FLAG.test(arg.slice(0, equals))) {
      result.push(`${arg.slice(0, equals)}=${hide(arg.slice(equals + 1))}`);
    } else if (SECRET_FLAG.test(arg) && index + 1 < args.length) {
      result.push(arg, hide(args[++index] as string));
    } else {
      result.push(arg.replace(URL_PASSWORD, (_match, prefix: string, password: string) => `${prefix}:${hide(password)}@`));
    }
  }
  return result;
}

/** Hides the values of secret-looking flags and the passwords in URLs, for printing. */
export function redactArgs(args: readonly string[], mask = REDACTED): string[] {
  return walkSecrets(args, () => mask);
}

/** The values `redactArgs` hides, to mask wherever else they appear (diffs). */
export function argSecrets(args: readonly string[]): string[] {
  const secrets: string[] = [];
  walkSecrets(args, (secret) => {
    secrets.push(secret);
    return secret;
  });
  return secrets.filter((secret) => secret.length >= 4);
}

/** A service config fit to print: env values and secret-looking arguments hidden. */
export function redactConfig(config: ServiceConfig): Record<string, unknown> {
  const env = Object.fromEntries(Object.keys(config.env).map((key) => [key, REDACTED]));
  return { ...config, env, args: redactArgs(config.args) };
}
