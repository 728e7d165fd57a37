import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'plist';
import { captureSettings, renderLaunchdPlist, renderSystemdUnit, servicePlan } from '../src/service/serviceFiles.js';

const settings = captureSettings({ PATH: '/usr/bin:/bin:/usr/bin', HOME: '/home/ada', MUXD_HOME: '/home/ada/.muxd', USER: 'ada' }, '/home/ada/.config/muxd/config.yaml');

describe('systemd user unit', () => {
  test('systemd-analyze verify accepts the generated unit', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'muxd-unit-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'muxd.service');
    writeFileSync(file, renderSystemdUnit(settings));
    // System mode: a user manager needs a login session this sandbox lacks; the unit syntax is the same.
    const result = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    assert.equal(result.error, undefined, 'systemd-analyze must be installed (Debian package systemd)');
    assert.equal(result.status, 0, result.stderr);
  });

  test('the unit runs muxd with absolute paths, restarts on failure within limits, and kills children by group', () => {
    const unit = renderSystemdUnit(settings);
    assert.match(unit, new RegExp(`^ExecStart=${process.execPath} \\S+/packages/daemon/dist/main\\.js$`, 'm'));
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^StartLimitBurst=\d+$/m);
    assert.match(unit, /^KillMode=mixed$/m);
    // PATH captured at install, with node's directory first and no repeats.
    const path = /^Environment="PATH=([^"]+)"$/m.exec(unit)?.[1]?.split(':');
    assert.ok(path, unit);
    assert.equal(path[0], join(process.execPath, '..'));
    assert.equal(new Set(path).size, path.length);
    assert.match(unit, /^Environment="MUXD_HOME=\/home\/ada\/\.muxd"$/m);
    assert.match(unit, /^Environment="MUXD_CONFIG=\/home\/ada\/\.config\/muxd\/config\.yaml"$/m);
    assert.doesNotMatch(unit, /@[A-Z]+@/, 'every placeholder filled');
  });

  test('the plan writes under XDG_CONFIG_HOME and enables it with systemctl --user', () => {
    const plan = servicePlan('linux', settings, { XDG_CONFIG_HOME: '/cfg', USER: 'ada' });
    assert.equal(plan.file, '/cfg/systemd/user/muxd.service');
    assert.deepEqual(plan.install, [
      ['systemctl', '--user', 'daemon-reload'],
      ['systemctl', '--user', 'enable', '--now', 'muxd.service'],
    ]);
    assert.match(plan.note ?? '', /loginctl enable-linger ada/);
  });
});

describe('launchd agent', () => {
  test('the plist parses and runs muxd at load, kept alive after an unsuccessful exit, logging under ~/Library/Logs/muxd', () => {
    const agent = parse(renderLaunchdPlist(settings)) as Record<string, unknown>;
    assert.equal(agent['Label'], 'dev.muxd');
    assert.deepEqual((agent['ProgramArguments'] as string[])[0], process.execPath);
    assert.match((agent['ProgramArguments'] as string[])[1] ?? '', /packages\/daemon\/dist\/main\.js$/);
    assert.equal(agent['RunAtLoad'], true);
    assert.deepEqual(agent['KeepAlive'], { SuccessfulExit: false });
    const env = agent['EnvironmentVariables'] as Record<string, string>;
    assert.equal(env['MUXD_HOME'], '/home/ada/.muxd');
    assert.ok(env['PATH']?.split(':').includes(join(process.execPath, '..')), 'PATH holds the directory of node and npx');
    assert.equal(agent['StandardErrorPath'], '/home/ada/Library/Logs/muxd/muxd.err.log');
  });

  test('the plan bootstraps into the gui domain of the user', () => {
    const plan = servicePlan('darwin', settings);
    assert.equal(plan.file, '/home/ada/Library/LaunchAgents/dev.muxd.plist');
    assert.deepEqual(plan.install, [['launchctl', 'bootstrap', `gui/${settings.uid}`, plan.file]]);
  });
});

describe('muxctl service install --dry-run', () => {
  test('prints the unit and the commands, and writes nothing', (t) => {
    const home = mkdtempSync(join(tmpdir(), 'muxd-svc-'));
    t.after(() => rmSync(home, { recursive: true, force: true }));
    const muxctl = join(import.meta.dirname, '..', 'bin', 'muxctl.js');
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), MUXD_HOME: join(home, 'muxd') };
    const result = spawnSync(process.execPath, [muxctl, 'service', 'install', '--dry-run', '--json'], { env, encoding: 'utf8', cwd: home });
    assert.equal(result.status, 0, result.stderr);
    const plan = JSON.parse(result.stdout) as { file: string; content: string; commands: string[][]; dryRun: boolean };
    assert.equal(plan.dryRun, true);
    assert.equal(plan.file, join(home, '.config', 'systemd', 'user', 'muxd.service'));
    assert.match(plan.content, /^ExecStart=/m);
    assert.match(result.stderr, /\$ systemctl --user enable --now muxd\.service/);
    assert.equal(spawnSync('test', ['-e', plan.file]).status, 1, 'nothing written');
  });
});
