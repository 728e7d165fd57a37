import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MuxErrorCodes } from '@muxd/protocol';
import { adhocServiceConfig, resolveConfig } from '../src/config.js';

const FILE = '/etc/muxd/muxd.config.yaml';

describe('unwrap (run a package runner without the runner)', () => {
  test('on by default, off per service, and settable in defaults', () => {
    const config = resolveConfig(
      { defaults: { unwrap: false }, services: { a: { command: 'npx' }, b: { command: 'npx', unwrap: true } } },
      FILE,
      {},
    );
    assert.equal(config.services.get('a')?.unwrap, false);
    assert.equal(config.services.get('b')?.unwrap, true);
    assert.equal(resolveConfig({ services: { c: { command: 'npx', args: ['-y', 'pkg'] } } }, FILE, {}).services.get('c')?.unwrap, true);
    assert.equal(adhocServiceConfig('adhoc-1', { command: 'npx', args: ['pkg'], cwd: '/tmp', env: {} }).unwrap, true);
  });

  test('anything but true or false is refused, naming the key', () => {
    assert.throws(
      () => resolveConfig({ services: { a: { command: 'npx', unwrap: 'no' } } }, FILE, {}),
      (error: unknown) => {
        assert.equal((error as { code?: string }).code, MuxErrorCodes.ConfigInvalid);
        assert.match((error as Error).message, /^\/etc\/muxd\/muxd\.config\.yaml: services\.a\.unwrap: /);
        return true;
      },
    );
  });
});
