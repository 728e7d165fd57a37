/**
 * Turns the workloads' figures into the table (figure and ratio to direct
 * per target) and checks muxd against the issue's target lines.
 */

/**
 * One row of the table.
 * @typedef {object} Row
 * @property {string} workload key in results.workloads
 * @property {string} label
 * @property {string} field key in a target's figures
 * @property {string} unit
 * @property {'lower' | 'higher' | 'none'} better
 * @property {number} [digits]
 * @property {boolean} [blankIfMissing] a figure only some targets have (empty, not n/a, for the rest)
 */

/** @type {Row[]} */
export const ROWS = [
  { workload: 'latency', label: 'latency echo p50', field: 'p50Ms', unit: 'ms', better: 'lower' },
  { workload: 'latency', label: 'latency echo p90', field: 'p90Ms', unit: 'ms', better: 'lower' },
  { workload: 'latency', label: 'latency echo p99', field: 'p99Ms', unit: 'ms', better: 'lower' },
  { workload: 'latencyPinned', label: 'latency echo p50, 1 CPU', field: 'p50Ms', unit: 'ms', better: 'lower' },
  { workload: 'latencyPinned', label: 'latency echo p99, 1 CPU', field: 'p99Ms', unit: 'ms', better: 'lower' },
  { workload: 'latencyMemory', label: 'latency read_graph p50', field: 'p50Ms', unit: 'ms', better: 'lower' },
  { workload: 'latencyMemory', label: 'latency read_graph p99', field: 'p99Ms', unit: 'ms', better: 'lower' },
  { workload: 'fanin', label: 'fan-in {fanin}: throughput', field: 'callsPerS', unit: 'calls/s', better: 'higher', digits: 0 },
  { workload: 'fanin', label: 'fan-in p99', field: 'p99Ms', unit: 'ms', better: 'lower' },
  { workload: 'fanin', label: 'fan-in wrong-client answers', field: 'wrong', unit: '', better: 'none', digits: 0 },
  { workload: 'payloadResult', label: 'large results (read_graph)', field: 'mbPerS', unit: 'MB/s', better: 'higher', digits: 1 },
  { workload: 'payloadEcho', label: 'large echo (both ways)', field: 'mbPerS', unit: 'MB/s', better: 'higher', digits: 1 },
  { workload: 'memoryEverything', label: 'memory, everything: PSS', field: 'pssMiB', unit: 'MiB', better: 'lower', digits: 0 },
  { workload: 'memoryEverything', label: 'memory, everything: PSS at 1 s', field: 'earlyPssMiB', unit: 'MiB', better: 'lower', digits: 0 },
  { workload: 'memoryEverything', label: 'memory, everything: processes', field: 'processes', unit: '', better: 'lower', digits: 0 },
  { workload: 'memoryEverything', label: 'memory, everything: +1 session', field: 'marginalMiB', unit: 'MiB', better: 'lower', digits: 1 },
  { workload: 'memoryMemory', label: 'memory, memory: PSS', field: 'pssMiB', unit: 'MiB', better: 'lower', digits: 0 },
  { workload: 'memoryMemory', label: 'memory, memory: PSS at 1 s', field: 'earlyPssMiB', unit: 'MiB', better: 'lower', digits: 0 },
  { workload: 'memoryMemory', label: 'memory, memory: processes', field: 'processes', unit: '', better: 'lower', digits: 0 },
  { workload: 'memoryMemory', label: 'memory, memory: +1 session', field: 'marginalMiB', unit: 'MiB', better: 'lower', digits: 1 },
  { workload: 'seed', label: 'seed {seed}: PSS', field: 'pssMiB', unit: 'MiB', better: 'lower', digits: 0 },
  { workload: 'seed', label: 'seed {seed}: PSS at 1 s', field: 'earlyPssMiB', unit: 'MiB', better: 'lower', digits: 0 },
  { workload: 'seed', label: 'seed {seed}: processes', field: 'processes', unit: '', better: 'lower', digits: 0 },
  { workload: 'sessionStart', label: 'new session, server running', field: 'warmMs', unit: 'ms', better: 'lower', digits: 0 },
  { workload: 'sessionStart', label: '  of it, a bare Node start (node -e 0)', field: 'nodeStartMs', unit: 'ms', better: 'none', digits: 0, blankIfMissing: true },
  { workload: 'sessionStart', label: 'new session, cold', field: 'coldMs', unit: 'ms', better: 'lower', digits: 0 },
  { workload: 'crash', label: 'crash: clients recovered', field: 'recovered', unit: '', better: 'higher', digits: 0 },
  { workload: 'crash', label: 'crash: time to next success (max)', field: 'maxMs', unit: 'ms', better: 'lower', digits: 0 },
  { workload: 'crash', label: "  of it, the server's own start", field: 'serverStartMs', unit: 'ms', better: 'none', digits: 0, blankIfMissing: true },
];

/**
 * @typedef {Record<string, Record<string, Record<string, unknown>>>} Workloads workload -> target -> figures
 * @typedef {{ id: string, line: string, workload: string, value: string, pass: boolean | undefined, note?: string }} Check
 */

/**
 * @param {Workloads} workloads
 * @param {string} workload
 * @param {string} target
 * @param {string} field
 * @returns {number | undefined}
 */
function figure(workloads, workload, target, field) {
  const value = workloads[workload]?.[target]?.[field];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** @param {number} value @param {number} digits */
function fmt(value, digits) {
  if (Math.abs(value) >= 100 && digits > 1) digits = 1;
  return value.toFixed(digits);
}

/** @param {number | undefined} a @param {number | undefined} b */
function ratio(a, b) {
  return a !== undefined && b !== undefined && b !== 0 ? a / b : undefined;
}

/** @param {number | undefined} r */
const x = (r) => (r === undefined ? '-' : `${r.toFixed(2)}x`);
const round2 = (/** @type {number} */ v) => Math.round(v * 100) / 100;

/**
 * Checks muxd against each target line of the issue; a line whose figures are missing has pass undefined.
 * @param {Workloads} w
 * @param {{ name: string, processPerSession: boolean, peer: boolean }[]} targets
 * @returns {Check[]}
 */
export function checks(w, targets) {
  /** @type {Check[]} */
  const out = [];
  /**
   * @param {string} id
   * @param {string} line
   * @param {string} workload
   * @param {number | undefined} value
   * @param {number} limit
   * @param {(v: number, l: number) => boolean} ok
   * @param {string} shown
   */
  const add = (id, line, workload, value, limit, ok, shown) =>
    out.push({ id, line, workload, value: value === undefined ? 'n/a' : shown, pass: value === undefined ? undefined : ok(value, limit) });
  const le = (/** @type {number} */ v, /** @type {number} */ l) => v <= l;

  for (const [workload, suffix] of /** @type {const} */ ([['latency', ''], ['latencyPinned', ', 1 CPU']])) {
    const p50 = ratio(figure(w, workload, 'muxd', 'p50Ms'), figure(w, workload, 'direct', 'p50Ms'));
    const p99 = ratio(figure(w, workload, 'muxd', 'p99Ms'), figure(w, workload, 'direct', 'p99Ms'));
    const floor = ratio(figure(w, workload, 'relays', 'p50Ms'), figure(w, workload, 'direct', 'p50Ms'));
    add(`${workload}.p50`, `latency p50 <= 1.5x direct${suffix}`, workload, p50, 1.5, le, `${x(p50)}${floor === undefined ? '' : ` (two byte relays: ${x(floor)})`}`);
    add(`${workload}.p99`, `latency p99 <= 2x direct${suffix}`, workload, p99, 2, le, x(p99));
    // mux-proxy: muxd's own cost above the floor of two processes on the path, at most what it was before HTTP work (0.17 ms).
    const relaysMs = figure(w, workload, 'relays', 'p50Ms');
    const muxdMs = figure(w, workload, 'muxd', 'p50Ms');
    const above = muxdMs === undefined || relaysMs === undefined ? undefined : round2(muxdMs - relaysMs);
    add(`${workload}.aboveRelays`, `latency p50 over mux-proxy: <= 0.17 ms above two byte relays${suffix}`, workload, above, 0.17, le, `${above} ms`);
    const httpP50 = ratio(figure(w, workload, 'muxd-http', 'p50Ms'), figure(w, workload, 'direct', 'p50Ms'));
    const httpP99 = ratio(figure(w, workload, 'muxd-http', 'p99Ms'), figure(w, workload, 'direct', 'p99Ms'));
    const httpFloor = ratio(figure(w, workload, 'http-relay', 'p50Ms'), figure(w, workload, 'direct', 'p50Ms'));
    add(`${workload}.httpP50`, `latency p50 over HTTP <= 2x direct${suffix}`, workload, httpP50, 2, le, `${x(httpP50)}${httpFloor === undefined ? '' : ` (HTTP relay: ${x(httpFloor)})`}`);
    add(`${workload}.httpP99`, `latency p99 over HTTP <= 2x direct${suffix}`, workload, httpP99, 2, le, x(httpP99));
  }

  const muxdRate = figure(w, 'fanin', 'muxd', 'callsPerS');
  const directRate = figure(w, 'fanin', 'direct', 'callsPerS');
  const vsDirect = ratio(muxdRate, directRate);
  add('fanin.direct', 'fan-in throughput >= direct', 'fanin', vsDirect, 1, (v) => v >= 1, x(vsDirect));
  const correctPeers = targets.filter((t) => {
    const f = w['fanin']?.[t.name];
    return t.peer && f && !('na' in f) && f['wrong'] === 0 && f['errors'] === 0;
  });
  const best = correctPeers
    .map((t) => ({ name: t.name, rate: figure(w, 'fanin', t.name, 'callsPerS') ?? 0 }))
    .sort((a, b) => b.rate - a.rate)[0];
  const vsPeer = best ? ratio(muxdRate, best.rate) : undefined;
  add('fanin.peer', `fan-in throughput >= 1.5x best correct peer${best ? ` (${best.name})` : ''}`, 'fanin', vsPeer, 1.5, (v) => v >= 1.5, x(vsPeer));
  const wrong = figure(w, 'fanin', 'muxd', 'wrong');
  add('fanin.wrong', 'fan-in wrong-client answers = 0', 'fanin', wrong, 0, (v) => v === 0, String(wrong));

  for (const [workload, name] of /** @type {const} */ ([['memoryEverything', 'everything'], ['memoryMemory', 'memory']])) {
    const pss = ratio(figure(w, workload, 'muxd', 'pssMiB'), figure(w, workload, 'direct', 'pssMiB'));
    add(`${workload}.direct`, `memory (${name}): PSS <= 50% of direct`, workload, pss, 0.5, le, x(pss));
    const muxdPss = figure(w, workload, 'muxd', 'pssMiB');
    const perSession = targets.filter((t) => t.peer && t.processPerSession && figure(w, workload, t.name, 'pssMiB') !== undefined);
    const lowest = Math.min(...perSession.map((t) => figure(w, workload, t.name, 'pssMiB') ?? Infinity));
    add(
      `${workload}.peers`,
      `memory (${name}): PSS below every process-per-session peer (${perSession.map((t) => t.name).join(', ') || 'none ran'})`,
      workload,
      perSession.length > 0 ? muxdPss : undefined,
      lowest,
      (v, l) => v < l,
      `${muxdPss} vs ${lowest} MiB`,
    );
    const marginal = figure(w, workload, 'muxd', 'marginalMiB');
    add(`${workload}.marginal`, `memory (${name}): +1 proxied session <= 8 MiB`, workload, marginal, 8, le, `${marginal} MiB`);
  }

  const seed = ratio(figure(w, 'seed', 'muxd', 'pssMiB'), figure(w, 'seed', 'direct', 'pssMiB'));
  add('seed.direct', 'seed scenario over mux-proxy: PSS <= 25% of direct', 'seed', seed, 0.25, le, x(seed));
  const seedHttpMiB = figure(w, 'seed', 'muxd-http', 'pssMiB');
  const seedHttp = ratio(seedHttpMiB, figure(w, 'seed', 'direct', 'pssMiB'));
  add('seed.http', 'seed scenario over HTTP: PSS <= 15% of direct', 'seed', seedHttp, 0.15, le, x(seedHttp));
  add('seed.httpMiB', 'seed scenario over HTTP: PSS <= 500 MiB', 'seed', seedHttpMiB, 500, le, `${seedHttpMiB} MiB`);
  const hubMiB = figure(w, 'seed', 'mcp-hub', 'pssMiB');
  add('seed.hub', 'seed scenario over HTTP: PSS below mcp-hub', 'seed', hubMiB === undefined ? undefined : seedHttpMiB, hubMiB ?? 0, (v, l) => v < l, `${seedHttpMiB} vs ${hubMiB} MiB`);
  // One process per server, muxd and its reaper (the `sh` that stops the
  // children's process groups if muxd is killed), plus one mux-proxy per
  // stdio session: no package runner left.
  const servers = figure(w, 'seed', 'muxd', 'servers');
  const sessions = figure(w, 'seed', 'muxd', 'sessions');
  for (const [name, id, perSession] of /** @type {const} */ ([['muxd', 'seed.processes', 1], ['muxd-http', 'seed.httpProcesses', 0]])) {
    const processes = figure(w, 'seed', name, 'processes');
    const expected = servers === undefined || sessions === undefined ? 0 : servers + 2 + perSession * servers * sessions;
    add(id, `seed scenario (${name}): processes = servers + muxd + its reaper${perSession ? ' + one mux-proxy per session' : ''}`, 'seed', servers === undefined ? undefined : processes, expected, (v, l) => v === l, `${processes} (expected ${expected})`);
  }

  const warm = figure(w, 'sessionStart', 'muxd', 'warmMs');
  const node = figure(w, 'sessionStart', 'muxd', 'nodeStartMs');
  add('sessionStart.warm', 'new session on a running server: initialize <= 80 ms (median)', 'sessionStart', warm, 80, le, `${warm} ms${node === undefined ? '' : ` (node -e 0 alone: ${node} ms)`}`);
  for (const [name, id] of /** @type {const} */ ([['muxd', 'crash.maxMs'], ['muxd-http', 'crash.httpMaxMs']])) {
    const ms = figure(w, 'crash', name, 'maxMs');
    const start = figure(w, 'crash', name, 'serverStartMs');
    add(id, `crash (${name}): every client's next call succeeds within 500 ms`, 'crash', ms, 500, le, `${ms} ms${start === undefined ? '' : ` (the server's own start: ${start} ms)`}`);
  }
  return out;
}

/**
 * The table: one row per figure, one column per target (figure and ratio to
 * direct), and the verdict of the target line that row carries, if any.
 * @param {Workloads} w
 * @param {string[]} targetNames
 * @param {Check[]} verdicts
 * @param {{ seedSessions: number, seedServers: number, faninClients: number }} settings
 */
export function table(w, targetNames, verdicts, settings) {
  /** @type {Record<string, string>} */
  const verdictOf = {};
  const rowCheck = {
    'latency.p50Ms': ['latency.p50', 'latency.aboveRelays', 'latency.httpP50'],
    'latency.p99Ms': ['latency.p99', 'latency.httpP99'],
    'latencyPinned.p50Ms': ['latencyPinned.p50'],
    'latencyPinned.p99Ms': ['latencyPinned.p99'],
    'fanin.callsPerS': ['fanin.direct', 'fanin.peer'],
    'fanin.wrong': ['fanin.wrong'],
    'memoryEverything.pssMiB': ['memoryEverything.direct', 'memoryEverything.peers'],
    'memoryEverything.marginalMiB': ['memoryEverything.marginal'],
    'memoryMemory.pssMiB': ['memoryMemory.direct', 'memoryMemory.peers'],
    'memoryMemory.marginalMiB': ['memoryMemory.marginal'],
    'seed.pssMiB': ['seed.direct', 'seed.http', 'seed.httpMiB', 'seed.hub'],
    'seed.processes': ['seed.processes', 'seed.httpProcesses'],
    'crash.maxMs': ['crash.maxMs', 'crash.httpMaxMs'],
    'sessionStart.warmMs': ['sessionStart.warm'],
  };
  for (const [key, ids] of Object.entries(rowCheck)) {
    const parts = ids
      .map((id) => verdicts.find((c) => c.id === id))
      .filter((c) => c !== undefined)
      .map((c) => `${c.pass === undefined ? 'n/a' : c.pass ? 'PASS' : 'FAIL'} ${c.line.replace(/^[^:]*: /, '').replace(/^(latency|fan-in) /, '')}`);
    verdictOf[key] = parts.join('; ');
  }

  const header = ['workload', ...targetNames, 'muxd target'];
  /** @type {string[][]} */
  const rows = [];
  /** @type {string[]} */
  const notes = [];
  for (const row of ROWS) {
    if (!w[row.workload]) continue;
    const base = figure(w, row.workload, 'direct', row.field);
    const cells = targetNames.map((target) => {
      const figures = w[row.workload]?.[target];
      if (!figures) return '';
      if ('na' in figures) {
        const note = `${target}, ${row.workload}: ${figures['na']}`;
        if (!notes.includes(note)) notes.push(note);
        return 'n/a';
      }
      const value = figure(w, row.workload, target, row.field);
      if (value === undefined) return row.blankIfMissing ? '' : row.workload === 'crash' ? '-' : 'n/a';
      const shown = `${fmt(value, row.digits ?? 2)}${row.unit && !['', 'calls/s'].includes(row.unit) ? ` ${row.unit}` : ''}`;
      if (row.better === 'none') return shown;
      return `${shown} (${x(ratio(value, base))})`;
    });
    const label = row.label.replace('{seed}', `${settings.seedSessions}x${settings.seedServers}`).replace('{fanin}', `${settings.faninClients} clients`);
    rows.push([`${label}${row.unit === 'calls/s' ? ' (calls/s)' : ''}`, ...cells, verdictOf[`${row.workload}.${row.field}`] ?? '']);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (/** @type {string[]} */ cells) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ').trimEnd();
  const text = [line(header), widths.map((n) => '-'.repeat(n)).join('-|-'), ...rows.map(line)];
  return { text: text.join('\n'), notes, markdown: markdownTable(header, rows) };
}

/** @param {string[]} header @param {string[][]} rows */
function markdownTable(header, rows) {
  const esc = (/** @type {string} */ s) => s.replaceAll('|', '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 || i === header.length - 1 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}
