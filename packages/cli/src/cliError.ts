/** Exit codes of muxctl. */
export const ExitCodes = {
  Ok: 0,
  /** The action failed (a service errored, a health check failed). */
  Failure: 1,
  /** Bad usage or an invalid config. */
  Usage: 2,
  /** muxd is not running (for commands that do not start it). */
  NotRunning: 3,
} as const;

/** A failure muxctl explains in one line and exits on. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = ExitCodes.Failure) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
