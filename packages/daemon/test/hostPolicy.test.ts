import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPolicy } from '../src/http/hostPolicy.js';

describe('HostPolicy', () => {
  const policy = new HostPolicy('127.0.0.1', 7777);

  test('Host must be a loopback name with the listening port', () => {
    for (const host of ['127.0.0.1:7777', 'localhost:7777', 'LOCALHOST:7777', '[::1]:7777']) assert.ok(policy.hostAllowed(host), host);
    for (const host of [undefined, '', 'evil.example:7777', 'localhost', 'localhost:7778', 'localhost.evil.example:7777', '127.0.0.1:7777:1', '[::1]', 'user@localhost:7777']) {
      assert.ok(!policy.hostAllowed(host), String(host));
    }
  });

  test('Origin, when present, must be an http(s) loopback origin', () => {
    for (const origin of [undefined, 'http://localhost:3000', 'https://127.0.0.1', 'http://[::1]:7777']) assert.ok(policy.originAllowed(origin), String(origin));
    for (const origin of ['null', 'http://evil.example', 'file://', 'chrome-extension://abc', 'http://localhost.evil.example', 'not a url']) {
      assert.ok(!policy.originAllowed(origin), origin);
    }
  });

  test('a non-loopback bind also accepts its own address', () => {
    const lan = new HostPolicy('192.168.1.5', 7777);
    assert.ok(lan.hostAllowed('192.168.1.5:7777'));
    assert.ok(lan.hostAllowed('localhost:7777'));
    assert.ok(!lan.hostAllowed('192.168.1.6:7777'));
    assert.ok(lan.originAllowed('http://192.168.1.5:7777'));
  });
});
