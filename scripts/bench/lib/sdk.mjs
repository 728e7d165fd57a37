/**
 * The MCP SDK the repository itself depends on, loaded from the root
 * node_modules: scripts/bench/node_modules holds the peers' own (older) copy,
 * which plain resolution from this folder would find first.
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SDK = join(fileURLToPath(new URL('../../..', import.meta.url)), 'node_modules/@modelcontextprotocol/sdk/dist/esm');

/** @param {string} path */
const load = (path) => import(pathToFileURL(join(SDK, path)).href);

export const { Client } = await load('client/index.js');
export const { SSEClientTransport } = await load('client/sse.js');
export const { StdioClientTransport } = await load('client/stdio.js');
export const { StreamableHTTPClientTransport } = await load('client/streamableHttp.js');
export const SDK_VERSION = (await import(pathToFileURL(join(SDK, '../../package.json')).href, { with: { type: 'json' } })).default.version;
