/**
 * The bench's chart: latency and memory per target, as one SVG drawn by
 * Vega-Lite from a results file. Vega comes from scripts/bench/node_modules
 * (installed with the peers); without it there is no chart, and the bench
 * says so instead of failing.
 */

/** Bar colours: muxd stands out, direct is the neutral baseline, peers share a grey family. */
const COLOURS = { direct: '#7f7f7f', muxd: '#1f77b4', 'muxd-http': '#6baed6', 'mcp-proxy': '#c7c7c7', 'mcp-hub': '#a5a5a5', supergateway: '#d9d9d9', relays: '#e6c9a8', 'http-relay': '#f2dcc4', 'muxd-npx': '#9ecae1', 'muxd-http-npx': '#c6dbef' };

/**
 * @typedef {Record<string, Record<string, Record<string, unknown>>>} Workloads
 * @typedef {{ panel: string, target: string, series: string, value: number, label: string }} Point
 */

/**
 * The points of each panel, from whichever workloads the run has.
 * @param {Workloads} w
 * @param {{ seedSessions: number, seedServers: number }} settings
 * @returns {{ title: string, unit: string, points: Point[] }[]}
 */
export function chartPanels(w, settings) {
  /**
   * @param {string} title
   * @param {string} unit
   * @param {string} workload
   * @param {[field: string, series: string][]} fields
   */
  const panel = (title, unit, workload, fields) => {
    const byTarget = w[workload] ?? {};
    const direct = byTarget['direct'] ?? {};
    /** @type {Point[]} */
    const points = [];
    for (const [target, figures] of Object.entries(byTarget)) {
      for (const [field, series] of fields) {
        const value = figures[field];
        if (typeof value !== 'number' || !Number.isFinite(value)) continue;
        const base = direct[field];
        const ratio = typeof base === 'number' && base > 0 ? ` (${(value / base).toFixed(2)}x)` : '';
        const shown = value >= 10 ? value.toFixed(0) : value.toFixed(2);
        points.push({ panel: title, target, series, value, label: `${shown}${ratio}` });
      }
    }
    return { title, unit, points };
  };
  return [
    panel('Latency, one session calling echo (p50, and p99 lighter)', 'ms', 'latency', [['p50Ms', 'p50'], ['p99Ms', 'p99']]),
    panel('Memory, 8 idle sessions on one server', 'total PSS, MiB', 'memoryEverything', [['pssMiB', '8 sessions']]),
    panel(`Seed scenario, ${settings.seedSessions} sessions x ${settings.seedServers} servers`, 'total PSS, MiB', 'seed', [['pssMiB', 'seed']]),
  ].filter((p) => p.points.length > 0);
}

/**
 * Renders the chart of a results file's workloads.
 * @param {{ workloads: Workloads, settings: { seedSessions: number, seedServers: number }, meta?: { date?: string, cpu?: string, nproc?: number } }} result
 * @returns {Promise<string>} the SVG text
 */
export async function renderChart(result) {
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(compile(/** @type {any} */ (chartSpec(result))).spec), { renderer: 'none' });
  return view.toSVG();
}

/**
 * The Vega-Lite spec of the chart.
 * @param {{ workloads: Workloads, settings: { seedSessions: number, seedServers: number }, meta?: { date?: string, cpu?: string, nproc?: number } }} result
 */
export function chartSpec(result) {
  const panels = chartPanels(result.workloads, result.settings);
  if (panels.length === 0) throw new Error('no latency or memory figures in these results');
  const targets = Object.keys(COLOURS);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'muxd benchmarks: figure (ratio to direct in the same run)',
      subtitle: result.meta?.date ? `${result.meta.date.slice(0, 16).replace('T', ' ')} UTC, ${result.meta.nproc ?? '?'} x ${result.meta.cpu ?? 'CPU'}` : '',
      anchor: 'start',
    },
    vconcat: panels.map((p) => ({
      title: { text: p.title, anchor: 'start', fontSize: 13 },
      data: { values: p.points },
      width: 520,
      encoding: {
        y: { field: 'target', type: 'nominal', sort: targets, title: null },
        yOffset: { field: 'series', type: 'ordinal', sort: 'ascending' },
        x: { field: 'value', type: 'quantitative', title: p.unit },
      },
      layer: [
        {
          mark: { type: 'bar' },
          encoding: {
            color: { field: 'target', type: 'nominal', scale: { domain: targets, range: targets.map((t) => COLOURS[/** @type {keyof typeof COLOURS} */ (t)]) }, legend: null },
            // A panel's second series (latency's p99) is drawn lighter.
            ...(new Set(p.points.map((point) => point.series)).size > 1 ? { opacity: { field: 'series', type: 'ordinal', sort: 'ascending', scale: { range: [1, 0.5] }, legend: null } } : {}),
          },
        },
        { mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 }, encoding: { text: { field: 'label' } } },
      ],
    })),
    resolve: { scale: { x: 'independent', opacity: 'independent' } },
    config: { font: 'sans-serif', view: { stroke: null }, axis: { labelFontSize: 11, titleFontSize: 11 } },
  };
}
