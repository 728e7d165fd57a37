import { existsSync } from 'node:fs';
import type { ServiceConfig } from '@muxd/config';
import type { UnwrappedPackage } from '@muxd/protocol';
import type { Logger } from '../logs.js';
import { launchCommand, nodeOnPath } from './packageBin.js';
import type { LaunchCommand } from './packageBin.js';
import { installRunnerPackage, PackageSources, resolveProjectPackage, resolveStoredPackage } from './packageResolver.js';
import type { PackageResolution } from './packageResolver.js';
import { parsePackageRunner } from '@muxd/config';
import type { RunnerCommand, RunnerParse } from '@muxd/config';
import type { PackageStore } from './packageStore.js';

/**
 * How long a child's start waits for a resolution still under way (ms).
 * Past it the child starts as configured, and runs the bin from its next
 * start: finding a project dependency takes milliseconds, installing from
 * npm's cache about a second, from the registry longer.
 */
export const UNWRAP_WAIT_MS = 5000;

/** What `muxctl update` did to one service's package. */
export interface UnwrapUpdate {
  /** The version before; null when there was none (not resolved before). */
  from: string | null;
  /** The version now; null when the update failed or there is nothing to update. */
  to: string | null;
  /** Why nothing was installed, or why it failed; null when it installed. */
  note: string | null;
  failed: boolean;
}

/**
 * One service's package runner seen through: parses its command, finds the
 * package (a project dependency, an install kept from before, or a new
 * `npm install` into muxd's store) in the background, and gives each child
 * start the bin to run instead of the runner, or the configured command
 * with the reason it is kept. Never throws at its callers: every failure
 * becomes the note `muxctl describe` shows.
 */
export class Unwrapper {
  readonly #config: ServiceConfig;
  readonly #log: Logger;
  readonly #store: PackageStore | undefined;
  readonly #parsed: RunnerParse;
  readonly #abort = new AbortController();
  #resolution: PackageResolution | undefined;
  #note: string | null = null;
  #pending: Promise<void> | undefined;
  /** Whether the current child runs the runner although a resolution exists (it started before it finished). */
  #startedAsConfigured = false;

  constructor(config: ServiceConfig, log: Logger, store: PackageStore | undefined) {
    this.#config = config;
    this.#log = log;
    this.#store = store;
    this.#parsed = config.unwrap ? parsePackageRunner(config.command, config.args) : { kind: 'none' };
    if (!config.unwrap && parsePackageRunner(config.command, config.args).kind !== 'none') this.#note = 'unwrap: false in the config: runs as configured';
    if (this.#parsed.kind === 'refused') this.#note = `not unwrapped: ${this.#parsed.reason}`;
  }

  /** Whether the command is a package runner muxd sees through (unwrap on, nothing refused). */
  get runner(): boolean {
    return this.#command !== undefined;
  }

  /** The runner's command, when muxd sees through it. */
  get #command(): RunnerCommand | undefined {
    return this.#parsed.kind === 'runner' ? this.#parsed.command : undefined;
  }

  /** What `muxctl ls --json` and `describe` show. */
  get info(): { package: UnwrappedPackage | null; note: string | null } {
    const command = this.#command;
    const found = this.#resolution;
    if (!command || !found) return { package: null, note: this.#note };
    const note = this.#startedAsConfigured ? `the running child started through ${command.runner} before ${found.name} was resolved; it runs the bin from its next restart` : null;
    return {
      package: { name: found.name, version: found.version, bin: found.bin, binFile: found.binFile, source: found.source, runner: command.runner, spec: command.spec },
      note,
    };
  }

  /** Starts finding the package in the background (once). */
  begin(): void {
    if (!this.#command || this.#pending || this.#resolution) return;
    this.#note = `resolving ${this.#command.spec}...`;
    this.#pending = this.#resolve(false).finally(() => (this.#pending = undefined));
  }

  async #resolve(update: boolean, onLine?: (line: string) => void): Promise<void> {
    const command = this.#command as RunnerCommand;
    const { cwd } = this.#config;
    try {
      let found = await resolveProjectPackage(command, cwd);
      if (!found && !update && this.#store) found = await resolveStoredPackage(command, cwd, this.#store);
      if (!found) {
        if (command.localOnly) throw new Error(`${command.runner} may not install (--no), and ${command.spec} is no dependency of the project in ${cwd}`);
        if (!this.#store) throw new Error('muxd has no directory to install packages into');
        this.#log.info({ spec: command.spec }, `installing ${command.spec} with npm, to run it without ${command.runner}`);
        found = await installRunnerPackage(command, {
          store: this.#store,
          cwd,
          env: { ...process.env, ...this.#config.env },
          preferOnline: update,
          onLine: (line) => {
            this.#log.info({ npm: line }, 'npm install');
            onLine?.(line);
          },
          signal: this.#abort.signal,
        });
      }
      if (this.#abort.signal.aborted) return;
      this.#resolution = found;
      this.#note = null;
      this.#log.info({ package: found.name, version: found.version, bin: found.bin, source: found.source }, `unwrapped ${command.runner}: runs ${found.binFile} directly`);
    } catch (error) {
      if (this.#abort.signal.aborted) return;
      const why = (error as Error).message.split('\n')[0] as string;
      if (update) throw error;
      this.#note = `not unwrapped: ${why}; runs as configured`;
      this.#log.warn({ spec: command.spec }, this.#note);
    }
  }

  /**
   * The command for the next child: the package's bin when it is resolved
   * (its files still there), the configured command otherwise. While a
   * resolution runs, waits for it up to `UNWRAP_WAIT_MS`.
   */
  launch(config: ServiceConfig): LaunchCommand | Promise<LaunchCommand> {
    const configured: LaunchCommand = { command: config.command, args: config.args };
    const command = this.#command;
    if (!command) return configured;
    if (this.#resolution && !existsSync(this.#resolution.binFile)) {
      this.#log.warn({ binFile: this.#resolution.binFile }, 'the unwrapped bin is gone: resolving the package again');
      this.#resolution = undefined;
      this.begin();
    }
    const pending = this.#pending;
    if (!pending) return this.#choose(command, configured, config);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), UNWRAP_WAIT_MS);
      timer.unref();
    });
    return Promise.race([pending.then(() => true), waited]).then((done) => {
      clearTimeout(timer);
      if (!done) this.#log.info({ spec: command.spec, waitedMs: UNWRAP_WAIT_MS }, `still resolving ${command.spec}: starting through ${command.runner}; the next restart runs the bin directly`);
      return this.#choose(command, configured, config);
    });
  }

  #choose(command: RunnerCommand, configured: LaunchCommand, config: ServiceConfig): LaunchCommand {
    const found = this.#resolution;
    this.#startedAsConfigured = found === undefined;
    if (!found) return configured;
    // The child's PATH: the service's own, else muxd's (the supervisor merges them the same way).
    return launchCommand(found.binFile, found.nodeOptions, command.args, nodeOnPath(config.env['PATH'] ?? process.env['PATH']));
  }

  /**
   * `muxctl update`: installs the newest version the spec allows into a new
   * generation (a project dependency is left alone), and prunes the old one
   * once `restart` has moved the children onto the new bin. Never throws:
   * a failure is in the result, and the old install stays in use.
   */
  async update(onLine: (line: string) => void, restart: (changed: boolean) => Promise<void>): Promise<UnwrapUpdate> {
    const command = this.#command;
    if (!command) return { from: null, to: null, note: this.#note ?? 'runs no package runner', failed: false };
    await this.#pending;
    const before = this.#resolution;
    const from = before?.version ?? null;
    if (before?.source === PackageSources.Local) {
      return { from, to: from, note: `a dependency of the project in ${this.#config.cwd}: left alone (update it there)`, failed: false };
    }
    try {
      await this.#resolve(true, onLine);
    } catch (error) {
      return { from, to: null, note: (error as Error).message.split('\n')[0] as string, failed: true };
    }
    let after = this.#resolution;
    if (after && before && after.version === before.version && before.installSpec && before.dir && this.#store) {
      // Nothing newer: the children keep the files they run, and the new copy goes.
      const { installSpec, dir, name, version, bin, binFile, nodeOptions } = before;
      await this.#store.commit({ spec: installSpec, dir, name, version, bin, binFile, nodeOptions, installedAt: Date.now() });
      this.#resolution = after = before;
    }
    await restart(after !== before);
    if (after?.installSpec && this.#store) await this.#store.prune(after.installSpec, after.dir);
    return { from, to: after?.version ?? null, note: after?.source === PackageSources.Local ? 'now a dependency of the project' : null, failed: false };
  }

  /** Stops an install under way (muxd shutting down, the service removed or reconfigured). */
  close(): void {
    this.#abort.abort();
  }
}
