import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '@muxd/config';
import type { ServiceConfig } from '@muxd/config';
import { redactArgs, redactConfig } from '../src/redact.js';

function serviceConfig(entry: object): ServiceConfig {
  const config = resolveConfig({ services: { s: { command: 'server', ...entry } } }, '/etc/muxd/muxd.config.yaml', {});
  const service = config.services.get('s');
  assert.ok(service);
  return service;
}

describe('redactConfig', () => {
  test('hides every env value but keeps the names', () => {
    const config = serviceConfig({ env: { GITHUB_TOKEN: 'ghp_abc', LOG_LEVEL: 'debug' } });
    const shown = redactConfig(config);
    assert.deepEqual(shown['env'], { GITHUB_TOKEN: '[redacted]', LOG_LEVEL: '[redacted]' });
    assert.doesNotMatch(JSON.stringify(shown), /ghp_abc|debug/);
  });

  test('keeps everything else and leaves the live config untouched', () => {
    const config = serviceConfig({ args: ['--token', 'abc', 'plain'], env: { K: 'v' }, requestTimeout: '5s' });
    const shown = redactConfig(config);
    assert.equal(shown['command'], 'server');
    assert.equal(shown['requestTimeoutMs'], 5000);
    assert.deepEqual(shown['args'], ['--token', '[redacted]', 'plain']);
    assert.deepEqual(config.env, { K: 'v' });
    assert.deepEqual(config.args, ['--token', 'abc', 'plain']);
  });
});

describe('redactArgs', () => {
  test('hides the value after a secret-looking flag', () => {
    assert.deepEqual(redactArgs(['--token', 't0k', '--port', '8080']), ['--token', '[redacted]', '--port', '8080']);
    assert.deepEqual(redactArgs(['--api-key', 'k', '-password', 'p', '--GitHub-Auth-Token', 'g']), [
      '--api-key',
      '[redacted]',
      '-password',
      '[redacted]',
      '--GitHub-Auth-Token',
      '[redacted]',
    ]);
  });

  test('hides the value of --flag=value forms', () => {
    assert.deepEqual(redactArgs(['--api_key=sk-123', '--client-secret=s', '--credentials=c', '--name=x']), [
      '--api_key=[redacted]',
      '--client-secret=[redacted]',
      '--credentials=[redacted]',
      '--name=x',
    ]);
  });

  test('a secret flag at the end, with no value, is kept as is', () => {
    assert.deepEqual(redactArgs(['serve', '--token']), ['serve', '--token']);
  });

  test('plain arguments pass through untouched', () => {
    const args = ['-y', '@modelcontextprotocol/server-filesystem', '/home/me/projects', '--port', '3000', 'token'];
    assert.deepEqual(redactArgs(args), args);
  });

  test('hides the password of a connection URL', () => {
    assert.deepEqual(redactArgs(['-y', '@modelcontextprotocol/server-postgres', 'postgresql://app:hunter2@db.local:5432/prod']), [
      '-y',
      '@modelcontextprotocol/server-postgres',
      'postgresql://app:[redacted]@db.local:5432/prod',
    ]);
    assert.deepEqual(redactArgs(['--url=redis://:s3cret@cache:6379/0']), ['--url=redis://:[redacted]@cache:6379/0']);
    assert.deepEqual(redactArgs(['https://example.com/a:b@c', 'http://host:8080/x']), ['https://example.com/a:b@c', 'http://host:8080/x']);
  });
});
