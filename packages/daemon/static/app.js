// The muxd dashboard page: a live services table over server-sent events,
// actions posted with the session's CSRF token, and for the selected service
// its charts (uPlot), clients, runs and log tail. Every text from muxd is put
// in the page with textContent: service names, client names and log lines
// come from configs, clients and children, and are never markup.
'use strict';

(() => {
  const LOG_LINES = 200;
  const LATENCY_POINTS = 3600;
  /** pino's level numbers. */
  const LEVELS = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  const tbody = document.querySelector('#services tbody');
  const connection = document.getElementById('connection');
  const actionError = document.getElementById('action-error');
  let csrfToken;
  let selected;
  let latest;
  /** Per service: [at (s), p50, p99, req/s] gathered from the events while the page is open. */
  const latencyHistory = new Map();
  let charts = {};
  let lastPids = '';

  const el = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const bytes = (n) => (n === null || n === undefined ? '—' : n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);
  const ms = (n) => (n === null || n === undefined ? '—' : n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`);
  const num = (n, digits = 0) => (n === null || n === undefined ? '—' : n.toFixed(digits));
  const duration = (msValue) => {
    if (msValue === null || msValue === undefined) return '—';
    const s = Math.floor(msValue / 1000);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
  };
  const time = (at) => (at ? new Date(at).toLocaleTimeString() : '—');

  async function api(path, init = {}) {
    const res = await fetch(path, { credentials: 'same-origin', ...init });
    const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
    return body;
  }

  async function act(name, action) {
    actionError.hidden = true;
    try {
      await api(`/dashboard/services/${encodeURIComponent(name)}/${action}`, { method: 'POST', headers: { 'X-CSRF-Token': csrfToken } });
    } catch (error) {
      actionError.textContent = `${action} ${name}: ${error.message}`;
      actionError.hidden = false;
    }
  }

  function metricsOf(name) {
    return latest?.metrics?.find((m) => m.name === name);
  }

  function renderRow(row) {
    const metrics = metricsOf(row.name);
    const pending = latest.pending[row.name];
    let tr = tbody.querySelector(`tr[data-service="${CSS.escape(row.name)}"]`);
    if (!tr) {
      tr = el('tr', { 'data-service': row.name });
      for (const field of ['name', 'status', 'pids', 'uptime', 'sessions', 'inflight', 'requests', 'rate', 'p50', 'p99', 'errors', 'memory', 'cpu', 'restarts']) {
        tr.append(el('td', { 'data-field': field }));
      }
      const buttons = el('td', { class: 'actions' });
      for (const action of ['start', 'stop', 'restart']) {
        const button = el('button', { type: 'button', 'data-action': action }, action);
        button.addEventListener('click', (event) => {
          event.stopPropagation();
          void act(row.name, action);
        });
        buttons.append(button);
      }
      tr.append(buttons);
      tr.addEventListener('click', () => select(row.name));
      tbody.append(tr);
    }
    const set = (field, text) => {
      const cell = tr.querySelector(`td[data-field="${field}"]`);
      if (cell.textContent !== text) cell.textContent = text;
    };
    const status = pending ?? row.status;
    set('name', row.name);
    set('status', status);
    tr.querySelector('td[data-field="status"]').dataset.status = status;
    set('pids', row.pids.join(' ') || '—');
    set('uptime', duration(row.uptimeMs));
    set('sessions', row.idleClients ? `${row.clients} (+${row.idleClients} idle)` : String(row.clients));
    set('inflight', String(metrics?.inflight ?? row.inflight));
    set('requests', metrics ? String(metrics.requests) : '—');
    set('rate', metrics ? num(metrics.ratePerS, 1) : '—');
    set('p50', ms(metrics?.latency.lastMinute.p50Ms));
    set('p99', ms(metrics?.latency.lastMinute.p99Ms));
    set('errors', metrics ? String(metrics.errors + metrics.timeouts) : '—');
    set('memory', bytes(row.memoryBytes));
    set('cpu', row.cpuPercent === null ? '—' : `${row.cpuPercent.toFixed(1)}%`);
    set('restarts', String(row.restarts));
    tr.classList.toggle('selected', row.name === selected);
    for (const button of tr.querySelectorAll('button')) button.disabled = pending !== undefined;
  }

  function render(state) {
    latest = state;
    document.getElementById('daemon').textContent = `v${state.daemon.version}, pid ${state.daemon.pid}, up ${duration(state.at - state.daemon.startedAt)}`;
    const summary = state.summary;
    document.getElementById('summary').textContent = summary ? `${summary.sessions.total} sessions, ${bytes(summary.memoryBytes)} in all` : '';
    const names = new Set(state.services.map((row) => row.name));
    for (const tr of [...tbody.querySelectorAll('tr')]) if (!names.has(tr.dataset.service)) tr.remove();
    for (const row of state.services) renderRow(row);
    for (const m of state.metrics ?? []) {
      const points = latencyHistory.get(m.name) ?? [];
      points.push([state.at / 1000, m.latency.lastMinute.p50Ms, m.latency.lastMinute.p99Ms, m.ratePerS]);
      if (points.length > LATENCY_POINTS) points.shift();
      latencyHistory.set(m.name, points);
    }
    if (selected === undefined && state.services[0]) select(state.services[0].name);
    else if (selected !== undefined) renderDetail();
  }

  function select(name) {
    if (selected === name) return;
    selected = name;
    lastPids = '';
    for (const chart of Object.values(charts)) chart.destroy();
    charts = {};
    document.getElementById('log').textContent = '';
    for (const tr of tbody.querySelectorAll('tr')) tr.classList.toggle('selected', tr.dataset.service === name);
    renderDetail();
    void refreshSlow();
  }

  function chart(key, container, series, data) {
    if (typeof uPlot === 'undefined') return;
    if (!charts[key]) {
      const width = Math.max(300, container.clientWidth || 480);
      charts[key] = new uPlot({ width, height: 180, series: [{}, ...series], axes: [{}, { scale: series[0].scale }, ...(series.some((s) => s.scale === 'right') ? [{ scale: 'right', side: 1, grid: { show: false } }] : [])] }, data, container);
    } else {
      charts[key].setData(data);
    }
  }

  function renderDetail() {
    const row = latest.services.find((r) => r.name === selected);
    const detail = document.getElementById('detail');
    if (!row) {
      detail.hidden = true;
      return;
    }
    detail.hidden = false;
    document.getElementById('detail-name').textContent = selected;
    const metrics = metricsOf(selected);
    const samples = metrics?.samples ?? [];
    chart('memory', document.getElementById('chart-memory'), [
      { label: 'memory MiB', stroke: '#2a6fdb', scale: 'mib' },
      { label: 'CPU %', stroke: '#d9822b', scale: 'right' },
    ], [samples.map((s) => s.at / 1000), samples.map((s) => (s.memoryBytes === null ? null : s.memoryBytes / 1024 ** 2)), samples.map((s) => s.cpuPercent)]);
    const points = latencyHistory.get(selected) ?? [];
    chart('latency', document.getElementById('chart-latency'), [
      { label: 'p50 ms', stroke: '#2f9e44', scale: 'ms' },
      { label: 'p99 ms', stroke: '#c92a2a', scale: 'ms' },
      { label: 'req/s', stroke: '#868e96', scale: 'right' },
    ], [points.map((p) => p[0]), points.map((p) => p[1]), points.map((p) => p[2]), points.map((p) => p[3])]);
    const clients = document.querySelector('#clients tbody');
    clients.replaceChildren(
      ...(metrics?.sessions.clients ?? []).map((c) => {
        const tr = el('tr', { 'data-client': c.id });
        tr.append(el('td', {}, c.clientName ?? '(not initialized)'), el('td', {}, c.clientVersion ?? ''), el('td', {}, c.transport), el('td', {}, time(c.since)));
        return tr;
      }),
    );
    // A new pid means a run began or ended: the timeline is read again.
    const pids = row.pids.join(' ');
    if (pids !== lastPids) {
      lastPids = pids;
      void refreshTimeline();
    }
  }

  async function refreshTimeline() {
    const name = selected;
    try {
      const { runs, databaseError } = await api(`/dashboard/services/${encodeURIComponent(name)}/history?limit=50`);
      if (name !== selected) return;
      const list = document.getElementById('timeline');
      if (databaseError) {
        list.replaceChildren(el('li', { class: 'error' }, `history unavailable: ${databaseError}`));
        return;
      }
      list.replaceChildren(
        ...runs.map((run) => {
          const how = run.endedAt === null ? 'running' : `${run.reason ?? 'ended'}${run.code !== null ? `, code ${run.code}` : ''}${run.signal ? `, ${run.signal}` : ''}`;
          const li = el('li', { 'data-reason': run.reason ?? 'running' });
          li.append(el('time', {}, time(run.startedAt)), el('span', {}, ` pid ${run.pid ?? '—'}: `), el('strong', {}, how));
          if (run.endedAt !== null) li.append(el('span', {}, ` at ${time(run.endedAt)} after ${duration(run.endedAt - run.startedAt)}`));
          if (run.error) li.append(el('span', { class: 'error' }, ` ${run.error}`));
          return li;
        }),
      );
    } catch (error) {
      document.getElementById('timeline').replaceChildren(el('li', { class: 'error' }, error.message));
    }
  }

  async function refreshLog() {
    const name = selected;
    if (name === undefined) return;
    try {
      const { lines } = await api(`/dashboard/services/${encodeURIComponent(name)}/logs?lines=${LOG_LINES}`);
      if (name !== selected) return;
      const text = lines
        .map((line) => {
          try {
            const entry = JSON.parse(line);
            const { time: at, level, msg, ...rest } = entry;
            delete rest.pid;
            delete rest.hostname;
            delete rest.name;
            const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
            return `${at ? new Date(at).toLocaleTimeString() : ''} ${LEVELS[level] ?? level ?? ''} ${msg ?? ''}${extra}`;
          } catch {
            return line;
          }
        })
        .join('\n');
      const log = document.getElementById('log');
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      if (log.textContent !== text) log.textContent = text;
      if (atBottom) log.scrollTop = log.scrollHeight;
    } catch (error) {
      document.getElementById('log').textContent = `log unavailable: ${error.message}`;
    }
  }

  async function refreshSlow() {
    await Promise.all([refreshLog(), refreshTimeline()]);
  }

  function listen() {
    const events = new EventSource('/dashboard/events');
    events.addEventListener('open', () => {
      connection.textContent = 'live';
      connection.dataset.state = 'live';
    });
    events.addEventListener('state', (event) => render(JSON.parse(event.data)));
    events.addEventListener('error', () => {
      connection.textContent = 'reconnecting';
      connection.dataset.state = 'reconnecting';
    });
  }

  async function main() {
    try {
      ({ csrfToken } = await api('/dashboard/session'));
    } catch (error) {
      connection.textContent = `not logged in: ${error.message}`;
      connection.dataset.state = 'error';
      return;
    }
    listen();
    setInterval(() => void refreshLog(), 2000);
  }

  void main();
})();
