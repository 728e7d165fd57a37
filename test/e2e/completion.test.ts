import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHome, fixtureServer, memoryServer, runMuxctl, startMuxd } from './harness.js';

/** What the generated script runs for `muxctl WORDS<TAB>`: the candidates, one a line. */
async function complete(home: string, words: string[], env: Record<string, string> = {}): Promise<string[]> {
  const run = await runMuxctl(home, ['--get-yargs-completions', 'muxctl', ...words], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '', 'completion prints nothing on stderr');
  return run.stdout.split('\n').filter((line) => line !== '');
}

test('completion with muxd down: commands, flags, and service names from the config, without starting muxd', async (t) => {
  const home = createHome(t, {
    alpha: memoryServer(),
    // A secret the shell does not have must not hide the names.
    beta: fixtureServer('probe', { env: { TOKEN: '${MUXD_TEST_TOKEN_NOT_SET}' } }),
  });
  const commands = await complete(home.home, ['']);
  for (const command of ['ls', 'start', 'stop', 'logs', 'describe', 'health', 'history', 'completion']) assert.ok(commands.includes(command), `${command} in ${commands.join(' ')}`);
  assert.deepEqual((await complete(home.home, ['start', ''])).sort(), ['all', 'alpha', 'beta']);
  assert.deepEqual(await complete(home.home, ['describe', 'b']), ['beta']);
  assert.deepEqual(await complete(home.home, ['logs', '-n', '20', 'al']), ['alpha']);
  assert.deepEqual((await complete(home.home, ['http', 'url', ''])).sort(), ['alpha', 'beta']);
  assert.deepEqual((await complete(home.home, ['update', ''])).sort(), ['alpha', 'beta']);
  // Subcommands and flags come from yargs; no service name where none fits.
  assert.deepEqual((await complete(home.home, ['daemon', ''])).sort(), ['start', 'status', 'stop']);
  const logFlags = await complete(home.home, ['logs', '-']);
  assert.ok(logFlags.includes('--follow') && logFlags.includes('--lines'), logFlags.join(' '));
  assert.equal(logFlags.includes('alpha'), false);
  assert.deepEqual(home.daemonPids(), [], 'completion started no muxd');
});

test('completion with muxd running takes the names muxd serves', async (t) => {
  const muxd = await startMuxd(t, { memory: memoryServer(), probe: fixtureServer('probe') });
  // The file now says something else: a running muxd is asked, not the file.
  muxd.writeConfig({ unreloaded: memoryServer() });
  assert.deepEqual((await complete(muxd.home, ['restart', ''])).sort(), ['all', 'memory', 'probe']);
  assert.deepEqual((await complete(muxd.home, ['health', 'p'])), ['probe']);
});

test('completing a command never runs it', async (t) => {
  const muxd = await startMuxd(t, { probe: fixtureServer('probe', { lazy: false }) });
  const before = (await muxd.muxctl(['ls', '--json'])).json<{ services: Array<{ status: string; pids: number[] }> }>().services[0];
  assert.equal(before?.status, 'online');
  await complete(muxd.home, ['stop', 'probe']);
  await complete(muxd.home, ['stop', '']);
  const after = (await muxd.muxctl(['ls', '--json'])).json<{ services: Array<{ status: string; pids: number[] }> }>().services[0];
  assert.equal(after?.status, 'online');
  assert.deepEqual(after?.pids, before?.pids);
});

test('muxctl completion prints a bash script, or a zsh one in zsh, that asks muxctl for completions', async (t) => {
  const home = createHome(t, { alpha: memoryServer() });
  const bash = await runMuxctl(home.home, ['completion'], { env: { SHELL: '/bin/bash' } });
  assert.equal(bash.code, 0, bash.stderr);
  assert.match(bash.stdout, /--get-yargs-completions/);
  assert.match(bash.stdout, /complete -o bashdefault -o default -F _muxctl_yargs_completions muxctl/);
  const zsh = await runMuxctl(home.home, ['completion'], { env: { SHELL: '/usr/bin/zsh' } });
  assert.equal(zsh.code, 0, zsh.stderr);
  assert.match(zsh.stdout, /^#compdef muxctl/);
  assert.deepEqual(home.daemonPids(), []);
});
