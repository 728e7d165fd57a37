/**
 * The MCP protocol versions muxd knows, oldest first. muxd initializes each
 * server with the newest and answers each client in the version it asked
 * for (see `negotiateVersion`), adapting what it forwards to that version.
 */
export const PROTOCOL_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'] as const;
export type ProtocolVersion = (typeof PROTOCOL_VERSIONS)[number];

export const LATEST_PROTOCOL_VERSION: ProtocolVersion = '2025-11-25';

export function isKnownProtocolVersion(version: unknown): version is ProtocolVersion {
  return typeof version === 'string' && (PROTOCOL_VERSIONS as readonly string[]).includes(version);
}

/**
 * The version a client is answered with: the one it asked for when muxd
 * knows it and the server's version is not older (a server speaking a
 * version speaks the older ones muxd knows: every SDK server does);
 * otherwise the server's own, as the server itself would answer.
 */
export function negotiateVersion(requested: string, server: string): string {
  return isKnownProtocolVersion(requested) && requested <= server ? requested : server;
}
