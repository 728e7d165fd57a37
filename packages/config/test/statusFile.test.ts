import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MuxErrorCodes } from '@muxd/protocol';
import { resolveConfig } from '../src/config.js';

const FILE = '/etc/muxd/config.yaml';
const services = { memory: { command: 'node' } };

test('statusFile is off unless set', () => {
  assert.equal(resolveConfig({ services }, FILE, {}).statusFile, undefined);
});

test('statusFile expands ~, variables and relative paths as other config paths', () => {
  const env = { HOME: '/home/ana', XDG_RUNTIME_DIR: '/run/user/1000' };
  assert.equal(resolveConfig({ services, statusFile: '~/.cache/muxd/status.json' }, FILE, env).statusFile, '/home/ana/.cache/muxd/status.json');
  assert.equal(resolveConfig({ services, statusFile: '${XDG_RUNTIME_DIR}/muxd.json' }, FILE, env).statusFile, '/run/user/1000/muxd.json');
  assert.equal(resolveConfig({ services, statusFile: '${STATUS_DIR:-~}/s.json' }, FILE, env).statusFile, '/home/ana/s.json');
  assert.equal(resolveConfig({ services, statusFile: 'status.json' }, FILE, env).statusFile, '/etc/muxd/status.json');
  // Only a leading ~ is the home directory.
  assert.equal(resolveConfig({ services, statusFile: '/tmp/~/s.json' }, FILE, env).statusFile, '/tmp/~/s.json');
});

test('a bad statusFile names the key', () => {
  for (const [value, expected] of [
    ['', /statusFile: expected a file path/],
    [42, /statusFile/],
    ['${NOT_SET_ANYWHERE}/s.json', /statusFile: environment variable NOT_SET_ANYWHERE is not set/],
  ] as const) {
    assert.throws(
      () => resolveConfig({ services, statusFile: value }, FILE, {}),
      (error: Error & { code?: string }) => error.code === MuxErrorCodes.ConfigInvalid && expected.test(error.message),
    );
  }
});
