import { CliError, ExitCodes } from './cliError.js';
import { HOSTS, HostIds, hostById } from '@muxd/hosts';
import type { HostDefinition } from '@muxd/hosts';

/** The hosts named on the command line (all when none); throws a usage error naming the known ones. */
export function selectHosts(names: readonly string[] | undefined): HostDefinition[] {
  if (!names || names.length === 0) return [...HOSTS];
  return names.map((name) => {
    const host = hostById(name);
    if (!host) throw new CliError(`unknown host '${name}' (known: ${HostIds.join(', ')})`, ExitCodes.Usage);
    return host;
  });
}
