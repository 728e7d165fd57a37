// Rewire and undo over a fake home holding every host's fixture file:
// dry runs write nothing, undo gives back the original bytes, backups are
// never overwritten, and undo restores only its entries when a host changed
// the file since.
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { updateFileAtomic } from '../src/hosts/atomicFile.js';
import { BackupStore } from '../src/hosts/backupStore.js';
import { findHostFiles, hostById } from '../src/hosts/hostRegistry.js';
import type { HostDefinition } from '../src/hosts/hostRegistry.js';
import { planImport } from '../src/hosts/importPlan.js';
import { parseHostDocument } from '../src/hosts/hostFiles.js';
import { planFileRewire, rewireFiles, undoRewire } from '../src/hosts/rewire.js';
import type { RewireOptions } from '../src/hosts/rewire.js';
import type { ServerSpec } from '../src/hosts/serverEntry.js';
import { createFakeHome } from './fakeHome.js';
import type { FakeHome } from './fakeHome.js';

const PROXY = '/opt/muxd/bin/mux-proxy';

/** muxd's services as import would write them for the fake home. */
function importedServices(home: FakeHome): Map<string, ServerSpec> {
  const files = findHostFiles(home.env);
  const plan = planImport(
    files.map((file) => ({ file, entries: parseHostDocument(file, readFileSync(file.path, 'utf8')).entries ?? [] })),
    new Map(),
    home.env.projectDir,
    {},
  );
  return new Map(plan.services.map((service) => [service.name, service.spec]));
}

function options(home: FakeHome, extra: Partial<RewireOptions> = {}): RewireOptions {
  return {
    files: findHostFiles(home.env),
    services: importedServices(home),
    proxyCommand: PROXY,
    projectDir: home.env.projectDir,
    store: new BackupStore(home.stateDir),
    dryRun: false,
    includeTracked: false,
    ...extra,
  };
}

function host(id: string): HostDefinition {
  const found = hostById(id);
  assert.ok(found);
  return found;
}

describe('rewire', () => {
  test('--dry-run writes nothing and shows a diff with env values masked', async (t) => {
    const home = createFakeHome(t);
    const before = home.snapshot();
    const outcomes = await rewireFiles(options(home, { dryRun: true }));
    assert.deepEqual(home.snapshot(), before);
    assert.equal(existsSync(home.stateDir), false, 'no backup, no journal');
    assert.equal(outcomes.filter((outcome) => outcome.changed).length, 9);
    const desktop = outcomes.find((outcome) => outcome.host === 'claude-desktop');
    assert.match(desktop?.diff ?? '', /^-      "command": "npx",$/m);
    assert.match(desktop?.diff ?? '', new RegExp(`^\\+      "command": "${PROXY}",$`, 'm'));
    const all = outcomes.map((outcome) => outcome.diff ?? '').join('\n');
    assert.ok(!all.includes('/home/me/.memory.jsonl'), 'env values are masked');
    assert.ok(all.includes('"MEMORY_FILE_PATH": "***"'));
  });

  test('--dry-run masks secret-looking arguments and URL passwords in the lines it removes', async (t) => {
    const home = createFakeHome(t, []);
    const path = join(home.env.home, '.cursor', 'mcp.json');
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '{"mcpServers": {"db": {"command": "pg-mcp", "args": ["--api-key=sk-live-123456", "postgresql://me:hunter22@db/app"]}}}\n');
    const files = findHostFiles(home.env, [host('cursor')]);
    const services = new Map<string, ServerSpec>([['db', { command: 'pg-mcp', args: ['--api-key=sk-live-123456', 'postgresql://me:hunter22@db/app'], env: {} }]]);
    const [outcome] = await rewireFiles(options(home, { files, services, dryRun: true }));
    assert.ok(outcome?.diff?.includes('"--api-key=***", "postgresql://me:***@db/app"'), outcome?.diff);
    assert.ok(planFileRewire(files[0] as never, readFileSync(path, 'utf8'), options(home, { files, services })).after?.includes('"args": ["db"]'));
  });

  test('every host: rewired entries point at mux-proxy, the rest is as it was, and undo gives back the original bytes', async (t) => {
    const home = createFakeHome(t);
    const original = home.snapshot();
    const outcomes = await rewireFiles(options(home));
    assert.deepEqual(outcomes.filter((outcome) => outcome.error).map((outcome) => outcome.error), []);
    const entries = Object.fromEntries(outcomes.map((outcome) => [`${outcome.host}:${outcome.scope}`, outcome.entries.map((entry) => `${entry.name}=${entry.action}${entry.service ? `:${entry.service}` : ''}`)]));
    assert.deepEqual(entries, {
      'claude-code:user': ['memory=rewire:memory', 'github=rewire:github', 'linear=skip'],
      'claude-code:local': ['everything=rewire:everything'],
      'claude-desktop:user': ['memory=rewire:memory', 'filesystem=rewire:filesystem', 'sqlite=rewire:sqlite'],
      'cursor:user': ['memory=rewire:memory-cursor', 'context7=skip', 'puppeteer=skip', 'local-tool=rewire:local-tool'],
      'vscode:user': ['github=skip:github-vscode', 'memory=rewire:memory', 'fetch=rewire:fetch', 'remote-docs=skip'],
      'windsurf:user': ['sequential-thinking=rewire:sequential-thinking', 'old-server=skip', 'figma=skip'],
      'codex:user': ['memory=rewire:memory', 'notion=skip', 'time=skip', 'sqlite=rewire:sqlite-codex'],
      'gemini:user': ['memory=rewire:memory-gemini', 'everything=rewire:everything-gemini', 'deepwiki=skip'],
      'zed:user': ['postgres-context-server=skip', 'memory=rewire:memory', 'legacy-fetch=rewire:fetch', 'remote=skip'],
    });
    const vscode = outcomes.find((outcome) => outcome.host === 'vscode');
    assert.match(vscode?.entries[0]?.reason ?? '', /services.github-vscode still holds \$\{input:github_token\}/);
    // Every changed file has its own backup holding the original bytes.
    for (const outcome of outcomes.filter((item) => item.changed)) {
      assert.ok(outcome.backup && existsSync(outcome.backup));
    }
    const desktopPath = home.files['claude_desktop_config.json'] as string;
    const desktopBackup = outcomes.find((outcome) => outcome.host === 'claude-desktop')?.backup as string;
    assert.equal(readFileSync(desktopBackup, 'latin1'), original.get(desktopPath.slice(home.root.length + 1)));
    // Rewiring again changes nothing.
    const again = await rewireFiles(options(home));
    assert.equal(again.filter((outcome) => outcome.changed).length, 0);
    assert.ok(again.every((outcome) => outcome.entries.every((entry) => entry.action !== 'rewire')));

    const undone = await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    assert.equal(undone.filter((outcome) => outcome.error).length, 0);
    assert.deepEqual(home.snapshot(), original, 'undo restores every file byte for byte');
    assert.deepEqual(await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false }), [], 'nothing left to undo');
  });

  test('undo restores only its entries when the host changed the file since, and leaves entries the user repointed', async (t) => {
    const home = createFakeHome(t, ['claude.json', 'windsurf-mcp_config.json']);
    const claude = home.files['claude.json'] as string;
    const original = readFileSync(claude, 'utf8');
    await rewireFiles(options(home));
    // Claude Code rewrites the whole file: new keys, counters, and its own 2-space JSON.
    const data = JSON.parse(readFileSync(claude, 'utf8')) as Record<string, unknown>;
    data['numStartups'] = 43;
    data['lastSessionId'] = 'abc';
    (data['mcpServers'] as Record<string, unknown>)['added-later'] = { type: 'stdio', command: 'later' };
    writeFileSync(claude, JSON.stringify(data, null, 2));
    // And the user pointed one Windsurf entry somewhere else by hand.
    const windsurf = home.files['windsurf-mcp_config.json'] as string;
    writeFileSync(windsurf, readFileSync(windsurf, 'utf8').replace(PROXY, '/usr/local/bin/other'));
    const windsurfBefore = readFileSync(windsurf, 'utf8');

    const outcomes = await undoRewire({ store: new BackupStore(home.stateDir), dryRun: false });
    const restored = JSON.parse(readFileSync(claude, 'utf8')) as Record<string, Record<string, unknown>>;
    const expected = JSON.parse(original) as Record<string, Record<string, unknown>>;
    assert.equal(restored['numStartups'], 43, 'changes elsewhere are kept');
    assert.equal(restored['lastSessionId'], 'abc');
    assert.deepEqual((restored['mcpServers'] as Record<string, unknown>)['added-later'], { type: 'stdio', command: 'later' });
    assert.deepEqual((restored['mcpServers'] as Record<string, unknown>)['memory'], (expected['mcpServers'] as Record<string, unknown>)['memory']);
    assert.deepEqual((restored['mcpServers'] as Record<string, unknown>)['github'], (expected['mcpServers'] as Record<string, unknown>)['github']);
    assert.deepEqual(restored['projects'], JSON.parse(JSON.stringify(expected['projects'])));
    assert.equal(readFileSync(windsurf, 'utf8'), windsurfBefore, 'an entry no longer pointing at mux-proxy is left alone');
    const skipped = outcomes.find((outcome) => outcome.host === 'windsurf')?.entries[0];
    assert.equal(skipped?.action, 'skip');
    assert.match(skipped?.reason ?? '', /no longer points at mux-proxy/);
  });

  test('undo by host touches only that host', async (t) => {
    const home = createFakeHome(t, ['cursor-mcp.json', 'gemini-settings.json']);
    const cursorOriginal = readFileSync(home.files['cursor-mcp.json'] as string, 'utf8');
    await rewireFiles(options(home));
    const geminiRewired = readFileSync(home.files['gemini-settings.json'] as string, 'utf8');
    await undoRewire({ store: new BackupStore(home.stateDir), hosts: [host('cursor')], dryRun: false });
    assert.equal(readFileSync(home.files['cursor-mcp.json'] as string, 'utf8'), cursorOriginal);
    assert.equal(readFileSync(home.files['gemini-settings.json'] as string, 'utf8'), geminiRewired);
  });

  test('backups are timestamped per file and never overwritten', async (t) => {
    const home = createFakeHome(t, []);
    const store = new BackupStore(home.stateDir);
    const now = new Date('2026-11-22T10:00:00.000Z');
    const first = await store.backup('/home/me/.cursor/mcp.json', 'one', now);
    const second = await store.backup('/home/me/.cursor/mcp.json', 'two', now);
    const other = await store.backup('/work/app/.cursor/mcp.json', 'three', now);
    assert.notEqual(first, second);
    assert.equal(readFileSync(first, 'utf8'), 'one');
    assert.equal(readFileSync(second, 'utf8'), 'two');
    assert.match(first, /mcp\.json-[0-9a-f]{12}\/2026-11-22T10-00-00-000Z\.bak$/);
    assert.match(second, /2026-11-22T10-00-00-000Z-1\.bak$/);
    assert.notEqual(store.fileDir('/home/me/.cursor/mcp.json'), store.fileDir('/work/app/.cursor/mcp.json'), 'keyed by absolute path');
    assert.equal(readFileSync(other, 'utf8'), 'three');
  });

  test('a file tracked by git is left alone unless asked', async (t) => {
    const home = createFakeHome(t, []);
    const project = home.env.projectDir;
    const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: project });
    if (git('init', '-q').status !== 0) {
      t.skip('git is not installed');
      return;
    }
    mkdirSync(join(project, '.cursor'));
    writeFileSync(join(project, '.cursor', 'mcp.json'), '{"mcpServers": {"tool": {"command": "/opt/tool"}}}\n');
    git('add', '.cursor/mcp.json');
    const files = findHostFiles(home.env, [host('cursor')]);
    const services = new Map<string, ServerSpec>([['tool', { command: '/opt/tool', args: [], env: {}, cwd: project }]]);
    const [skipped] = await rewireFiles(options(home, { files, services }));
    assert.match(skipped?.skipped ?? '', /tracked by git/);
    assert.equal(readFileSync(join(project, '.cursor', 'mcp.json'), 'utf8'), '{"mcpServers": {"tool": {"command": "/opt/tool"}}}\n');
    const [done] = await rewireFiles(options(home, { files, services, includeTracked: true }));
    assert.equal(done?.changed, true);
  });
});

describe('updateFileAtomic', () => {
  function tempFile(t: TestContext, text: string): { path: string; dir: string } {
    const home = createFakeHome(t, []);
    const path = join(home.root, 'file.json');
    writeFileSync(path, text);
    return { path, dir: home.root };
  }

  test('computes again when the file changed between the read and the rename', async (t) => {
    const { path } = tempFile(t, 'one');
    let calls = 0;
    const update = await updateFileAtomic(path, (text) => {
      calls++;
      // A host writes the file while muxctl is busy, once.
      if (calls === 1) writeFileSync(path, 'two');
      return `${text}!`;
    });
    assert.equal(calls, 2);
    assert.equal(readFileSync(path, 'utf8'), 'two!');
    assert.equal(update?.before, 'two');
  });

  test('gives up on a file that keeps changing, leaving it and no temp file', async (t) => {
    const { path, dir } = tempFile(t, '0');
    let n = 0;
    await assert.rejects(
      updateFileAtomic(path, (text) => {
        writeFileSync(path, String(++n));
        return text + 'x';
      }),
      /kept changing/,
    );
    assert.equal(readFileSync(path, 'utf8'), String(n));
    assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tmp')), []);
  });

  test('writes through a symlink (the link stays) and keeps the mode', async (t) => {
    const { path, dir } = tempFile(t, 'a');
    chmodSync(path, 0o640);
    const link = join(dir, 'link.json');
    symlinkSync(path, link);
    const update = await updateFileAtomic(link, (text) => text + 'b');
    assert.equal(update?.file, path);
    assert.equal(readFileSync(path, 'utf8'), 'ab');
    assert.equal(readFileSync(link, 'utf8'), 'ab');
    assert.equal(spawnSync('stat', ['-c', '%a', path]).stdout.toString().trim(), '640');
  });

  test('refuses a read-only file', async (t) => {
    const { path } = tempFile(t, 'a');
    chmodSync(path, 0o444);
    await assert.rejects(updateFileAtomic(path, (text) => text + 'b'), /read-only/);
  });
});
