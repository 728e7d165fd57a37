import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MuxErrorCodes } from '@muxd/protocol';
import { SERVICE_DEFAULTS, adhocServiceConfig, requireServices, resolveConfig } from '../src/config.js';
import { loadConfigFile } from '../src/configFile.js';
import { isLoopbackHost, parseListen } from '../src/listen.js';
import { expandVariables } from '../src/variables.js';
import { redactConfig } from '../src/redact.js';
import type { MuxConfig, ServiceConfig } from '../src/config.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'muxd-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `text` as `name` in a fresh temp dir; returns its path. */
function writeConfig(t: TestContext, name: string, text: string): string {
  const path = join(tempDir(t), name);
  writeFileSync(path, text);
  return path;
}

function service(config: MuxConfig, name: string): ServiceConfig {
  const found = config.services.get(name);
  assert.ok(found, `service ${name} resolved; got ${[...config.services.keys()].join(', ')}`);
  return found;
}

/** Asserts `fn` throws MUX_CONFIG_INVALID and returns the message. */
function invalid(fn: () => unknown): string {
  let message = '';
  assert.throws(fn, (error: unknown) => {
    assert.equal((error as { code?: string }).code, MuxErrorCodes.ConfigInvalid);
    message = (error as Error).message;
    return true;
  });
  return message;
}

async function invalidAsync(promise: Promise<unknown>): Promise<string> {
  let message = '';
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: string }).code, MuxErrorCodes.ConfigInvalid);
    message = (error as Error).message;
    return true;
  });
  return message;
}

const FILE = '/etc/muxd/muxd.config.yaml';

describe('loadConfigFile', () => {
  test('reads a YAML services file: durations, sizes, env expansion and a relative cwd', async (t) => {
    const file = writeConfig(
      t,
      'muxd.config.yaml',
      [
        'services:',
        '  memory:',
        '    command: ${NODE_BIN:-node}',
        '    args: [server.js, --port, 8080]',
        '    env:',
        '      MEMORY_FILE_PATH: ${DATA}/memory.jsonl',
        '      DEBUG: true',
        '    cwd: ./work',
        '    requestTimeout: 30s',
        '    idleTimeout: 10m',
        '    maxRequestBytes: 512KiB',
        '    maxResponseBytes: 8MiB',
        '    isolation: per-client',
        '',
      ].join('\n'),
    );
    const config = await loadConfigFile(file, { DATA: '/var/data' });
    assert.equal(config.file, file);
    const memory = service(config, 'memory');
    assert.equal(memory.command, 'node');
    assert.deepEqual(memory.args, ['server.js', '--port', '8080']);
    assert.deepEqual(memory.env, { MEMORY_FILE_PATH: '/var/data/memory.jsonl', DEBUG: 'true' });
    assert.equal(memory.cwd, join(file, '..', 'work'));
    assert.equal(memory.requestTimeoutMs, 30_000);
    assert.equal(memory.idleTimeoutMs, 600_000);
    assert.equal(memory.maxRequestBytes, 512 * 1024);
    assert.equal(memory.maxResponseBytes, 8 * 1024 * 1024);
    assert.equal(memory.isolation, 'per-client');
    assert.deepEqual(config.notes, []);
  });

  test('reads a Claude Desktop style JSON file and skips remote entries with a note', async (t) => {
    const file = writeConfig(
      t,
      'muxd.config.json',
      JSON.stringify({
        mcpServers: {
          memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: { TOKEN: 'abc' } },
          remote: { type: 'sse', url: 'https://example.com/sse' },
          streamable: { url: 'https://example.com/mcp' },
        },
      }),
    );
    const config = await loadConfigFile(file, {});
    assert.deepEqual([...config.services.keys()], ['memory']);
    const memory = service(config, 'memory');
    assert.equal(memory.command, 'npx');
    assert.deepEqual(memory.args, ['-y', '@modelcontextprotocol/server-memory']);
    assert.deepEqual(memory.env, { TOKEN: 'abc' });
    assert.equal(memory.cwd, join(file, '..'), 'no cwd: the config file\'s directory');
    assert.equal(config.notes.length, 2);
    assert.match(config.notes[0] ?? '', /^remote: skipped, a remote server \(sse\)/);
    assert.match(config.notes[1] ?? '', /^streamable: skipped, a remote server \(http\)/);
  });

  test('reads a TOML file with a defaults table', async (t) => {
    const file = writeConfig(
      t,
      'muxd.config.toml',
      [
        '[defaults]',
        'maxRequestBytes = "512KiB"',
        'requestTimeout = 45000',
        '',
        '[services.fs]',
        'command = "node"',
        'args = ["fs.js", "/tmp"]',
        'stopTimeout = "2s"',
        '',
        '[services.fs.restart]',
        'maxRestarts = 2',
        '',
      ].join('\n'),
    );
    const fs = service(await loadConfigFile(file, {}), 'fs');
    assert.deepEqual(fs.args, ['fs.js', '/tmp']);
    assert.equal(fs.maxRequestBytes, 512 * 1024);
    assert.equal(fs.requestTimeoutMs, 45_000);
    assert.equal(fs.stopTimeoutMs, 2000);
    assert.equal(fs.restart.maxRestarts, 2);
    assert.equal(fs.restart.initialDelayMs, SERVICE_DEFAULTS.restart.initialDelayMs);
  });

  test('an empty file is a config with no services, with a note saying so', async (t) => {
    const file = writeConfig(t, 'muxd.config.yaml', '');
    const config = await loadConfigFile(file, {});
    assert.equal(config.services.size, 0);
    assert.deepEqual(config.logs, { maxSizeBytes: 10 * 1024 * 1024, keep: 5 });
    assert.deepEqual(config.notes, [`${file} defines no services: add some, then muxctl reload (mux-proxy -- COMMAND shares a server meanwhile)`]);
  });

  test('requireServices refuses an empty, comment-only or all-disabled file with MUX_CONFIG_EMPTY, in one line', async (t) => {
    const texts: Array<[string, string]> = [
      ['muxd.config.yaml', ''],
      ['muxd.config.yaml', '# services:\n#   memory:\n#     command: node\n'],
      ['muxd.config.toml', '# nothing yet\n'],
      ['muxd.config.json', '{ "services": {} }'],
      ['muxd.config.yaml', 'services:\n  off:\n    command: x\n    disabled: true\n'],
    ];
    for (const [name, text] of texts) {
      const file = writeConfig(t, name, text);
      const config = await loadConfigFile(file, {});
      assert.throws(() => requireServices(config, 'say how to accept it'), (error: unknown) => {
        assert.equal((error as { code?: string }).code, MuxErrorCodes.ConfigEmpty);
        assert.equal((error as Error).message, `${file}: defines no services; say how to accept it`);
        return true;
      }, JSON.stringify(text));
    }
    assert.doesNotThrow(() => requireServices(resolveConfig({ services: { s: { command: 'x' } } }, FILE, {}), 'x'));
  });

  test('a missing file is MUX_CONFIG_NOT_FOUND naming the path', async (t) => {
    const path = join(tempDir(t), 'nope.yaml');
    await assert.rejects(loadConfigFile(path), (error: unknown) => {
      assert.equal((error as { code?: string }).code, MuxErrorCodes.ConfigNotFound);
      assert.match((error as Error).message, new RegExp(`config file not found: ${path}`));
      return true;
    });
  });

  test('a syntax error names the file', async (t) => {
    const file = writeConfig(t, 'muxd.config.json', '{"services": {');
    const message = await invalidAsync(loadConfigFile(file, {}));
    assert.ok(message.startsWith(`${file}: cannot parse`), message);
  });

  test('a duration too long for a timer names the file and the key', async (t) => {
    const file = writeConfig(t, 'muxd.config.yaml', 'services:\n  x:\n    command: node\n    requestTimeout: 30d\n');
    assert.equal(await invalidAsync(loadConfigFile(file, {})), `${file}: services.x.requestTimeout: at most 24d (2147483647 ms), got "30d"`);
  });

  test('a validation error in a file names that file and the key path', async (t) => {
    const file = writeConfig(t, 'muxd.config.yaml', 'services:\n  fs:\n    command: node\n    requestTimeout: soon\n');
    const message = await invalidAsync(loadConfigFile(file, {}));
    assert.equal(message, `${file}: services.fs.requestTimeout: expected a duration such as "30s" or "10m", got "soon"`);
  });
});

describe('resolveConfig', () => {
  test('fills every default for a bare service', () => {
    const fs = service(resolveConfig({ services: { fs: { command: 'node' } } }, FILE, {}), 'fs');
    assert.deepEqual(fs, {
      name: 'fs',
      command: 'node',
      args: [],
      env: {},
      cwd: '/etc/muxd',
      isolation: 'shared',
      lazy: true,
      idleTimeoutMs: 600_000,
      requestTimeoutMs: 120_000,
      maxRequestBytes: 8 * 1024 ** 2,
      maxResponseBytes: 64 * 1024 ** 2,
      maxClientBuffer: 16 * 1024 ** 2,
      maxChildBuffer: 32 * 1024 ** 2,
      maxClients: 256,
      maxInflight: 256,
      restart: { initialDelayMs: 1000, maxDelayMs: 30_000, maxRestarts: 5, windowMs: 300_000, resetAfterMs: 60_000 },
      stopTimeoutMs: 5000,
      healthCheck: { intervalMs: 30_000, timeoutMs: 10_000 },
      maxMemoryBytes: 0,
      http: true,
      unwrap: true,
    });
  });

  test('merges the defaults block under each service, key by key and inside restart, healthCheck and env', () => {
    const config = resolveConfig(
      {
        defaults: {
          requestTimeout: '10m',
          maxClients: 4,
          restart: { maxRestarts: 3, window: '1m' },
          healthCheck: { interval: '5s' },
          env: { SHARED: 'yes', LEVEL: 'info' },
        },
        services: {
          a: { command: 'a' },
          b: { command: 'b', requestTimeout: '1s', restart: { initialDelay: '2s' }, healthCheck: { timeout: 1500 }, env: { LEVEL: 'debug' } },
        },
      },
      FILE,
      {},
    );
    const a = service(config, 'a');
    const b = service(config, 'b');
    assert.equal(a.requestTimeoutMs, 600_000);
    assert.equal(b.requestTimeoutMs, 1000, 'the service wins over defaults');
    assert.equal(b.maxClients, 4);
    assert.deepEqual(b.restart, { initialDelayMs: 2000, maxDelayMs: 30_000, maxRestarts: 3, windowMs: 60_000, resetAfterMs: 60_000 });
    assert.deepEqual(b.healthCheck, { intervalMs: 5000, timeoutMs: 1500 });
    assert.deepEqual(a.env, { SHARED: 'yes', LEVEL: 'info' });
    assert.deepEqual(b.env, { SHARED: 'yes', LEVEL: 'debug' });
  });

  test('durations: unit strings, plain numbers as ms, and false or 0 for never', () => {
    const cases: Array<[unknown, number]> = [
      ['30s', 30_000],
      ['10m', 600_000],
      ['1h', 3_600_000],
      ['250ms', 250],
      ['1.5s', 1500],
      [1500, 1500],
      [0, 0],
      [false, 0],
    ];
    for (const [value, ms] of cases) {
      const fs = service(resolveConfig({ services: { fs: { command: 'x', idleTimeout: value } } }, FILE, {}), 'fs');
      assert.equal(fs.idleTimeoutMs, ms, `idleTimeout ${JSON.stringify(value)}`);
    }
  });

  test('sizes: binary and decimal units and plain byte counts', () => {
    const cases: Array<[unknown, number]> = [
      ['512KiB', 512 * 1024],
      ['8MiB', 8 * 1024 ** 2],
      ['1GiB', 1024 ** 3],
      ['2MB', 2_000_000],
      ['64k', 65_536],
      [4096, 4096],
    ];
    for (const [value, bytes] of cases) {
      const fs = service(resolveConfig({ services: { fs: { command: 'x', maxMemory: value } } }, FILE, {}), 'fs');
      assert.equal(fs.maxMemoryBytes, bytes, `maxMemory ${JSON.stringify(value)}`);
    }
  });

  test('the logs block sets rotation', () => {
    const config = resolveConfig({ logs: { maxSize: '1MiB', keep: 2 } }, FILE, {});
    assert.deepEqual(config.logs, { maxSizeBytes: 1024 * 1024, keep: 2 });
  });

  describe('idleTimeout default', () => {
    const resolve = (entry: object, defaults: object = {}) =>
      service(resolveConfig({ defaults, services: { s: { command: 'x', ...entry } } }, FILE, {}), 's');

    test('lazy services stop after 10m idle by default', () => assert.equal(resolve({}).idleTimeoutMs, 600_000));
    test('eager services never idle-stop by default', () => {
      assert.equal(resolve({ lazy: false }).idleTimeoutMs, 0);
      assert.equal(resolve({}, { lazy: false }).idleTimeoutMs, 0, 'eager through the defaults block');
    });
    test('an explicit idleTimeout applies either way', () => {
      assert.equal(resolve({ lazy: false, idleTimeout: '5m' }).idleTimeoutMs, 300_000);
      assert.equal(resolve({ idleTimeout: false }).idleTimeoutMs, 0);
      assert.equal(resolve({}, { idleTimeout: '1m' }).idleTimeoutMs, 60_000);
    });
  });

  describe('variables', () => {
    test('${VAR} and ${VAR:-default} expand in command, args, env and cwd', () => {
      const fs = service(
        resolveConfig(
          {
            services: {
              fs: {
                command: '${BIN}',
                args: ['--root=${ROOT}', '${MODE:-ro}', 'literal $HOME and ${}'],
                env: { KEY: '${SECRET}', FALLBACK: '${NOPE:-}' },
                cwd: '${ROOT}/sub',
              },
            },
          },
          FILE,
          { BIN: '/usr/bin/fs', ROOT: '/data', SECRET: 's3cret' },
        ),
        'fs',
      );
      assert.equal(fs.command, '/usr/bin/fs');
      assert.deepEqual(fs.args, ['--root=/data', 'ro', 'literal $HOME and ${}']);
      assert.deepEqual(fs.env, { KEY: 's3cret', FALLBACK: '' });
      assert.equal(fs.cwd, '/data/sub');
    });

    test('${VAR:-default} uses the default for an empty variable too, as the shell does', () => {
      assert.equal(expandVariables('${MODE:-ro}', { MODE: '' }, 'x', FILE), 'ro');
      assert.equal(expandVariables('${MODE:-ro}', { MODE: 'rw' }, 'x', FILE), 'rw');
    });

    test('${VAR} set to the empty string expands to nothing rather than claiming it is unset', () => {
      assert.equal(expandVariables('--flag=${EXTRA}', { EXTRA: '' }, 'x', FILE), '--flag=');
    });

    test('defaults nest as in the shell: ${A:-${B:-x}}, expanded only when used', () => {
      const env = { HOME: '/home/me', B: 'bee', EMPTY: '' };
      const cases: Array<[string, string]> = [
        ['${UNSET:-${HOME}}', '/home/me'],
        ['${UNSET:-${HOME}}/data', '/home/me/data'],
        ['${UNSET:-${ALSO_UNSET:-x}}', 'x'],
        ['${UNSET:-${B:-x}}', 'bee'],
        ['${EMPTY:-${UNSET:-${HOME}/x}}-y', '/home/me/x-y'],
        ['${B:-${NEVER_SET}}', 'bee'],
        ['pre ${UNSET:-a${B}b} post', 'pre abeeb post'],
        ['${UNSET:-}', ''],
        ['${UNSET:-a{b}c}', 'a{bc}'],
        ['${UNSET:-$HOME}', '$HOME'],
        ['${UNSET:-${}', '${'],
        ['${UNSET:-unclosed ${B}', '${UNSET:-unclosed bee'],
        ['${1}${}$', '${1}${}$'],
      ];
      for (const [text, expected] of cases) assert.equal(expandVariables(text, env, 'x', FILE), expected, text);
      assert.match(invalid(() => expandVariables('${UNSET:-${GONE}}', env, 'args[0]', FILE)), /^\/etc\/muxd\/muxd\.config\.yaml: args\[0\]: environment variable GONE is not set/);
    });

    test('nesting and the expanded length are bounded, so hostile input fails fast with a clear error', () => {
      const deep = (levels: number) => '${U:-'.repeat(levels) + 'x' + '}'.repeat(levels);
      assert.equal(expandVariables(deep(8), {}, 'x', FILE), 'x');
      assert.equal(invalid(() => expandVariables(deep(9), {}, 'command', FILE)), `${FILE}: command: \${...:-default} nested more than 8 deep`);
      const started = Date.now();
      assert.match(invalid(() => expandVariables('${U:-'.repeat(100_000), {}, 'command', FILE)), /nested more than 8 deep/);
      const big = 'v'.repeat(64 * 1024);
      assert.equal(expandVariables('${BIG}${BIG}', { BIG: big }, 'x', FILE).length, 128 * 1024);
      assert.equal(
        invalid(() => expandVariables('${BIG}'.repeat(10_000), { BIG: big }, 'env.K', FILE)),
        `${FILE}: env.K: expands to more than 128 KiB, the longest string Linux passes to a program`,
      );
      assert.ok(Date.now() - started < 2000, 'fails fast');
    });

    test('only the environment\'s own variables count: ${constructor} is not Object\'s', () => {
      assert.match(invalid(() => expandVariables('${constructor}', {}, 'x', FILE)), /environment variable constructor is not set/);
      assert.equal(expandVariables('${toString:-none}', {}, 'x', FILE), 'none');
      assert.equal(expandVariables('${hasOwnProperty:-none}', process.env, 'x', FILE), 'none');
    });

    test('a missing variable is an error naming the variable, the file and the key path', () => {
      const message = invalid(() =>
        resolveConfig({ services: { fs: { command: 'node', args: ['a', '--token=${API_TOKEN}'] } } }, FILE, {}),
      );
      assert.match(message, /^\/etc\/muxd\/muxd\.config\.yaml: services\.fs\.args\[1\]: environment variable API_TOKEN is not set/);
      assert.match(message, /\$\{API_TOKEN:-default\}/, 'says how to give a default');
      const envMessage = invalid(() => resolveConfig({ services: { fs: { command: 'node', env: { K: '${GONE}' } } } }, FILE, {}));
      assert.match(envMessage, /services\.fs\.env\.K: environment variable GONE is not set/);
    });
  });

  describe('cwd', () => {
    const cwdOf = (cwd: string | undefined) =>
      service(resolveConfig({ services: { s: cwd === undefined ? { command: 'x' } : { command: 'x', cwd } } }, FILE, {}), 's').cwd;

    test('a relative cwd is resolved against the config file\'s directory', () => {
      assert.equal(cwdOf('data'), '/etc/muxd/data');
      assert.equal(cwdOf('.'), '/etc/muxd');
      assert.equal(cwdOf('../srv'), '/etc/srv');
    });
    test('an absolute cwd is kept and no cwd means the config file\'s directory', () => {
      assert.equal(cwdOf('/opt/server'), '/opt/server');
      assert.equal(cwdOf(undefined), '/etc/muxd');
    });
  });

  describe('validation errors name the file, the key path and what was expected', () => {
    test('an unknown key in a service', () => {
      const message = invalid(() => resolveConfig({ services: { fs: { command: 'node', comand: 'x' } } }, FILE, {}));
      assert.equal(message, `${FILE}: services.fs: unknown key "comand"`);
    });

    test('an unknown top-level key and an unknown key in defaults', () => {
      const message = invalid(() => resolveConfig({ servers: {}, defaults: { lazzy: true } }, FILE, {}));
      assert.match(message, /^\/etc\/muxd\/muxd\.config\.yaml: \(top level\): unknown key "servers"$/m);
      assert.match(message, /^\/etc\/muxd\/muxd\.config\.yaml: defaults: unknown key "lazzy"$/m);
    });

    test('a wrong type', () => {
      const message = invalid(() => resolveConfig({ services: { fs: { command: 'node', maxClients: 'ten' } } }, FILE, {}));
      assert.match(message, /^\/etc\/muxd\/muxd\.config\.yaml: services\.fs\.maxClients: .*expected number/);
      const args = invalid(() => resolveConfig({ services: { fs: { command: 'node', args: 'a b' } } }, FILE, {}));
      assert.match(args, /services\.fs\.args: .*expected array/);
    });

    test('a bad duration or size, nested or not', () => {
      assert.equal(
        invalid(() => resolveConfig({ services: { fs: { command: 'node', restart: { maxDelay: '5 parsecs' } } } }, FILE, {})),
        `${FILE}: services.fs.restart.maxDelay: expected a duration such as "30s" or "10m", got "5 parsecs"`,
      );
      assert.equal(
        invalid(() => resolveConfig({ services: { fs: { command: 'node', idleTimeout: -5 } } }, FILE, {})),
        `${FILE}: services.fs.idleTimeout: expected a duration such as "30s" or "10m", got -5`,
      );
      assert.equal(
        invalid(() => resolveConfig({ defaults: { maxRequestBytes: '8 megs' } }, FILE, {})),
        `${FILE}: defaults.maxRequestBytes: expected a size such as "512KiB" or "8MiB", got "8 megs"`,
      );
    });

    test('a duration past what a Node timer holds (2^31-1 ms, about 24.8 days) is refused, wherever it is', () => {
      const durationKeys: Array<[string, (value: unknown) => object]> = [
        ['services.fs.idleTimeout', (value) => ({ services: { fs: { command: 'x', idleTimeout: value } } })],
        ['services.fs.requestTimeout', (value) => ({ services: { fs: { command: 'x', requestTimeout: value } } })],
        ['services.fs.stopTimeout', (value) => ({ services: { fs: { command: 'x', stopTimeout: value } } })],
        ['services.fs.restart.initialDelay', (value) => ({ services: { fs: { command: 'x', restart: { initialDelay: value } } } })],
        ['services.fs.restart.maxDelay', (value) => ({ services: { fs: { command: 'x', restart: { maxDelay: value } } } })],
        ['services.fs.restart.window', (value) => ({ services: { fs: { command: 'x', restart: { window: value } } } })],
        ['services.fs.restart.resetAfter', (value) => ({ services: { fs: { command: 'x', restart: { resetAfter: value } } } })],
        ['services.fs.healthCheck.interval', (value) => ({ services: { fs: { command: 'x', healthCheck: { interval: value } } } })],
        ['services.fs.healthCheck.timeout', (value) => ({ services: { fs: { command: 'x', healthCheck: { timeout: value } } } })],
        ['defaults.requestTimeout', (value) => ({ defaults: { requestTimeout: value } })],
        ['defaults.restart.window', (value) => ({ defaults: { restart: { window: value } } })],
        ['http.sessionIdleTimeout', (value) => ({ http: { listen: 7777, sessionIdleTimeout: value } })],
      ];
      for (const [key, raw] of durationKeys) {
        for (const value of ['30d', '25d', 2 ** 31]) {
          assert.equal(invalid(() => resolveConfig(raw(value), FILE, {})), `${FILE}: ${key}: at most 24d (2147483647 ms), got ${JSON.stringify(value)}`);
        }
        for (const value of ['24d', 2 ** 31 - 1]) assert.doesNotThrow(() => resolveConfig(raw(value), FILE, {}), `${key}: ${JSON.stringify(value)}`);
      }
      assert.equal(service(resolveConfig({ services: { fs: { command: 'x', requestTimeout: 2 ** 31 - 1 } } }, FILE, {}), 'fs').requestTimeoutMs, 2 ** 31 - 1);
    });

    test('a message size over 256MiB, or a buffer or log size over 1GiB, is refused', () => {
      const cases: Array<[string, object, string]> = [
        ['services.fs.maxRequestBytes', { services: { fs: { command: 'x', maxRequestBytes: '257MiB' } } }, 'at most 256MiB (268435456 bytes), got "257MiB"'],
        ['services.fs.maxResponseBytes', { services: { fs: { command: 'x', maxResponseBytes: '1GiB' } } }, 'at most 256MiB (268435456 bytes), got "1GiB"'],
        ['defaults.maxRequestBytes', { defaults: { maxRequestBytes: 2 ** 40 } }, `at most 256MiB (268435456 bytes), got ${2 ** 40}`],
        ['http.maxBodyBytes', { http: { listen: 7777, maxBodyBytes: '512MiB' } }, 'at most 256MiB (268435456 bytes), got "512MiB"'],
        ['services.fs.maxClientBuffer', { services: { fs: { command: 'x', maxClientBuffer: '2GiB' } } }, 'at most 1GiB (1073741824 bytes), got "2GiB"'],
        ['services.fs.maxChildBuffer', { services: { fs: { command: 'x', maxChildBuffer: '1025MiB' } } }, 'at most 1GiB (1073741824 bytes), got "1025MiB"'],
        ['logs.maxSize', { logs: { maxSize: '4GB' } }, 'at most 1GiB (1073741824 bytes), got "4GB"'],
        ['services.fs.maxMemory', { services: { fs: { command: 'x', maxMemory: '99999999999GiB' } } }, `at most 8PiB (${Number.MAX_SAFE_INTEGER} bytes), got "99999999999GiB"`],
      ];
      for (const [key, raw, message] of cases) assert.equal(invalid(() => resolveConfig(raw, FILE, {})), `${FILE}: ${key}: ${message}`);
      const fs = service(
        resolveConfig({ services: { fs: { command: 'x', maxRequestBytes: '256MiB', maxResponseBytes: '256MiB', maxClientBuffer: '1GiB', maxChildBuffer: '1GiB', maxMemory: '64GiB' } } }, FILE, {}),
        'fs',
      );
      assert.deepEqual([fs.maxRequestBytes, fs.maxResponseBytes, fs.maxClientBuffer, fs.maxChildBuffer, fs.maxMemoryBytes], [256 * 1024 ** 2, 256 * 1024 ** 2, 1024 ** 3, 1024 ** 3, 64 * 1024 ** 3]);
    });

    test('a missing command', () => {
      const message = invalid(() => resolveConfig({ services: { fs: { args: [] } } }, FILE, {}));
      assert.match(message, /^\/etc\/muxd\/muxd\.config\.yaml: services\.fs\.command: /);
    });

    test('every mistake is listed, one per line', () => {
      const message = invalid(() =>
        resolveConfig({ services: { a: { command: 'x', lazy: 'yes' }, b: { command: 'y', maxInflight: 0 } } }, FILE, {}),
      );
      const lines = message.split('\n');
      assert.equal(lines.length, 2, message);
      assert.match(lines[0] ?? '', /services\.a\.lazy/);
      assert.match(lines[1] ?? '', /services\.b\.maxInflight/);
    });

    test('a config that is not an object', () => {
      assert.match(invalid(() => resolveConfig(['a'], FILE, {})), /^\/etc\/muxd\/muxd\.config\.yaml: \(top level\): /);
    });
  });

  describe('service names', () => {
    for (const name of ['bad name', '../escape', '-dash', 'x'.repeat(65), 'a/b']) {
      test(`${JSON.stringify(name)} is refused, in services and in mcpServers`, () => {
        for (const section of ['services', 'mcpServers']) {
          const message = invalid(() => resolveConfig({ [section]: { [name]: { command: 'x' } } }, FILE, {}));
          assert.ok(message.startsWith(`${FILE}: ${section}.${name}: service names use letters, digits`), message);
        }
      });
    }
    test('letters, digits, dots, dashes and underscores are fine', () => {
      const config = resolveConfig({ services: { 'fs.v2_beta-1': { command: 'x' } } }, FILE, {});
      assert.deepEqual([...config.services.keys()], ['fs.v2_beta-1']);
    });
  });

  describe('names every JavaScript object has', () => {
    const reserved = (name: string) => `"${name}" is a name every JavaScript object has, so muxd cannot keep a service under it; choose another`;

    for (const name of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf']) {
      test(`${JSON.stringify(name)} is refused as a service name, in services and in mcpServers`, () => {
        for (const section of ['services', 'mcpServers']) {
          // JSON.parse keeps "__proto__" as a key, as the YAML and JSON loaders do.
          const raw: unknown = JSON.parse(JSON.stringify({ [section]: { ok: { command: 'y' } } }).replace('"ok"', JSON.stringify(name)));
          assert.equal(invalid(() => resolveConfig(raw, FILE, {})), `${FILE}: ${section}.${name}: ${reserved(name)}`);
        }
      });
    }

    const loaders: Array<[string, string]> = [
      ['muxd.config.yaml', 'services:\n  ok:\n    command: a\n  __proto__:\n    command: b\n'],
      ['muxd.config.json', '{ "services": { "ok": { "command": "a" }, "__proto__": { "command": "b" } } }'],
      ['muxd.config.toml', '[services.ok]\ncommand = "a"\n\n[services.__proto__]\ncommand = "b"\n'],
    ];
    for (const [name, text] of loaders) {
      test(`a __proto__ service in a ${name.split('.').pop()} file is refused, not silently dropped`, async (t) => {
        const file = writeConfig(t, name, text);
        assert.equal(await invalidAsync(loadConfigFile(file, {})), `${file}: services.__proto__: ${reserved('__proto__')}`);
      });
    }

    test('a __proto__ key in a JavaScript config, which sets a prototype, is refused', async (t) => {
      const file = writeConfig(t, 'muxd.config.mjs', 'export default { services: { ok: { command: "a" }, __proto__: { command: "b" } } };\n');
      assert.equal(await invalidAsync(loadConfigFile(file, {})), `${file}: services: its prototype is set (a "__proto__" key in a JavaScript config does that); write plain keys`);
    });

    test('a __proto__ key anywhere else (an env name, a host entry) is refused naming its path', async (t) => {
      const file = writeConfig(t, 'muxd.config.yaml', 'defaults:\n  env:\n    __proto__: x\nservices:\n  a:\n    command: a\n    env:\n      __proto__: y\nmcpServers:\n  b:\n    command: b\n    __proto__: { url: "http://x" }\n');
      const lines = (await invalidAsync(loadConfigFile(file, {}))).split('\n').sort();
      const cannot = '"__proto__" cannot be a key (it would set a prototype and vanish); remove it';
      assert.deepEqual(lines, [`${file}: defaults.env.__proto__: ${cannot}`, `${file}: mcpServers.b.__proto__: ${cannot}`, `${file}: services.a.env.__proto__: ${cannot}`]);
    });

    test('other env names are kept as own keys, Object.prototype names included; an ad-hoc env keeps even __proto__', () => {
      const config = resolveConfig({ services: { s: { command: 'x', env: { constructor: 'c', toString: 't' } } } }, FILE, {});
      assert.deepEqual(Object.entries(service(config, 's').env), [['constructor', 'c'], ['toString', 't']]);
      const adhoc = adhocServiceConfig('adhoc-1', { command: 'x', args: [], cwd: '/', env: JSON.parse('{"__proto__": "p", "TOKEN": "t"}') as Record<string, string> });
      assert.deepEqual(Object.entries(adhoc.env), [['__proto__', 'p'], ['TOKEN', 't']]);
      assert.equal(Object.getPrototypeOf(adhoc.env), Object.prototype);
      assert.deepEqual(Object.keys(redactConfig(adhoc).env as object), ['__proto__', 'TOKEN']);
    });
  });

  test('the same name in services and mcpServers is refused', () => {
    const message = invalid(() => resolveConfig({ services: { fs: { command: 'a' } }, mcpServers: { fs: { command: 'b' } } }, FILE, {}));
    assert.match(message, /mcpServers\.fs: defined twice/);
  });

  test('disabled entries are left out with a note', () => {
    const config = resolveConfig(
      { services: { off: { command: 'x', disabled: true }, on: { command: 'y' } }, mcpServers: { gone: { command: 'z', disabled: true } } },
      FILE,
      {},
    );
    assert.deepEqual([...config.services.keys()], ['on']);
    assert.deepEqual(config.notes, ['off: disabled', 'gone: disabled']);
  });

  test('nothing at all is an empty config, noted as such', () => {
    for (const raw of [null, undefined, {}]) {
      const config = resolveConfig(raw, FILE, {});
      assert.equal(config.services.size, 0);
      assert.deepEqual(config.notes, [`${FILE} defines no services: add some, then muxctl reload (mux-proxy -- COMMAND shares a server meanwhile)`]);
    }
  });
});

describe('the http block', () => {
  test('is off unless configured; listen takes HOST:PORT, [V6]:PORT or a bare port', () => {
    assert.equal(resolveConfig({}, FILE, {}).http, undefined);
    const http = resolveConfig({ http: { listen: '127.0.0.1:7777' } }, FILE, {}).http;
    assert.deepEqual(http, { host: '127.0.0.1', port: 7777, allowNonLoopback: false, maxBodyBytes: 8 * 1024 ** 2, sessionIdleTimeoutMs: 30 * 60_000, sessionIdleAfterMs: 60_000 });
    assert.deepEqual(parseListen('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseListen(7777), { host: '127.0.0.1', port: 7777 });
    assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
    for (const bad of ['example.com:80', '127.0.0.1', '127.0.0.1:70000', ':80', '::1:80']) assert.equal(parseListen(bad), undefined, bad);
  });

  test('a non-loopback address needs allowNonLoopback; bad values name the key', () => {
    const message = invalid(() => resolveConfig({ http: { listen: '0.0.0.0:7777' } }, FILE, {}));
    assert.match(message, /http\.listen: 0\.0\.0\.0 is not a loopback address.*allowNonLoopback/);
    assert.equal(resolveConfig({ http: { listen: '0.0.0.0:7777', allowNonLoopback: true } }, FILE, {}).http?.host, '0.0.0.0');
    assert.match(invalid(() => resolveConfig({ http: { listen: 'nowhere' } }, FILE, {})), /http\.listen: expected HOST:PORT/);
    assert.match(invalid(() => resolveConfig({ http: { listen: '127.0.0.1:1', port: 2 } }, FILE, {})), /http: unknown key "port"/);
    const sized = resolveConfig({ http: { listen: 1, maxBodyBytes: '1MiB', sessionIdleTimeout: '1m', sessionIdleAfter: '5s' } }, FILE, {}).http;
    assert.equal(sized?.maxBodyBytes, 1024 ** 2);
    assert.equal(sized?.sessionIdleTimeoutMs, 60_000);
    assert.equal(sized?.sessionIdleAfterMs, 5_000);
  });

  test('a service can stay off HTTP', () => {
    assert.equal(service(resolveConfig({ services: { s: { command: 'x', http: false } } }, FILE, {}), 's').http, false);
  });

  test('loopback hosts', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) assert.ok(isLoopbackHost(host), host);
    for (const host of ['0.0.0.0', '10.0.0.1', 'localhost.evil.com', '::', '128.0.0.1', '127.0.0.256']) assert.ok(!isLoopbackHost(host), host);
  });
});

describe('expandVariables with a real file on disk', () => {
  test('cwd with a variable and a relative remainder is still anchored at the config file', async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'conf'));
    const file = join(dir, 'conf', 'muxd.config.yaml');
    writeFileSync(file, 'services:\n  s:\n    command: x\n    cwd: ${SUB:-work}/inner\n');
    assert.equal(service(await loadConfigFile(file, {}), 's').cwd, join(dir, 'conf', 'work', 'inner'));
  });
});
