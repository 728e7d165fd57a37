import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MuxErrorCodes, SOCKET_PATH_LIMIT } from '@muxd/protocol';
import { checkSocketPathLength, closeUnixServer, ensurePrivateDirectory, listenUnix, probeSocket, reclaimSocketPath } from '../src/unixSocket.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'muxd-sock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const modeOf = (path: string) => lstatSync(path).mode & 0o777;

function isMuxError(code: string, message?: RegExp) {
  return (error: unknown) => {
    assert.equal((error as { name?: string }).name, 'MuxError');
    assert.equal((error as { code?: string }).code, code);
    if (message) assert.match((error as Error).message, message);
    return true;
  };
}

/** A server listening on `path` in this process, closed after the test. */
async function liveServer(t: TestContext, path: string): Promise<Server> {
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return server;
}

/** Leaves a socket file behind: a child listens on `path` and is SIGKILLed, so nothing unlinks it. */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['-e', "require('node:net').createServer().listen(process.argv[1], () => process.stdout.write('ready\\n'))", path],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await once(child.stdout, 'data');
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.ok(lstatSync(path).isSocket(), 'the killed process left its socket file');
}

describe('ensurePrivateDirectory', () => {
  test('creates missing directories with mode 0700', (t) => {
    const dir = join(tempDir(t), 'state', 'run');
    ensurePrivateDirectory(dir);
    assert.ok(statSync(dir).isDirectory());
    assert.equal(modeOf(dir), 0o700);
  });

  test('tightens an existing 0755 directory to 0700', (t) => {
    const dir = join(tempDir(t), 'open');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    ensurePrivateDirectory(dir);
    assert.equal(modeOf(dir), 0o700);
  });

  test('refuses a directory owned by another user and leaves it as it was', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to chown');
    const dir = join(tempDir(t), 'theirs');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    chownSync(dir, 12345, 12345);
    assert.throws(() => ensurePrivateDirectory(dir), isMuxError(MuxErrorCodes.UnsafeDirectory, /belongs to uid 12345.*MUXD_HOME/));
    assert.equal(modeOf(dir), 0o755, 'not chmodded');
  });

  test('refuses a symlink in place of the directory', (t) => {
    const base = tempDir(t);
    mkdirSync(join(base, 'real'), { mode: 0o700 });
    symlinkSync(join(base, 'real'), join(base, 'link'));
    assert.throws(() => ensurePrivateDirectory(join(base, 'link')), isMuxError(MuxErrorCodes.UnsafeDirectory, /not a directory/));
  });
});

describe('checkSocketPathLength', () => {
  test(`accepts a path of ${SOCKET_PATH_LIMIT - 1} bytes and refuses one byte more with a clear error`, () => {
    const longest = '/' + 'a'.repeat(SOCKET_PATH_LIMIT - 2);
    assert.doesNotThrow(() => checkSocketPathLength(longest));
    const tooLong = longest + 'b';
    assert.throws(
      () => checkSocketPathLength(tooLong),
      isMuxError(MuxErrorCodes.SocketPathTooLong, new RegExp(`${SOCKET_PATH_LIMIT} bytes, over this OS's limit of ${SOCKET_PATH_LIMIT - 1}: ${tooLong}\\. .*MUXD_HOME`)),
    );
  });

  test('counts bytes, not characters', () => {
    const path = '/' + '\u00e9'.repeat(SOCKET_PATH_LIMIT / 2);
    assert.ok(path.length < SOCKET_PATH_LIMIT);
    assert.throws(() => checkSocketPathLength(path), isMuxError(MuxErrorCodes.SocketPathTooLong));
  });
});

describe('reclaimSocketPath', () => {
  test('removes a stale socket left by a SIGKILLed process', async (t) => {
    const path = join(tempDir(t), 's.sock');
    await leaveStaleSocket(path);
    assert.equal(await probeSocket(path), false);
    await reclaimSocketPath(path);
    assert.equal(existsSync(path), false);
  });

  test('refuses a socket something is serving, and leaves it working', async (t) => {
    const path = join(tempDir(t), 's.sock');
    await liveServer(t, path);
    await assert.rejects(reclaimSocketPath(path), isMuxError(MuxErrorCodes.SocketInUse, /another process is serving/));
    assert.ok(lstatSync(path).isSocket());
    const client = connect(path);
    await once(client, 'connect');
    client.destroy();
  });

  test('refuses a regular file and leaves it alone', async (t) => {
    const path = join(tempDir(t), 's.sock');
    writeFileSync(path, 'precious');
    await assert.rejects(reclaimSocketPath(path), isMuxError(MuxErrorCodes.SocketInUse, /not a socket/));
    assert.equal(readFileSync(path, 'utf8'), 'precious');
  });

  test('does nothing when the path is free', async (t) => {
    await reclaimSocketPath(join(tempDir(t), 'free.sock'));
  });

  test('refuses a path that is too long before touching anything', async () => {
    await assert.rejects(reclaimSocketPath('/tmp/' + 'x'.repeat(SOCKET_PATH_LIMIT)), isMuxError(MuxErrorCodes.SocketPathTooLong));
  });
});

describe('listenUnix', () => {
  test('listens with mode 0600 and hands over connections', async (t) => {
    const path = join(tempDir(t), 's.sock');
    const accepted: string[] = [];
    const server = await listenUnix(path, (socket) => {
      accepted.push('connection');
      socket.end('hello\n');
    });
    t.after(() => closeUnixServer(server, path, 100));
    assert.equal(modeOf(path), 0o600);
    const client = connect(path);
    client.setEncoding('utf8');
    const [greeting] = (await once(client, 'data')) as [string];
    assert.equal(greeting, 'hello\n');
    assert.deepEqual(accepted, ['connection']);
    client.destroy();
  });

  test('takes over a stale socket but not a live one', async (t) => {
    const dir = tempDir(t);
    const stale = join(dir, 'stale.sock');
    await leaveStaleSocket(stale);
    const server = await listenUnix(stale, (socket) => socket.destroy());
    t.after(() => closeUnixServer(server, stale, 100));
    assert.equal(await probeSocket(stale), true);

    await assert.rejects(listenUnix(stale, () => undefined), isMuxError(MuxErrorCodes.SocketInUse));
    assert.equal(await probeSocket(stale), true, 'the running server keeps its socket');
  });

  test('closeUnixServer removes the socket file', async (t) => {
    const path = join(tempDir(t), 's.sock');
    const server = await listenUnix(path, (socket) => socket.destroy());
    await closeUnixServer(server, path, 100);
    assert.equal(existsSync(path), false);
    assert.equal(server.listening, false);
  });
});
