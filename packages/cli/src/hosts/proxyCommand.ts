import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The absolute path of the `mux-proxy` that goes with this muxctl: the
 * `node_modules/.bin/mux-proxy` (or `@muxd/proxy`'s bin) nearest above
 * muxctl's own files, else the one on PATH. GUI hosts have no shell PATH, so
 * hosts are always given an absolute path. Undefined when there is none.
 */
export function findProxyCommand(from: string = fileURLToPath(import.meta.url), env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    for (const candidate of [join(dir, 'node_modules', '.bin', 'mux-proxy'), join(dir, 'node_modules', '@muxd', 'proxy', 'bin', 'mux-proxy.js')]) {
      if (isExecutable(candidate)) return candidate;
    }
    if (dirname(dir) === dir) break;
  }
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, 'mux-proxy');
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}
