import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bearerToken, loadOrCreateToken, tokensEqual } from '../src/http/httpToken.js';

describe('the HTTP token', () => {
  test('is created once, 0600, and read back after', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'muxd-token-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'http-token');
    const token = loadOrCreateToken(file);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8').trim(), token);
    chmodSync(file, 0o644);
    assert.equal(loadOrCreateToken(file), token, 'the same token on the next start');
    assert.equal(statSync(file).mode & 0o777, 0o600, 'a loosened file is tightened');
    writeFileSync(file, 'short\n');
    assert.notEqual(loadOrCreateToken(file), 'short', 'a weak token is replaced');
  });

  test('Authorization: Bearer parsing and comparison', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer   abc '), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken('Bearer'), undefined);
    assert.equal(bearerToken(undefined), undefined);
    assert.ok(tokensEqual('abc', 'abc'));
    assert.ok(!tokensEqual('abc', 'abd'));
    assert.ok(!tokensEqual('abc', 'abcd'));
  });
});
