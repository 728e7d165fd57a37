/**
 * `muxctl setup` in a terminal: the servers, the host files and the
 * transport, asked with @clack/prompts. Ctrl-C (or Escape) at any question
 * ends setup before anything is written.
 */
import { confirm, isCancel, log, multiselect, note, select, spinner } from '@clack/prompts';
import { commandLine } from '@muxd/hosts';
import type { MuxdTransport } from '@muxd/hosts';
import { CliError } from '../cliError.js';
import type { SetupChoices, SetupProgress } from './applySetup.js';
import { previewHosts, transportOf } from './setupPlan.js';
import type { SetupContext, SetupHostFile } from './setupPlan.js';
import { runningText } from './setupSummary.js';

/** Thrown when the user cancels a question: nothing has been written. */
function cancelled(): never {
  throw new CliError('setup cancelled; nothing was written');
}

/** A prompt's answer, or the end of setup when it was cancelled. */
function answer<T>(value: T): Exclude<T, symbol> {
  if (isCancel(value)) cancelled();
  return value as Exclude<T, symbol>;
}

/** A spinner for the slow steps. */
export function spinnerProgress(): SetupProgress {
  const spin = spinner();
  let spinning = false;
  return {
    start(message) {
      if (spinning) spin.message(message);
      else spin.start(message);
      spinning = true;
    },
    stop(message) {
      if (spinning) spin.stop(message);
      else log.step(message);
      spinning = false;
    },
  };
}

/** "Claude Code (user)  ~/.claude.json  (1 entry to change, mux-proxy or HTTP)"; `transport` undefined: not chosen yet, `httpFront`: muxd's config has one. */
function hostLabel(file: SetupHostFile, transport: MuxdTransport | undefined, httpFront: boolean): string {
  const changes = `${file.changes} entr${file.changes === 1 ? 'y' : 'ies'} to change`;
  const via = transport === undefined ? (file.http && httpFront ? 'mux-proxy or HTTP' : 'mux-proxy') : transportOf(file, transport) === 'http' ? 'HTTP' : 'mux-proxy';
  return `${file.label}  ${file.file.path}  (${changes}, ${via})`;
}

/**
 * Asks which servers to run in muxd, which host files to rewire, over which
 * transport, and whether to install the user service; then shows the plan
 * and asks to apply it. Resolves with the choices, or undefined when there
 * is nothing to do. Throws `CliError` when cancelled.
 */
export async function askChoices(context: SetupContext, dryRun: boolean): Promise<SetupChoices | undefined> {
  if (context.servers.length === 0) {
    log.warn('no stdio MCP servers found in the hosts\' configs (muxctl hosts lists what was found)');
    return undefined;
  }
  const servers = answer(
    await multiselect<string>({
      message: 'Servers to run once in muxd, shared by every session (space toggles, enter accepts)',
      options: context.servers.map((server) => {
        const running = runningText(server.running);
        return {
          value: server.name,
          label: `${server.name}  in ${server.hosts.join(', ')}${server.status === 'present' ? '  (in muxd\'s config already)' : ''}${running ? `  [${running}]` : ''}`,
          hint: commandLine(server.spec),
        };
      }),
      initialValues: context.servers.map((server) => server.name),
      required: false,
    }),
  );
  if (servers.length === 0) {
    log.info('no server chosen: nothing to do');
    return undefined;
  }

  const httpFront = context.found.config.httpListen !== undefined;
  const spin = spinner();
  spin.start('looking at what rewire would change in each host file');
  const previews = await previewHosts(context, servers);
  spin.stop(`${previews.length} host file${previews.length === 1 ? '' : 's'} with MCP servers`);
  const candidates = previews.filter((file) => file.changes > 0);
  let files: SetupHostFile[] = [];
  if (candidates.length === 0) {
    log.info('no host entry to point at muxd (they go through muxd already, or run none of these servers)');
  } else {
    const picked = answer(
      await multiselect<number>({
        message: 'Host files to point at muxd (a backup of each is kept)',
        options: candidates.map((file, index) => ({ value: index, label: hostLabel(file, undefined, httpFront), ...(file.blocked ? { hint: file.blocked } : {}) })),
        initialValues: candidates.flatMap((file, index) => (file.blocked ? [] : [index])),
        required: false,
      }),
    );
    files = picked.map((index) => candidates[index] as SetupHostFile);
  }

  let transport: MuxdTransport | undefined;
  if (files.some((file) => file.http)) {
    if (!httpFront) {
      log.info(`these entries will run mux-proxy; for muxd's HTTP front instead, add http: { listen: 127.0.0.1:7777 } to ${context.found.configFile} and run setup again`);
    } else {
      transport = answer(
        await select<MuxdTransport>({
          message: 'How should hosts that speak HTTP reach muxd?',
          options: [
            { value: 'stdio', label: 'mux-proxy (stdio)', hint: 'a small proxy process per session' },
            { value: 'http', label: "muxd's HTTP front", hint: 'no proxy process; the bearer token goes into the host file' },
          ],
          initialValue: 'stdio',
        }),
      );
    }
  }

  const serviceInstall = answer(
    await confirm({
      message: `Start muxd at login (${process.platform === 'darwin' ? 'launchd agent' : 'systemd user unit'})? mux-proxy starts it on demand either way`,
      initialValue: false,
    }),
  );

  const plan = [
    `servers: ${servers.join(', ')}`,
    `hosts:   ${files.length === 0 ? '(none)' : files.map((file) => hostLabel(file, transport ?? 'stdio', httpFront)).join('\n         ')}`,
    `service: ${serviceInstall ? 'install' : 'no'}`,
  ];
  note(plan.join('\n'), dryRun ? 'The plan (dry run: nothing will be written)' : 'The plan');
  const go = answer(await confirm({ message: dryRun ? 'Show what it would do?' : 'Apply it?', initialValue: true }));
  if (!go) cancelled();
  return { servers, files, ...(transport === undefined ? {} : { transport }), serviceInstall };
}
