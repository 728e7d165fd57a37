// Stands in for @muxd/runtime/launcher inside the muxd package's bundles
// (scripts/pack-bundle.mjs). In the workspace, muxctl and mux-proxy find the
// daemon they start through the @muxd/daemon package; in the published
// package there is no such package: muxd is the bundle beside them.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export * from '../../packages/runtime/dist/launcher.js';

/** The bundled muxd beside `from` (a bundle's own URL or path). */
export function resolveDaemonEntry(from) {
  const file = typeof from === 'string' && !from.startsWith('file:') ? from : fileURLToPath(from);
  return join(dirname(file), 'muxd.js');
}
