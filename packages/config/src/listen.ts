import { isIP } from 'node:net';

/** True for `localhost` and the loopback addresses (127.0.0.0/8, ::1). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const lower = bare.toLowerCase();
  if (lower === 'localhost' || lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
  const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(lower);
  return octets !== null && octets.slice(1).every((octet) => Number(octet) <= 255) && octets[1] === '127';
}

/**
 * Parses `http.listen`: `HOST:PORT`, `[IPV6]:PORT`, or a bare port (on
 * 127.0.0.1). Returns undefined when it is none of those.
 */
export function parseListen(listen: string | number): { host: string; port: number } | undefined {
  const text = String(listen).trim();
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const host = match[1] || match[2] || '127.0.0.1';
  if (host !== 'localhost' && isIP(host) === 0) return undefined;
  return { host, port };
}
