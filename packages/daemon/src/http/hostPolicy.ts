import { isLoopbackHost } from '@muxd/config';

/**
 * What `Host` and `Origin` a request may carry, against DNS rebinding: a page
 * on evil.example whose name resolves to 127.0.0.1 reaches the port, but its
 * requests say `Host: evil.example` (and `Origin: http://evil.example`).
 */
export class HostPolicy {
  readonly #port: number;
  /** The bound address, when it is not a loopback one (explicitly allowed). */
  readonly #boundHost: string | undefined;

  constructor(listenHost: string, port: number) {
    this.#port = port;
    this.#boundHost = isLoopbackHost(listenHost) ? undefined : normalizeHost(listenHost);
  }

  /** True when `Host` names a loopback host (or the bound address) with the listening port. */
  hostAllowed(header: string | undefined): boolean {
    if (header === undefined) return false;
    const parsed = splitHostPort(header.trim().toLowerCase());
    if (!parsed || parsed.port !== this.#port) return false;
    return isLoopbackHost(parsed.host) || (this.#boundHost !== undefined && normalizeHost(parsed.host) === this.#boundHost);
  }

  /** True when there is no `Origin`, or it is an http(s) origin on a loopback host (or the bound address). */
  originAllowed(header: string | undefined): boolean {
    if (header === undefined) return true;
    let url: URL;
    try {
      url = new URL(header);
    } catch {
      return false;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    return isLoopbackHost(url.hostname) || (this.#boundHost !== undefined && normalizeHost(url.hostname) === this.#boundHost);
  }
}

/** `host:port` or `[v6]:port`; a missing port is 80. Undefined when malformed. */
function splitHostPort(value: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value);
  if (!match || match[1] === undefined) return undefined;
  return { host: match[1], port: match[2] === undefined ? 80 : Number(match[2]) };
}

function normalizeHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.startsWith('[') ? lower : lower.includes(':') ? `[${lower}]` : lower;
}
