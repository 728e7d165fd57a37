#!/usr/bin/env node
// Runs the dashboard's browser test (test/browser/dashboard.test.ts) in
// headless Chromium from the OS, driven by playwright-core. Unlike the test
// file, which skips itself when there is no browser, this script fails then,
// so a CI job that means to run it notices a missing package.
//
//   node scripts/browser-e2e.mjs [--screenshot]   (npm run browser-e2e builds first)
//
// --screenshot writes the page, as the test leaves it, to docs/dashboard.png.
// MUXD_CHROMIUM names another Chromium binary (default /usr/bin/chromium).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const chromium = process.env.MUXD_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
  console.error(`browser-e2e: ${chromium} is missing: install Chromium from the OS (Debian/Ubuntu: apt-get install -y chromium), or set MUXD_CHROMIUM`);
  process.exit(1);
}
const env = { ...process.env, MUXD_CHROMIUM: chromium };
if (process.argv.includes('--screenshot')) env.MUXD_DASHBOARD_SCREENSHOT = join(root, 'docs/dashboard.png');
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/browser/dashboard.test.ts'], { cwd: root, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
