/**
 * muxctl's side of starting muxd: the launcher of @muxd/runtime, given the
 * daemon this package depends on (@muxd/daemon, found from here).
 */
import type { MuxPaths } from '@muxd/protocol';
import { ensureDaemon as ensureDaemonWith, resolveDaemonEntry } from '@muxd/runtime/launcher';
import type { EnsureDaemonOptions } from '@muxd/runtime/launcher';

/** Absolute path of the entry point of the muxd that goes with this muxctl. Throws when @muxd/daemon is not installed. */
export function daemonEntry(): string {
  return resolveDaemonEntry(import.meta.url);
}

/**
 * Makes sure muxd runs for `paths`, starting this muxctl's muxd when it does
 * not: `ensureDaemon` of @muxd/runtime/launcher, with its options but the entry point.
 */
export function ensureDaemon(paths: MuxPaths, options: Omit<EnsureDaemonOptions, 'daemonEntry'> = {}): Promise<'running' | 'started'> {
  return ensureDaemonWith(paths, { ...options, daemonEntry });
}
