import { realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * `npm i -g` links `<prefix>/bin/<name>` to a bin of the package in
 * `<prefix>/lib/node_modules/<package>/`: that link when it leads to
 * `target`, else `target` itself. A service definition then names the
 * command the user installed, and still works once the package is updated
 * in place.
 */
export function globalBinFor(target: string, name: string): string {
  const link = join(dirname(target), '..', '..', '..', '..', 'bin', name);
  try {
    if (realpathSync(link) === realpathSync(target)) return resolve(link);
  } catch {
    // No such link: not a global install.
  }
  return target;
}
