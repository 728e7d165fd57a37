import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printable } from '../src/monit/printable.js';

test("a child's escape sequences cannot reach the terminal", () => {
  assert.equal(printable('ok \u001b[2J\u001b[H gone\u0007\r\n'), 'ok \ufffd[2J\ufffd[H gone\ufffd\ufffd\ufffd');
  assert.equal(printable('a\tb \u009b31m'), 'a b \ufffd31m', 'tabs become spaces, C1 controls go too');
  assert.equal(printable('plain ▁▂ text'), 'plain ▁▂ text');
  assert.equal(printable('x'.repeat(5000)).length, 1000);
});
