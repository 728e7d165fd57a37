import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePackageRunner } from '../src/packageRunner.js';
import type { RunnerCommand, RunnerParse } from '../src/packageRunner.js';

function runner(command: string, args: string[]): RunnerCommand {
  const parsed = parsePackageRunner(command, args);
  assert.equal(parsed.kind, 'runner', `expected ${command} ${args.join(' ')} to be unwrapped, got ${JSON.stringify(parsed)}`);
  return (parsed as Extract<RunnerParse, { kind: 'runner' }>).command;
}

function refused(command: string, args: string[]): string {
  const parsed = parsePackageRunner(command, args);
  assert.equal(parsed.kind, 'refused', `expected ${command} ${args.join(' ')} to be refused, got ${JSON.stringify(parsed)}`);
  return (parsed as Extract<RunnerParse, { kind: 'refused' }>).reason;
}

const plain = { bin: undefined, localOnly: false, npmOptions: [] };

describe('parsePackageRunner: npx', () => {
  test('-y, --yes and a scoped package with its arguments', () => {
    assert.deepEqual(runner('npx', ['-y', '@modelcontextprotocol/server-memory']), { runner: 'npx', spec: '@modelcontextprotocol/server-memory', args: [], ...plain });
    assert.deepEqual(runner('npx', ['--yes', '@modelcontextprotocol/server-filesystem', '/tmp', '/srv']), {
      runner: 'npx',
      spec: '@modelcontextprotocol/server-filesystem',
      args: ['/tmp', '/srv'],
      ...plain,
    });
  });

  test('a version spec stays part of the package, and an absolute path to npx is npx', () => {
    assert.deepEqual(runner('/usr/local/bin/npx', ['-y', 'mcp-server@1.2']), { runner: 'npx', spec: 'mcp-server@1.2', args: [], ...plain });
    assert.equal(runner('npx', ['@scope/pkg@^2.0.0']).spec, '@scope/pkg@^2.0.0');
  });

  test("options after the command are the bin's, even npx's own", () => {
    assert.deepEqual(runner('npx', ['-y', 'pkg', '--yes', '-c', 'x', '--port=3']).args, ['--yes', '-c', 'x', '--port=3']);
  });

  test('-p / --package / --package= name the package, and the command is then its bin', () => {
    for (const args of [['-p', 'pkg@3', 'tool', 'a'], ['--package', 'pkg@3', 'tool', 'a'], ['--package=pkg@3', 'tool', 'a'], ['-y', '-p=pkg@3', 'tool', 'a']]) {
      assert.deepEqual(runner('npx', args), { runner: 'npx', spec: 'pkg@3', bin: 'tool', args: ['a'], localOnly: false, npmOptions: [] }, args.join(' '));
    }
  });

  test('-- ends the options', () => {
    assert.deepEqual(runner('npx', ['-y', '--', 'pkg', '-y']), { runner: 'npx', spec: 'pkg', args: ['-y'], ...plain });
  });

  test('--no may only use the project, --registry is passed on to npm', () => {
    assert.equal(runner('npx', ['--no', 'pkg']).localOnly, true);
    assert.deepEqual(runner('npx', ['--registry=http://127.0.0.1:4873', '-y', 'pkg']).npmOptions, ['--registry=http://127.0.0.1:4873']);
    assert.deepEqual(runner('npx', ['--registry', 'http://r', 'pkg']).npmOptions, ['--registry=http://r']);
  });

  test('tarball, directory and git specs are kept as written', () => {
    assert.equal(runner('npx', ['-y', './server-1.0.0.tgz']).spec, './server-1.0.0.tgz');
    assert.equal(runner('npx', ['github:owner/repo']).spec, 'github:owner/repo');
  });

  test('refuses -c and --call (a shell command line), naming it', () => {
    assert.match(refused('npx', ['-c', 'mcp-server --stdio']), /-c runs a shell command line/);
    assert.match(refused('npx', ['-p', 'pkg', '--call=mcp-server']), /--call runs a shell command line/);
  });

  test('refuses an unknown option, several packages, no command, a missing value, workspaces', () => {
    assert.match(refused('npx', ['--foo', 'pkg']), /npx option --foo is not one muxd knows/);
    assert.match(refused('npx', ['-p', 'a', '-p', 'b', 'tool']), /several packages \(a, b\)/);
    assert.match(refused('npx', ['-y']), /no command to run/);
    assert.match(refused('npx', ['-p']), /option -p has no value/);
    assert.match(refused('npx', ['--yes=true', 'pkg']), /--yes takes no value/);
    assert.match(refused('npx', ['-w', 'packages/a', 'pkg']), /workspace/);
  });
});

describe('parsePackageRunner: npm exec / npm x', () => {
  test('exec and x, with -- before the command', () => {
    assert.deepEqual(runner('npm', ['exec', '-y', '--', 'pkg@1', '--flag']), { runner: 'npm exec', spec: 'pkg@1', args: ['--flag'], ...plain });
    assert.deepEqual(runner('npm', ['x', '--package=pkg', '--', 'tool', 'a']), { runner: 'npm exec', spec: 'pkg', bin: 'tool', args: ['a'], localOnly: false, npmOptions: [] });
    assert.deepEqual(runner('npm', ['exec', 'pkg', 'plain-arg']).args, ['plain-arg']);
  });

  test('refuses options after the command without --: npm reads those itself', () => {
    assert.match(refused('npm', ['exec', 'pkg', '--flag']), /reads the options after the command itself unless they follow '--'/);
  });

  test('refuses -c; other npm commands are no runner at all', () => {
    assert.match(refused('npm', ['exec', '-c', 'tool']), /shell command line/);
    assert.deepEqual(parsePackageRunner('npm', ['start']), { kind: 'none' });
    assert.deepEqual(parsePackageRunner('npm', []), { kind: 'none' });
  });
});

describe('parsePackageRunner: pnpm dlx, yarn dlx, bunx', () => {
  test('pnpm dlx and pnpx, with --package', () => {
    assert.deepEqual(runner('pnpm', ['dlx', 'pkg@2', 'a']), { runner: 'pnpm dlx', spec: 'pkg@2', args: ['a'], ...plain });
    assert.deepEqual(runner('pnpx', ['--package=pkg', 'tool']), { runner: 'pnpm dlx', spec: 'pkg', bin: 'tool', args: [], localOnly: false, npmOptions: [] });
    assert.match(refused('pnpm', ['dlx', '-c', 'tool a']), /shell command line/);
    assert.match(refused('pnpm', ['dlx', '--shell-mode', 'tool a']), /shell command line/);
    assert.deepEqual(parsePackageRunner('pnpm', ['exec', 'tool']), { kind: 'none' });
  });

  test('yarn dlx with -p and -q', () => {
    assert.deepEqual(runner('yarn', ['dlx', '-q', '-p', 'pkg', 'tool', '-x']), { runner: 'yarn dlx', spec: 'pkg', bin: 'tool', args: ['-x'], localOnly: false, npmOptions: [] });
    assert.deepEqual(parsePackageRunner('yarn', ['start']), { kind: 'none' });
  });

  test('bunx and bun x; --bun is refused (it runs on Bun, not Node)', () => {
    assert.deepEqual(runner('bunx', ['pkg@latest', 'a']), { runner: 'bunx', spec: 'pkg@latest', args: ['a'], ...plain });
    assert.deepEqual(runner('bun', ['x', '-p', 'pkg', 'tool']), { runner: 'bunx', spec: 'pkg', bin: 'tool', args: [], localOnly: false, npmOptions: [] });
    assert.match(refused('bunx', ['--bun', 'pkg']), /Bun runtime/);
    assert.equal(runner('bunx', ['--no-install', 'pkg']).localOnly, true);
  });

  test('any other command is no runner', () => {
    assert.deepEqual(parsePackageRunner('node', ['server.js']), { kind: 'none' });
    assert.deepEqual(parsePackageRunner('/opt/npx-tools/server', ['-y', 'pkg']), { kind: 'none' });
    assert.deepEqual(parsePackageRunner('uvx', ['mcp-server-fetch']), { kind: 'none' });
  });
});
