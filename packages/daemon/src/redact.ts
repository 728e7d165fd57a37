import type { ServiceConfig } from '@muxd/config';

const REDACTED = '[redacted]';
/** Flag names whose value is a secret (`--token X`, `--api-key=X`). */
const SECRET_FLAG = /^--?[\w-]*(token|secret|password|passwd|api[-_]?key|auth|credential)[\w-]*$/i;
/** The password of a URL's user info (`postgresql://user:PASSWORD@host/db`). */
const URL_PASSWORD = /([a-z][a-z\d+.-]*:\/\/[^\s:/?#@]*):[^\s/?#@]*@/gi;

/** A service config fit to print: env values and secret-looking arguments hidden. */
export function redactConfig(config: ServiceConfig): Record<string, unknown> {
  const env: Record<string, string> = {};
  for (const key of Object.keys(config.env)) env[key] = REDACTED;
  return { ...config, env, args: redactArgs(config.args) };
}

/** Hides the values of secret-looking flags and the passwords in URLs. */
export function redactArgs(args: readonly string[]): string[] {
  const result: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string;
    const equals = arg.indexOf('=');
    if (equals > 0 && SECRET_FLAG.test(arg.slice(0, equals))) {
      result.push(`${arg.slice(0, equals)}=${REDACTED}`);
    } else if (SECRET_FLAG.test(arg) && index + 1 < args.length) {
      result.push(arg, REDACTED);
      index++;
    } else {
      result.push(arg.replace(URL_PASSWORD, `$1:${REDACTED}@`));
    }
  }
  return result;
}
