import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, parseDuration, parseSize } from '../src/units.js';

describe('parseSize', () => {
  test('reads byte counts with binary and decimal units, case-insensitively', () => {
    const cases: Array<[unknown, number]> = [
      [0, 0],
      [1234, 1234],
      [12.7, 12],
      ['100', 100],
      ['100b', 100],
      ['512KiB', 524_288],
      ['512kib', 524_288],
      ['8MiB', 8_388_608],
      ['8 MiB', 8_388_608],
      ['1.5KiB', 1536],
      ['2GiB', 2 * 1024 ** 3],
      ['64K', 65_536],
      ['1M', 1_048_576],
      ['1KB', 1000],
      ['3MB', 3_000_000],
      ['1GB', 1_000_000_000],
    ];
    for (const [value, bytes] of cases) assert.equal(parseSize(value), bytes, JSON.stringify(value));
  });

  test('gives undefined for anything that is not a size', () => {
    for (const value of ['', 'big', '5XB', '-1KiB', '1 2MiB', -1, Number.NaN, Number.POSITIVE_INFINITY, null, undefined, true, {}]) {
      assert.equal(parseSize(value), undefined, String(value));
    }
  });
});

describe('parseDuration', () => {
  test('reads ms counts and unit strings', () => {
    const cases: Array<[unknown, number]> = [
      [0, 0],
      [250, 250],
      ['500ms', 500],
      ['30s', 30_000],
      [' 30s ', 30_000],
      ['1.5s', 1500],
      ['10m', 600_000],
      ['2h', 7_200_000],
      ['1d', 86_400_000],
    ];
    for (const [value, ms] of cases) assert.equal(parseDuration(value), ms, JSON.stringify(value));
  });

  test('gives undefined for anything that is not a duration', () => {
    for (const value of ['', '  ', 'soon', '-5s', '10 parsecs', -1, Number.NaN, Number.POSITIVE_INFINITY, null, undefined, {}]) {
      assert.equal(parseDuration(value), undefined, String(value));
    }
  });
});

describe('formatBytes', () => {
  test('picks a unit and keeps a decimal only for small values', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(8 * 1024 ** 2), '8.0 MiB');
    assert.equal(formatBytes(100 * 1024 ** 2), '100 MiB');
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
    assert.equal(formatBytes(2048 * 1024 ** 4), '2048 TiB');
  });
});
