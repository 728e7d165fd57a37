/**
 * The muxd the fuzzer drives: a real daemon (started by the e2e harness)
 * serving the `fuzzchild` fixture as `fuzz` and the real server-everything as
 * `everything`, with its HTTP front on; a bystander client on each service;
 * and the raw socket and HTTP clients the fuzzer talks through. When a run
 * leaves muxd dead or unwell, the next run gets a new one, so that each input
 * (and each step of shrinking one) is judged on a healthy daemon.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { delay, everythingServer, fixtureServer, isAlive, startMuxd } from '../e2e/harness.js';
import type { Muxd } from '../e2e/harness.js';
import { Control } from '../faults/helpers.js';
import type { Cuts } from './arbitraries.js';
import { Answers } from './oracle.js';
import { preview } from './rawJson.js';

/** The last-resort bound on waiting for anything muxd owes: far past its own request timeout. */
export const PATIENCE_MS = 45_000;
/** muxd's request timeout for the fixture: an answer it makes up (-32001) means it lost a request. */
const REQUEST_TIMEOUT = '20s';

/** Thrown when waiting can't succeed any more (muxd died, the connection closed). */
export class Gone extends Error {}

/**
 * Waits for `ready()` to hold; false if it still does not after `timeoutMs`.
 * Throws `Gone` as soon as `gone()` gives a reason it never will. Time only
 * bounds a wait that has already gone wrong.
 */
export async function until(what: string, ready: () => boolean, gone: () => string | undefined, timeoutMs = PATIENCE_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (ready()) return true;
    const reason = gone();
    if (reason !== undefined) throw new Gone(`${reason} while waiting for ${what}`);
    if (Date.now() > deadline) return false;
    await delay(5);
  }
}

/** Byte offsets to cut `bytes` at: the scenario's positions, and inside multi-byte characters if asked. */
export function cutPoints(bytes: Buffer, cuts: Cuts): number[] {
  const points = new Set<number>();
  for (const at of cuts.at) if (bytes.length > 1) points.add(1 + (at % (bytes.length - 1)));
  if (cuts.insideCharacters) {
    let added = 0;
    for (let i = 0; i < bytes.length && added < 24; i++) {
      if ((bytes[i] as number) >= 0xc0) {
        points.add(i + 1);
        added++;
      }
    }
  }
  return [...points].filter((point) => point > 0 && point < bytes.length).sort((a, b) => a - b);
}

/** `bytes` in the pieces `cuts` makes. */
export function pieces(bytes: Buffer, cuts: Cuts): Buffer[] {
  const edges = [0, ...cutPoints(bytes, cuts), bytes.length];
  const out: Buffer[] = [];
  for (let k = 1; k < edges.length; k++) out.push(bytes.subarray(edges[k - 1], edges[k]));
  return out;
}

/** A raw connection to a data socket that keeps each line muxd sends as text (ids untouched). */
export class LineClient {
  readonly socket: Socket;
  readonly lines: string[] = [];
  closed = false;
  onLine: ((line: string) => void) | undefined;
  #pending: Buffer[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
        this.#pending.push(chunk.subarray(start, newline));
        const line = Buffer.concat(this.#pending).toString('utf8');
        this.#pending = [];
        start = newline + 1;
        this.lines.push(line);
        this.onLine?.(line);
      }
      if (start < chunk.length) this.#pending.push(Buffer.from(chunk.subarray(start)));
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static connect(path: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new LineClient(socket));
      });
    });
  }

  /** Writes bytes; resolves once they are handed to the kernel (or the socket is gone). */
  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) {
        resolve();
        return;
      }
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Writes `bytes` in the pieces `cuts` makes, pausing between them so muxd reads them apart. */
  async writeInPieces(bytes: Buffer, cuts: Cuts): Promise<void> {
    const parts = pieces(bytes, cuts);
    for (let k = 0; k < parts.length; k++) {
      await this.write(parts[k] as Buffer);
      if (k < parts.length - 1) await delay(1);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * A well-behaved client of one service that makes real calls (echo) and
 * checks each answer is its own: right text, once, under its id.
 */
export class Bystander implements Caller {
  readonly service: string;
  readonly #client: LineClient;
  readonly #expect: (message: string) => string;
  readonly #answers = new Answers();
  readonly #results = new Map<string, unknown>();
  #sent = 0;

  private constructor(service: string, client: LineClient, expect: (message: string) => string) {
    this.service = service;
    this.#client = client;
    this.#expect = expect;
    client.onLine = (line) => {
      this.#answers.add(line);
      try {
        const message = JSON.parse(line) as { id?: unknown; method?: unknown };
        if (typeof message.id === 'string' && message.method === undefined) this.#results.set(message.id, message);
      } catch {
        // Reported by Answers.
      }
    };
  }

  static async connect(muxd: Muxd, service: string, expect: (message: string) => string): Promise<Bystander> {
    const client = await LineClient.connect(muxd.socketPath(service));
    const bystander = new Bystander(service, client, expect);
    await client.write(`{"jsonrpc":"2.0","id":"by-init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bystander","version":"1"}}}\n`);
    const ready = await until(`the bystander of '${service}' to be initialized`, () => bystander.#results.has('by-init'), () => (client.closed ? 'the connection closed' : undefined), 20_000);
    if (!ready) throw new Error(`the bystander of '${service}' got no answer to initialize`);
    await client.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    return bystander;
  }

  /** One echo call; a problem if it is answered wrongly, or not at all. */
  async call(tag: string): Promise<string[]> {
    const n = ++this.#sent;
    const id = `by-${n}`;
    const message = `${tag} ${n} é \u{1f600} \u202e`;
    await this.#client.write(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } }) + '\n');
    try {
      if (!(await until(`the answer to bystander call ${id}`, () => this.#results.has(id), () => (this.#client.closed ? 'the bystander connection closed' : undefined)))) {
        return [`bystander of '${this.service}': no answer to call ${id} within ${PATIENCE_MS} ms`];
      }
    } catch (error) {
      return [`bystander of '${this.service}': ${(error as Error).message}`];
    }
    const answer = this.#results.get(id) as { result?: { content?: Array<{ text?: string }> }; error?: unknown };
    const text = answer.result?.content?.[0]?.text;
    const expected = this.#expect(message);
    return text === expected ? [] : [`bystander of '${this.service}': call ${id} got ${preview(JSON.stringify(answer), 300)}, expected the text ${JSON.stringify(expected)}`];
  }

  /** Answers it got more than once, or under ids it never used. */
  problems(): string[] {
    const problems: string[] = [];
    for (const [id, codes] of this.#answers.byId) {
      const n = /^"by-(\d+)"$/.exec(id);
      const known = id === '"by-init"' || (n !== null && Number(n[1]) <= this.#sent);
      if (!known) problems.push(`bystander of '${this.service}' got an answer under id ${preview(id, 80)}, which it never sent`);
      else if (codes.length > 1) problems.push(`bystander of '${this.service}' got ${codes.length} answers for id ${id}`);
    }
    if (this.#answers.nullCodes.length > 0) problems.push(`bystander of '${this.service}' got ${this.#answers.nullCodes.length} answer(s) with id null`);
    for (const message of this.#answers.malformed.slice(0, 3)) problems.push(`bystander of '${this.service}': muxd sent ${message}`);
    return problems;
  }

  destroy(): void {
    this.#client.destroy();
  }
}

/** What a bystander needs of the rig: one real call, and what it got that it should not have. */
interface Caller {
  call(tag: string): Promise<string[]>;
  problems(): string[];
  destroy(): void;
}

/** A well-behaved HTTP session of the fixture: each echo call, POSTed, must come back once, right, on its own stream. */
export class HttpBystander implements Caller {
  readonly #rig: Rig;
  readonly #headers: Record<string, string>;
  #sent = 0;

  private constructor(rig: Rig, session: string) {
    this.#rig = rig;
    this.#headers = { 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '2025-06-18' };
  }

  static async connect(rig: Rig): Promise<HttpBystander> {
    const init = await rig.http('POST', 'fuzz', {}, Buffer.from('{"jsonrpc":"2.0","id":"hby-init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"http-bystander","version":"1"}}}'));
    const session = init.headers['mcp-session-id'];
    if (init.status !== 200 || typeof session !== 'string') throw new Error(`the HTTP bystander could not initialize: ${init.status} ${init.messages.join('\n')}`);
    const bystander = new HttpBystander(rig, session);
    await rig.http('POST', 'fuzz', bystander.#headers, Buffer.from('{"jsonrpc":"2.0","method":"notifications/initialized"}'));
    return bystander;
  }

  async call(tag: string): Promise<string[]> {
    const n = ++this.#sent;
    const id = `hby-${n}`;
    const message = `${tag} ${n} é \u{1f600} \u202e`;
    let reply: HttpReply;
    try {
      reply = await this.#rig.http('POST', 'fuzz', this.#headers, Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } })));
    } catch (error) {
      return [`HTTP bystander of 'fuzz': call ${id} failed: ${(error as Error).message}`];
    }
    const answers = new Answers();
    for (const data of reply.messages) answers.add(data);
    const mine = reply.messages.map((data) => JSON.parse(data) as { id?: unknown; method?: unknown; result?: { content?: Array<{ text?: string }> } }).filter((m) => m.method === undefined);
    const problems: string[] = [];
    if (reply.status !== 200) problems.push(`HTTP bystander of 'fuzz': call ${id} got HTTP ${reply.status}`);
    if (mine.length !== 1 || mine[0]?.id !== id || mine[0]?.result?.content?.[0]?.text !== `fuzzchild: ${message}`) {
      problems.push(`HTTP bystander of 'fuzz': call ${id} got ${preview(JSON.stringify(mine), 300)}, expected one answer with the text ${JSON.stringify(`fuzzchild: ${message}`)}`);
    }
    for (const malformed of answers.malformed.slice(0, 2)) problems.push(`HTTP bystander of 'fuzz': muxd sent ${malformed}`);
    return problems;
  }

  problems(): string[] {
    return [];
  }

  destroy(): void {
    void this.#rig.http('DELETE', 'fuzz', this.#headers).catch(() => undefined);
  }
}

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** The JSON-RPC messages in the reply: a JSON body, or each SSE event's data. */
  messages: string[];
}

/** A running muxd and its clients. */
export class Rig {
  muxd!: Muxd;
  control!: Control;
  port = 0;
  token = '';
  bystanders: Caller[] = [];
  /** How many daemons this rig has started (a new one after each that died or went wrong). */
  generation = 0;
  /** Scenarios run so far, shrinking included. */
  runs = 0;
  #hooks: Array<() => unknown> = [];
  #broken: string | undefined;

  static async start(): Promise<Rig> {
    const rig = new Rig();
    await rig.#boot();
    return rig;
  }

  async #boot(): Promise<void> {
    this.generation++;
    this.#broken = undefined;
    const scope = { after: (fn: () => unknown) => this.#hooks.push(fn) };
    this.muxd = await startMuxd(
      scope,
      {
        fuzz: fixtureServer('fuzzchild', { lazy: false, requestTimeout: REQUEST_TIMEOUT, maxRequestBytes: '64MiB' }),
        everything: everythingServer({ lazy: false }),
      },
      { http: { listen: '127.0.0.1:0', maxBodyBytes: '64MiB' } },
    );
    this.control = await Control.open(scope, this.muxd);
    const base = this.muxd.daemonLog().find((entry) => entry.msg === 'HTTP front listening')?.['url'];
    this.port = Number(new URL(String(base)).port);
    this.token = readFileSync(join(this.muxd.home, 'http-token'), 'utf8').trim();
    this.bystanders = [
      await Bystander.connect(this.muxd, 'fuzz', (message) => `fuzzchild: ${message}`),
      await Bystander.connect(this.muxd, 'everything', (message) => `Echo: ${message}`),
      await HttpBystander.connect(this),
    ];
    this.#hooks.push(() => this.bystanders.forEach((bystander) => bystander.destroy()));
  }

  /** The next run gets a new daemon. */
  markBroken(reason: string): void {
    this.#broken ??= reason;
  }

  /** A healthy daemon for the next run: the same one, or a new one if it died or went wrong. */
  async ensure(): Promise<void> {
    if (this.#broken === undefined && this.muxd.running) return;
    await this.#release();
    await this.#boot();
  }

  async #release(): Promise<void> {
    const hooks = this.#hooks.reverse();
    this.#hooks = [];
    for (const hook of hooks) {
      try {
        await hook();
      } catch {
        // Best effort: the next daemon gets a fresh home anyway.
      }
    }
  }

  async close(): Promise<void> {
    await this.#release();
  }

  /** Why muxd can't be waited on any more, if it can't. */
  gone(): string | undefined {
    return this.muxd.running ? undefined : 'muxd exited';
  }

  /** How muxd died, from its exit status and the end of its stderr (the stack trace). */
  deathReport(): string {
    const lines = this.muxd.stderr.split('\n').filter((line) => line.trim() !== '');
    const interesting = lines.filter((line) => !line.startsWith('{') || /"level":(50|60)/.test(line) || /Error|error/.test(line));
    return `muxd exited (pid ${this.muxd.pid}); the end of its stderr:\n${interesting.slice(-12).map((line) => `    ${preview(line, 400)}`).join('\n')}`;
  }

  /** muxd is alive, its control socket answers, and both services are listed. */
  async health(): Promise<string[]> {
    if (!this.muxd.running || !isAlive(this.muxd.pid)) {
      this.markBroken('muxd died');
      return [this.deathReport()];
    }
    try {
      const list = await this.control.list();
      const names = list.services.map((service) => service.name).sort();
      if (names.join(',') !== 'everything,fuzz') return [`muxctl ls lists ${names.join(', ')}`];
    } catch (error) {
      this.markBroken('control socket failed');
      return [`the control socket did not answer ls: ${(error as Error).message}`];
    }
    return [];
  }

  /** One real call from each bystander. */
  async bystanderCalls(tag: string): Promise<string[]> {
    const results = await Promise.all(this.bystanders.map((bystander) => bystander.call(tag)));
    const problems = [...results.flat(), ...this.bystanders.flatMap((bystander) => bystander.problems())];
    if (problems.length > 0) this.markBroken('a bystander was hurt');
    return problems;
  }

  /** A new raw connection to a service's data socket; the caller destroys it. */
  connect(service: string): Promise<LineClient> {
    return LineClient.connect(this.muxd.socketPath(service));
  }

  /**
   * One HTTP request to `/mcp/<service>` with the token, its body written in
   * the pieces `cuts` makes; resolves with the whole reply (the SSE stream
   * read to its end).
   */
  http(method: string, service: string, headers: Record<string, string>, body?: Buffer, cuts: Cuts = { at: [], insideCharacters: false }): Promise<HttpReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`${method} /mcp/${service} got no complete reply within ${PATIENCE_MS} ms`));
      }, PATIENCE_MS);
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path: `/mcp/${service}`,
          agent: false,
          headers: {
            Host: `127.0.0.1:${this.port}`,
            Authorization: `Bearer ${this.token}`,
            Accept: 'application/json, text/event-stream',
            ...(body ? { 'Content-Type': 'application/json' } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString('utf8');
            const sse = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
            resolve({ status: res.statusCode ?? 0, headers: res.headers, messages: sse ? sseData(text) : text === '' ? [] : [text] });
          });
          res.on('error', (error) => {
            clearTimeout(timer);
            reject(error);
          });
        },
      );
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      void (async () => {
        if (body) {
          const parts = pieces(body, cuts);
          for (let k = 0; k < parts.length; k++) {
            if (req.destroyed) return;
            req.write(parts[k] as Buffer);
            if (k < parts.length - 1) await delay(1);
          }
        }
        req.end();
      })();
    });
  }
}

/** The data of each SSE event (priming events, with no data, left out). */
function sseData(text: string): string[] {
  const out: string[] = [];
  for (const block of text.split('\n\n')) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
    if (data.length > 0 && data.join('\n') !== '') out.push(data.join('\n'));
  }
  return out;
}
