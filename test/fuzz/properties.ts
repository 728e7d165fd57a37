/**
 * The fuzzer's properties, one per surface muxd reads, and the runner that
 * checks them with fast-check. After each run:
 * - muxd is alive and its control socket answers `ls`;
 * - a bystander client of each service (the fixture, and server-everything)
 *   and an HTTP session of the fixture make real calls, during the run and
 *   after it, and get their own answers;
 * - every request the fuzzer sent got exactly the answers it is owed (see
 *   oracle.ts), matched by the raw text of its id; nothing was answered twice,
 *   and nothing was answered under an id nobody sent.
 * Runs are bounded by counts; time only bounds a wait that has already gone
 * wrong (PATIENCE_MS), or, in `npm run fuzz`, how long to keep drawing inputs.
 */
import fc from 'fast-check';
import { anyScenario, describeScenario, scenarios } from './arbitraries.js';
import type { ChildScenario, HttpScenario, Scenario, SocketScenario, Surface } from './arbitraries.js';
import { Answers, Expected, allAnswered, expectHttpBody, expectSocketLine, judge } from './oracle.js';
import { idText, preview, scanJson, splitLines } from './rawJson.js';
import { Gone, PATIENCE_MS, Rig, until } from './rig.js';
import type { LineClient } from './rig.js';

const NEWLINE = Buffer.from('\n');
/** muxd's refusal when a client has maxInflight requests waiting: answers are still coming. */
const TOO_MANY_REQUESTS = -32033;
const INITIALIZE = (id: string, version = '2025-06-18'): string =>
  `{"jsonrpc":"2.0","id":${id},"method":"initialize","params":{"protocolVersion":"${version}","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}`;
const INITIALIZED = '{"jsonrpc":"2.0","method":"notifications/initialized"}';
/** Ids of the fuzzer's own framing requests: no arbitrary draws a '§'. */
const INIT_ID = '"§init"';

function toBytes(line: string | Buffer): Buffer {
  return typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
}

/** The lines, each ended by a newline, as one stream of bytes. */
function stream(lines: Array<string | Buffer>): Buffer {
  return Buffer.concat(lines.flatMap((line) => [toBytes(line), NEWLINE]));
}

/** Barrier calls the server must have answered after the traffic before an answer is given up on. */
const BARRIERS = 3;

/**
 * Sends `bytes` on `client` (in the pieces `cuts` makes) and collects what
 * comes back until every request owed an answer has one, or until the
 * fixture has answered `BARRIERS` echo calls sent one after another behind
 * the traffic: it answers in order, muxd queues and forwards in order, and
 * answers its own refusals at once, so by then anything still missing is
 * lost, not late. A barrier muxd refuses (too many in flight, not
 * initialized) is no barrier: another is sent once more answers have come.
 * A last barrier then gives a second answer to anything the time to show
 * up. Counts decide; PATIENCE_MS only bounds a wait that went wrong.
 */
async function exchange(rig: Rig, client: LineClient, bytes: Buffer, cuts: SocketScenario['cuts'], who: string): Promise<string[]> {
  const expected = new Expected();
  const answers = new Answers();
  /** Barrier id -> true when the fixture itself answered it, false when muxd refused it. */
  const barriers = new Map<string, boolean>();
  client.onLine = (line) => {
    answers.add(line);
    if (!line.includes('§barrier-')) return;
    try {
      const message = JSON.parse(line) as { id?: unknown; result?: { content?: Array<{ text?: unknown }> } };
      if (typeof message.id === 'string' && message.id.startsWith('§barrier-')) barriers.set(message.id, message.result?.content?.[0]?.text === `fuzzchild: ${message.id}`);
    } catch {
      // judge() reports it.
    }
  };
  for (const line of splitLines(bytes).lines) expectSocketLine(line, expected);
  expected.applyCancellations();
  const gone = (): string | undefined => rig.gone() ?? (client.closed ? 'muxd closed the connection' : undefined);
  const problems: string[] = [];
  let sent = 0;
  /** Sends one request behind the traffic; its answer, or undefined if none came. */
  const send = async (method: 'tools/call' | 'ping'): Promise<{ id: string; code: number } | undefined> => {
    const id = `§barrier-${++sent}`;
    expected.addMust(JSON.stringify(id), `barrier ${sent}`);
    const params = method === 'ping' ? undefined : { name: 'echo', arguments: { message: id } };
    await client.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    if (!(await until(`barrier ${sent} to be answered`, () => answers.count(JSON.stringify(id)) > 0, gone))) {
      problems.push(`${who}: barrier ${sent} got no answer within ${PATIENCE_MS} ms`);
      return undefined;
    }
    return { id, code: answers.byId.get(JSON.stringify(id))?.[0] ?? 0 };
  };
  /**
   * One barrier: an echo only the fixture answers; for a client muxd
   * refuses it to (not initialized), a ping, the one request such a client
   * has forwarded. 'busy' when muxd refused it for too many in flight.
   */
  const barrier = async (): Promise<'passed' | 'busy' | 'lost'> => {
    const echo = await send('tools/call');
    if (echo === undefined) return 'lost';
    if (barriers.get(echo.id) === true) return 'passed';
    if (echo.code === TOO_MANY_REQUESTS) return 'busy';
    const ping = await send('ping');
    if (ping === undefined) return 'lost';
    return ping.code === TOO_MANY_REQUESTS ? 'busy' : 'passed';
  };
  await client.writeInPieces(bytes, cuts);
  let passed = 0;
  while (!allAnswered(expected, answers) && passed < BARRIERS) {
    const received = answers.total;
    const result = await barrier();
    if (result === 'lost') break;
    if (result === 'passed') {
      passed++;
    } else if (!(await until('more answers after a refused barrier', () => answers.total > received + 1 || allAnswered(expected, answers), gone))) {
      problems.push(`${who}: no answer came for ${PATIENCE_MS} ms while requests were still owed one`);
      break;
    }
  }
  if (problems.length === 0) await barrier();
  return [...problems, ...judge(expected, answers, who)];
}

/** Random lines on a data socket, cut anywhere across writes. */
async function socketRun(rig: Rig, scenario: SocketScenario): Promise<string[]> {
  const client = await rig.connect('fuzz');
  try {
    const lines = scenario.initialize ? [INITIALIZE(INIT_ID), INITIALIZED, ...scenario.lines] : scenario.lines;
    return await exchange(rig, client, stream(lines), scenario.cuts, 'data socket client');
  } finally {
    client.destroy();
  }
}

/** The fixture prints what the fuzzer chose on its stdout, while a client calls it. */
async function childRun(rig: Rig, scenario: ChildScenario): Promise<string[]> {
  const before = rig.muxd.childPids('fuzz');
  const client = await rig.connect('fuzz');
  try {
    const calls = scenario.emits.map((emit) => {
      const cuts = emit.cuts.at.map((at) => at % (emit.payload.length + 1));
      if (emit.cuts.insideCharacters) for (let i = 0; i < emit.payload.length && cuts.length < 40; i++) if ((emit.payload[i] as number) >= 0xc0) cuts.push(i + 1);
      const meta = emit.progressToken === null ? '' : `,"_meta":{"progressToken":${emit.progressToken}}`;
      return `{"jsonrpc":"2.0","id":${emit.id},"method":"tools/call","params":{"name":"emit","arguments":{"payload":"${emit.payload.toString('base64')}","cuts":[${cuts.join(',')}]}${meta}}}`;
    });
    const results = new Map<string, string[]>();
    const problems = await exchange(rig, client, stream([INITIALIZE(INIT_ID), INITIALIZED, ...calls, ...scenario.lines]), { at: [], insideCharacters: false }, 'client of the misbehaving server');
    // Each call whose payload never answers it, under an id used once, must get the fixture's own answer.
    const ids = scenario.emits.map((emit) => emit.id);
    for (const line of client.lines) {
      try {
        const message = JSON.parse(line) as { method?: unknown; result?: { content?: Array<{ text?: string }> } };
        if (message.method !== undefined || Array.isArray(message)) continue;
        const id = idText(scanJson(line).members.get('id'));
        if (id !== undefined) results.set(id, [...(results.get(id) ?? []), message.result?.content?.[0]?.text ?? preview(line, 200)]);
      } catch {
        // judge() reported it.
      }
    }
    for (const emit of scenario.emits) {
      if (emit.payload.includes('$ID') || ids.filter((id) => id === emit.id).length > 1) continue;
      const texts = results.get(idText(emit.id) as string) ?? [];
      const expected = `fuzzchild: emitted ${emit.payload.length} bytes`;
      if (texts.length === 1 && texts[0] !== expected) problems.push(`emit ${preview(emit.id, 80)} was answered ${JSON.stringify(texts[0])}, expected ${JSON.stringify(expected)}`);
    }
    const after = rig.muxd.childPids('fuzz');
    if (before.join() !== after.join()) problems.push(`the fixture was restarted (pids ${before.join() || 'none'} -> ${after.join() || 'none'}): what it printed cost it its life`);
    return problems;
  } finally {
    client.destroy();
  }
}

/** Random bodies POSTed to the HTTP front, in one session, cut anywhere across writes. */
async function httpRun(rig: Rig, scenario: HttpScenario): Promise<string[]> {
  const problems: string[] = [];
  const init = await rig.http('POST', 'fuzz', {}, Buffer.from(INITIALIZE(INIT_ID, scenario.protocolVersion)));
  const session = init.headers['mcp-session-id'];
  if (init.status !== 200 || typeof session !== 'string') return [`HTTP initialize failed: ${init.status} ${preview(init.messages.join('\n'), 300)}`];
  const headers = { 'Mcp-Session-Id': session, 'MCP-Protocol-Version': scenario.protocolVersion };
  try {
    const initialized = await rig.http('POST', 'fuzz', headers, Buffer.from(INITIALIZED));
    if (initialized.status !== 202) problems.push(`notifications/initialized got ${initialized.status}`);
    const expected = new Expected();
    const answers = new Answers();
    const statuses = scenario.bodies.map((body) => expectHttpBody(toBytes(body.body), expected));
    expected.applyCancellations();
    const post = (k: number) => {
      const body = scenario.bodies[k] as HttpScenario['bodies'][number];
      return rig.http('POST', 'fuzz', headers, toBytes(body.body), body.cuts);
    };
    const replies = [];
    if (scenario.parallel) {
      replies.push(...(await Promise.all(scenario.bodies.map((_, k) => post(k)))));
    } else {
      for (let k = 0; k < scenario.bodies.length; k++) replies.push(await post(k));
    }
    replies.forEach((reply, k) => {
      for (const message of reply.messages) answers.add(message);
      const allowed = statuses[k]?.statuses;
      if (allowed !== 'any' && allowed !== undefined && !allowed.includes(reply.status)) {
        problems.push(`POST ${k + 1} got HTTP ${reply.status}, expected ${allowed.join(' or ')}: ${preview(reply.messages.join('\n'), 300)}`);
      }
    });
    problems.push(...judge(expected, answers, 'HTTP session'));
  } finally {
    await rig.http('DELETE', 'fuzz', headers).catch(() => undefined);
  }
  return problems;
}

const RUNS: { [S in Surface]: (rig: Rig, scenario: Extract<Scenario, { surface: S }>) => Promise<string[]> } = {
  socket: socketRun,
  http: httpRun,
  child: childRun,
};

/** Runs one scenario on `rig` and returns every broken promise. */
export async function runScenario(rig: Rig, scenario: Scenario): Promise<string[]> {
  await rig.ensure();
  rig.runs++;
  const during = rig.bystanderCalls('during');
  let problems: string[];
  try {
    problems = await (RUNS[scenario.surface] as (rig: Rig, scenario: Scenario) => Promise<string[]>)(rig, scenario);
  } catch (error) {
    // muxd died or stopped answering mid-run (a reply cut off, a wait given up): that is the finding.
    problems = [error instanceof Gone || rig.gone() ? (error as Error).message : String((error as Error).stack ?? error)];
  }
  problems.push(...(await during));
  const health = await rig.health();
  problems.push(...health);
  if (health.length === 0) problems.push(...(await rig.bystanderCalls('after')));
  return [...new Set(problems)];
}

/** The property for one surface, or for all of them ('all'). */
export function property(rig: Rig, surface: Surface | 'all'): fc.IAsyncProperty<[Scenario]> {
  const arbitrary = surface === 'all' ? anyScenario : scenarios[surface];
  return fc.asyncProperty(arbitrary, async (scenario) => {
    const problems = await runScenario(rig, scenario);
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
}

export interface FuzzOptions {
  surface: Surface | 'all';
  seed: number;
  /** Stop after this many runs... */
  numRuns?: number;
  /** ...or after this many milliseconds of drawing inputs. */
  timeLimitMs?: number;
  /** Replay this path (with its seed) instead of searching. */
  path?: string;
  /** How long shrinking a counterexample may take, in milliseconds. */
  shrinkLimitMs: number;
}

export interface FuzzResult {
  failed: boolean;
  seed: number;
  numRuns: number;
  /** The path of the counterexample (after shrinking), for FUZZ_PATH. */
  path: string | null;
  counterexample: string | null;
  error: string | null;
  numShrinks: number;
  /** The rendered bytes of the counterexample, for a file. */
  bytes: Scenario | null;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Checks the property: searches with no shrinking (bounded by count or by
 * time), then, on a failure, replays it and shrinks for at most
 * `shrinkLimitMs`. The failure was found before shrinking starts, so that
 * limit changes only how small the reported counterexample gets.
 */
export async function fuzz(rig: Rig, options: FuzzOptions): Promise<FuzzResult> {
  const prop = property(rig, options.surface);
  const plugins = options.timeLimitMs === undefined ? [] : [fc.interruptAfterTimeLimit(options.timeLimitMs)];
  const search = await fc.check(prop, {
    seed: options.seed,
    ...(options.path === undefined ? {} : { path: options.path }),
    numRuns: options.numRuns ?? (options.timeLimitMs === undefined ? 100 : Number.MAX_SAFE_INTEGER),
    endOnFailure: true,
    plugins,
  });
  const numRuns = search.numRuns;
  if (!search.failed || search.counterexample === null) {
    return { failed: search.failed, seed: search.seed, numRuns, path: null, counterexample: null, error: search.failed ? 'interrupted' : null, numShrinks: 0, bytes: null };
  }
  let best = search;
  const shrunk = await fc.check(prop, {
    seed: search.seed,
    path: search.counterexamplePath ?? undefined,
    endOnFailure: false,
    plugins: [fc.interruptAfterTimeLimit(options.shrinkLimitMs)],
  });
  if (shrunk.failed && shrunk.counterexample !== null) best = shrunk;
  const [scenario] = best.counterexample as [Scenario];
  return {
    failed: true,
    seed: best.seed,
    numRuns,
    path: best.counterexamplePath,
    counterexample: describeScenario(scenario),
    error: errorText(best.errorInstance),
    numShrinks: best === search ? 0 : best.numShrinks,
    bytes: scenario,
  };
}

/** The report of a failed check, with how to replay it. */
export function report(result: FuzzResult, surface: Surface | 'all'): string {
  return [
    `muxd broke a promise (seed ${result.seed}, path ${result.path}, after ${result.numRuns} run(s), ${result.numShrinks} shrink(s)):`,
    result.error ?? '',
    '',
    `counterexample: ${result.counterexample}`,
    '',
    `replay: FUZZ_SEED=${result.seed} FUZZ_PATH=${result.path} FUZZ_SURFACE=${surface} npm run fuzz`,
  ].join('\n');
}
