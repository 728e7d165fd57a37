import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { SERVICE_NAME_PATTERN, SOCKET_PATH_LIMIT, isPrototypeKey, isValidServiceName, resolvePaths, serviceSocketPath } from '../src/paths.js';

describe('resolvePaths', () => {
  test('puts everything under MUXD_HOME when it is set, ignoring XDG', () => {
    const paths = resolvePaths({ MUXD_HOME: '/srv/muxd', XDG_STATE_HOME: '/xdg/state', XDG_RUNTIME_DIR: '/run/user/1' });
    assert.deepEqual(paths, {
      runDir: '/srv/muxd/run',
      stateDir: '/srv/muxd',
      logDir: '/srv/muxd/logs',
      controlSocket: '/srv/muxd/run/muxd.ctl',
      lockFile: '/srv/muxd/muxd.pid',
      database: '/srv/muxd/muxd.db',
      lastConfigFile: '/srv/muxd/config-path',
      httpTokenFile: '/srv/muxd/http-token',
      lastCrashFile: '/srv/muxd/last-crash.json',
    });
  });

  test('uses the XDG state and runtime directories otherwise', () => {
    const paths = resolvePaths({ XDG_STATE_HOME: '/xdg/state', XDG_RUNTIME_DIR: '/run/user/1000' });
    assert.equal(paths.stateDir, '/xdg/state/muxd');
    assert.equal(paths.database, '/xdg/state/muxd/muxd.db');
    assert.equal(paths.logDir, '/xdg/state/muxd/logs');
    assert.equal(paths.runDir, '/run/user/1000/muxd');
    assert.equal(paths.controlSocket, '/run/user/1000/muxd/muxd.ctl');
  });

  test('falls back to ~/.local/state and a per-user temp directory; empty variables count as unset', () => {
    for (const env of [{}, { MUXD_HOME: '', XDG_STATE_HOME: '', XDG_RUNTIME_DIR: '' }]) {
      const paths = resolvePaths(env);
      assert.equal(paths.stateDir, join(homedir(), '.local', 'state', 'muxd'));
      assert.equal(paths.runDir, join(tmpdir(), `muxd-${userInfo().uid}`));
    }
  });

  test('service sockets live in the run directory, named after the service', () => {
    const paths = resolvePaths({ MUXD_HOME: '/h' });
    assert.equal(serviceSocketPath(paths, 'memory'), '/h/run/memory.sock');
  });
});

describe('limits', () => {
  test('the socket path limit matches the OS', () => {
    assert.equal(SOCKET_PATH_LIMIT, process.platform === 'linux' ? 108 : 104);
  });

  test('service names are safe file names', () => {
    for (const name of ['memory', 'a', 'fs.v2', 'my_server-1', 'A'.repeat(64)]) assert.ok(SERVICE_NAME_PATTERN.test(name), name);
    for (const name of ['', '.hidden', '-x', '../x', 'a/b', 'a b', 'A'.repeat(65), 'caf\u00e9']) {
      assert.ok(!SERVICE_NAME_PATTERN.test(name), JSON.stringify(name));
    }
  });

  test('names every JavaScript object has are no service names: __proto__, prototype, constructor and the rest of Object.prototype', () => {
    for (const name of ['__proto__', 'prototype', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__']) {
      assert.ok(isPrototypeKey(name), name);
      assert.ok(!isValidServiceName(name), name);
    }
    for (const name of ['memory', 'Constructor', 'proto', 'constructor-2', 'my.prototype']) {
      assert.ok(!isPrototypeKey(name), name);
      assert.ok(isValidServiceName(name), name);
    }
    assert.ok(!isValidServiceName('../x'));
  });
});
