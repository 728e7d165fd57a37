// What a command that is a package runner (`npx pkg ...`) asks for: the
// daemon reads it to run the bin itself, muxctl setup to find such servers running.
import { basename } from 'node:path';

/** The package runners muxd can see through. */
export const Runners = {
  Npx: 'npx',
  NpmExec: 'npm exec',
  PnpmDlx: 'pnpm dlx',
  YarnDlx: 'yarn dlx',
  Bunx: 'bunx',
} as const;
export type Runner = (typeof Runners)[keyof typeof Runners];

/** What a runner command asks for, once its options are read. */
export interface RunnerCommand {
  runner: Runner;
  /** The package to run, as written: `pkg`, `pkg@1.2`, `@scope/pkg@^2`, a tarball, directory or git spec. */
  spec: string;
  /** The bin to run when a package option named the package; undefined: the package's own bin. */
  bin: string | undefined;
  /** The arguments the bin gets, as written. */
  args: string[];
  /** `npx --no`: the runner may only use what the project already has, never install. */
  localOnly: boolean;
  /** npm settings the runner was given (`--registry=URL`), passed on to `npm install`. */
  npmOptions: string[];
}

/** What `parsePackageRunner` found. */
export type RunnerParse =
  /** The command is no package runner: it runs as configured, with nothing to say. */
  | { kind: 'none' }
  /** A runner muxd will not see through; `reason` says why, for `muxctl describe`. */
  | { kind: 'refused'; runner: Runner; reason: string }
  | { kind: 'runner'; command: RunnerCommand };

type OptionKind =
  /** Changes nothing muxd does. */
  | 'ignored'
  /** Takes a package spec. */
  | 'package'
  /** Runs a shell command line: never unwrapped. */
  | 'shell'
  /** Never install. */
  | 'local-only'
  /** An npm setting with a value, passed on to `npm install`. */
  | 'npm-setting'
  /** Changes how the bin runs in a way muxd does not reproduce. */
  | 'refuse';

interface OptionSpec {
  kind: OptionKind;
  /** For `refuse`: why. */
  why?: string;
}

const ignored: OptionSpec = { kind: 'ignored' };
const pkg: OptionSpec = { kind: 'package' };
const shell: OptionSpec = { kind: 'shell' };

/** npm exec's options (npx is npm exec with the options ending at the first argument that is not one). */
const NPM_OPTIONS: Record<string, OptionSpec> = {
  '-y': ignored,
  '--yes': ignored,
  '-q': ignored,
  '--quiet': ignored,
  '--silent': ignored,
  '--prefer-offline': ignored,
  '--prefer-online': ignored,
  '--no': { kind: 'local-only' },
  '--no-yes': { kind: 'local-only' },
  '--no-install': { kind: 'local-only' },
  '-p': pkg,
  '--package': pkg,
  '-c': shell,
  '--call': shell,
  '--registry': { kind: 'npm-setting' },
  '-w': { kind: 'refuse', why: 'it runs in a workspace of the project' },
  '--workspace': { kind: 'refuse', why: 'it runs in a workspace of the project' },
  '--workspaces': { kind: 'refuse', why: 'it runs in every workspace of the project' },
  '--ws': { kind: 'refuse', why: 'it runs in every workspace of the project' },
};

const PNPM_DLX_OPTIONS: Record<string, OptionSpec> = {
  '--package': pkg,
  '-c': shell,
  '--shell-mode': shell,
  '--silent': ignored,
  '-s': ignored,
  '--allow-build': { kind: 'refuse', why: 'pnpm runs build scripts muxd would not choose the same way' },
};

const YARN_DLX_OPTIONS: Record<string, OptionSpec> = {
  '-p': pkg,
  '--package': pkg,
  '-q': ignored,
  '--quiet': ignored,
};

const BUNX_OPTIONS: Record<string, OptionSpec> = {
  '-p': pkg,
  '--package': pkg,
  '--silent': ignored,
  '--verbose': ignored,
  '--no-install': { kind: 'local-only' },
  '--bun': { kind: 'refuse', why: 'it runs the bin with the Bun runtime, not Node' },
};

/** Options that take a value. */
const TAKES_VALUE = new Set<OptionKind>(['package', 'shell', 'npm-setting']);

interface RunnerSyntax {
  runner: Runner;
  options: Record<string, OptionSpec>;
  /** Arguments the runner's own name takes up (`dlx` in `pnpm dlx`). */
  skip: number;
  /**
   * npm exec reads options anywhere on its command line unless they follow
   * `--`: an option after the command without `--` goes to npm, not the bin.
   */
  optionsAnywhere: boolean;
}

/** Which runner `command args` is, if any. */
function runnerSyntax(command: string, args: readonly string[]): RunnerSyntax | undefined {
  const program = basename(command);
  const first = args[0];
  switch (program) {
    case 'npx':
      return { runner: Runners.Npx, options: NPM_OPTIONS, skip: 0, optionsAnywhere: false };
    case 'npm':
      return first === 'exec' || first === 'x' ? { runner: Runners.NpmExec, options: NPM_OPTIONS, skip: 1, optionsAnywhere: true } : undefined;
    case 'pnpm':
      return first === 'dlx' ? { runner: Runners.PnpmDlx, options: PNPM_DLX_OPTIONS, skip: 1, optionsAnywhere: false } : undefined;
    case 'pnpx':
      return { runner: Runners.PnpmDlx, options: PNPM_DLX_OPTIONS, skip: 0, optionsAnywhere: false };
    case 'yarn':
      return first === 'dlx' ? { runner: Runners.YarnDlx, options: YARN_DLX_OPTIONS, skip: 1, optionsAnywhere: false } : undefined;
    case 'bunx':
      return { runner: Runners.Bunx, options: BUNX_OPTIONS, skip: 0, optionsAnywhere: false };
    case 'bun':
      return first === 'x' ? { runner: Runners.Bunx, options: BUNX_OPTIONS, skip: 1, optionsAnywhere: false } : undefined;
    default:
      return undefined;
  }
}

/**
 * Reads a service's command as a package runner would (`npx -y pkg@1.2
 * ARGS`, `npm exec --package=pkg -- bin ARGS`, `pnpm dlx`, `yarn dlx`,
 * `bunx`): which package, which bin, which arguments. Anything muxd cannot
 * reproduce exactly (a shell command line, an unknown option, several
 * packages) is refused with the reason, and the service then runs as
 * configured. Pure: reads no file and runs nothing.
 */
export function parsePackageRunner(command: string, args: readonly string[]): RunnerParse {
  const syntax = runnerSyntax(command, args);
  if (!syntax) return { kind: 'none' };
  const { runner } = syntax;
  const refuse = (reason: string): RunnerParse => ({ kind: 'refused', runner, reason });
  const packages: string[] = [];
  const npmOptions: string[] = [];
  let localOnly = false;
  let index = syntax.skip;
  let dashDash = false;
  for (; index < args.length; index++) {
    const arg = args[index] as string;
    if (arg === '--') {
      dashDash = true;
      index++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const equals = arg.indexOf('=');
    const name = equals === -1 ? arg : arg.slice(0, equals);
    const option = Object.hasOwn(syntax.options, name) ? syntax.options[name] : undefined;
    if (!option) return refuse(`${runner} option ${name} is not one muxd knows how to reproduce`);
    let value: string | undefined;
    if (TAKES_VALUE.has(option.kind)) {
      value = equals === -1 ? args[++index] : arg.slice(equals + 1);
      if (value === undefined || value === '') return refuse(`${runner} option ${name} has no value`);
    } else if (equals !== -1) {
      return refuse(`${runner} option ${name} takes no value`);
    }
    switch (option.kind) {
      case 'ignored':
        break;
      case 'package':
        packages.push(value as string);
        break;
      case 'shell':
        return refuse(`${name} runs a shell command line, which muxd leaves to ${runner}`);
      case 'local-only':
        localOnly = true;
        break;
      case 'npm-setting':
        npmOptions.push(`${name}=${value as string}`);
        break;
      case 'refuse':
        return refuse(`${runner} option ${name}: ${option.why ?? 'not reproduced'}`);
    }
  }
  const rest = args.slice(index);
  const target = rest[0];
  if (target === undefined || target === '') return refuse(`${runner} has no command to run`);
  const binArgs = rest.slice(1);
  if (syntax.optionsAnywhere && !dashDash && binArgs.some((arg) => arg.startsWith('-'))) {
    return refuse(`${runner} reads the options after the command itself unless they follow '--' (write: ${runner} -- ${target} ...)`);
  }
  if (packages.length > 1) return refuse(`${runner} installs several packages (${packages.join(', ')}); muxd unwraps one`);
  const [spec] = packages;
  return {
    kind: 'runner',
    command: { runner, spec: spec ?? target, bin: spec === undefined ? undefined : target, args: binArgs, localOnly, npmOptions },
  };
}
