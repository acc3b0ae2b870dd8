// Live charts on the dashboard and a module's page: the kernel's history (GET /api/v1/history,
// or /api/v1/modules/<name>/history on a module's page), polled with ?since= for the new points
// only, drawn with uPlot (served from node_modules at /static/vendor/uplot.js). Restarts,
// crashes, give-ups and switches are drawn as vertical marks on the time axis.
// Module names and figures are data: names go in with textContent, numbers are numbers.
// Each module's block keeps data-points, data-last-t, data-req-max, data-req-last and
// data-events (the mark kinds in the window) up to date, for tests and the curious.
(() => {
  'use strict';
  const root = document.getElementById('charts');
  if (!root || typeof window.uPlot !== 'function') return;
  const uPlot = window.uPlot;
  const scope = root.dataset.chartsScope || '';
  const large = root.dataset.chartsSize === 'large';
  const SPAN = { '1h': 3_600_000, '24h': 86_400_000 };
  const MARK_COLOURS = { restart: '#7c3aed', crash: '#b42318', failed: '#111827', enabled: '#0f7a43', disabled: '#9a5b00' };
  let win = '1h';
  let pollTimer = null;
  let generation = 0;

  function bytes(n) {
    if (n === null || n === undefined || !Number.isFinite(n)) return '—';
    if (n < 1024) return `${Math.round(n)} B`;
    const units = ['KB', 'MB', 'GB', 'TB'];
    let v = n / 1024, i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
  }
  const fixed = (digits, unit) => (v) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(digits)}${unit || ''}`);

  /** The five charts of a module; each series is a column of the history. */
  const CHARTS = [
    { key: 'req', title: 'Requests/s', series: [{ col: 'req_per_s', label: 'req/s', stroke: '#2563eb', fill: 'rgba(37,99,235,0.12)' }], fmt: fixed(1) },
    { key: 'err', title: 'Errors/s (5xx)', series: [{ col: 'err_per_s', label: '5xx/s', stroke: '#b42318', fill: 'rgba(180,35,24,0.12)' }], fmt: fixed(1) },
    { key: 'lat', title: 'Latency p50 / p95', series: [{ col: 'p50_ms', label: 'p50', stroke: '#0f7a43' }, { col: 'p95_ms', label: 'p95', stroke: '#9a5b00' }], fmt: fixed(1, ' ms') },
    { key: 'cpu', title: 'CPU', series: [{ col: 'cpu_percent', label: 'CPU %', stroke: '#7c3aed', fill: 'rgba(124,58,237,0.10)' }], fmt: fixed(1, '%') },
    { key: 'mem', title: 'Memory (RSS)', series: [{ col: 'rss_bytes', label: 'RSS', stroke: '#14233c', fill: 'rgba(20,35,60,0.08)' }], fmt: bytes },
  ];
  const COLUMNS = ['req_per_s', 'err_per_s', 'p50_ms', 'p95_ms', 'cpu_percent', 'rss_bytes'];

  /** name → { block, points: {t, …columns}, events: {t, kind}, plots: [{chart, plot, now}] } */
  const modules = new Map();

  function emptyPoints() {
    const p = { t: [] };
    for (const c of COLUMNS) p[c] = [];
    return p;
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c) e.append(c);
    return e;
  }

  /** Vertical lines at each event of the module, in its kind's colour (restart dashed). */
  function marksPlugin(m) {
    return {
      hooks: {
        draw: [(u) => {
          const { ctx, bbox } = u;
          ctx.save();
          for (let i = 0; i < m.events.t.length; i++) {
            const x = u.valToPos(m.events.t[i] / 1000, 'x', true);
            if (!Number.isFinite(x) || x < bbox.left - 1 || x > bbox.left + bbox.width + 1) continue;
            const kind = m.events.kind[i];
            ctx.strokeStyle = MARK_COLOURS[kind] || '#111827';
            ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
            ctx.setLineDash(kind === 'restart' ? [5 * (window.devicePixelRatio || 1), 3 * (window.devicePixelRatio || 1)] : []);
            ctx.beginPath();
            ctx.moveTo(x, bbox.top);
            ctx.lineTo(x, bbox.top + bbox.height);
            ctx.stroke();
          }
          ctx.restore();
        }],
      },
    };
  }

  function plotData(m, chart) {
    return [m.points.t.map((t) => t / 1000), ...chart.series.map((s) => m.points[s.col])];
  }

  function size(box) {
    return { width: Math.max(120, Math.floor(box.clientWidth || 200)), height: large ? 180 : 80 };
  }

  /** The x range: the data's, stretched to take in the marks so a restart after the last point shows. */
  function xRange(m) {
    return (u, min, max) => {
      let lo = min, hi = max;
      for (const t of m.events.t) {
        hi = Math.max(hi ?? t / 1000, t / 1000);
        lo = Math.min(lo ?? t / 1000, t / 1000);
      }
      if (lo === null || hi === null) return [Date.now() / 1000 - 60, Date.now() / 1000];
      return hi - lo < 10 ? [hi - 10, hi] : [lo, hi];
    };
  }

  function makePlots(m) {
    const row = m.block.querySelector('.chart-row');
    row.replaceChildren();
    m.plots = CHARTS.map((chart) => {
      const now = el('span', { class: 'now', text: '—' });
      const box = el('div', { class: 'chart-plot' });
      const fig = el('figure', { class: 'chart', 'data-chart': chart.key }, el('figcaption', {}, el('span', { text: chart.title }), now), box);
      row.append(fig);
      const yValues = (u, vals) => vals.map((v) => (chart.key === 'mem' ? bytes(v) : String(+v.toFixed(2))));
      const opts = {
        ...size(box),
        legend: { show: large },
        cursor: { drag: { x: false, y: false }, points: { size: 5 } },
        scales: { x: { time: true, range: xRange(m) }, y: { range: (u, min, max) => [0, Math.max(max || 0, chart.key === 'cpu' ? 5 : chart.key === 'mem' ? 1048576 : 1) * 1.1] } },
        axes: [
          { show: large, stroke: '#667085', grid: { stroke: '#eef1f5' }, ticks: { stroke: '#e3e8ef' } },
          { show: true, size: large ? 64 : 52, stroke: '#667085', grid: { stroke: '#eef1f5' }, ticks: { show: false }, values: yValues, font: '10px system-ui, sans-serif' },
        ],
        series: [{}, ...chart.series.map((s) => ({ label: s.label, stroke: s.stroke, fill: s.fill, width: 1.5, spanGaps: false, points: { show: false }, value: (u, v) => chart.fmt(v) }))],
        plugins: [marksPlugin(m)],
      };
      const plot = new uPlot(opts, plotData(m, chart), box);
      return { chart, plot, now, box };
    });
  }

  function blockFor(name) {
    let block = [...root.querySelectorAll('[data-chart-module]')].find((b) => b.getAttribute('data-chart-module') === name);
    if (!block && !scope) {
      // a module that appeared after the page was rendered (hot reload)
      block = el('div', { class: 'chart-module', 'data-chart-module': name, 'data-points': '0' },
        el('h3', { class: 'chart-module-name' }, el('a', { href: `/modules/${encodeURIComponent(name)}`, text: name })),
        el('div', { class: 'chart-row' }));
      root.querySelector('.chart-modules').append(block);
      const empty = root.querySelector('.charts-empty');
      if (empty) empty.hidden = true;
    }
    return block || null;
  }

  function stateOf(name) {
    let m = modules.get(name);
    if (!m) {
      const block = blockFor(name);
      if (!block) return null;
      m = { block, points: emptyPoints(), events: { t: [], kind: [] }, plots: [] };
      modules.set(name, m);
      makePlots(m);
    }
    return m;
  }

  /** Adds a module's new points and events, drops what fell out of the window, redraws. */
  function merge(name, h, now) {
    const m = stateOf(name);
    if (!m || !h || !h.points) return;
    const last = m.points.t.length ? m.points.t[m.points.t.length - 1] : -Infinity;
    h.points.t.forEach((t, i) => {
      if (!(t > last)) return;
      m.points.t.push(t);
      for (const c of COLUMNS) m.points[c].push(h.points[c] ? h.points[c][i] : null);
    });
    const seen = new Set(m.events.t.map((t, i) => `${t}:${m.events.kind[i]}`));
    (h.events && h.events.t ? h.events.t : []).forEach((t, i) => {
      const kind = String(h.events.kind[i]);
      if (seen.has(`${t}:${kind}`)) return;
      m.events.t.push(t);
      m.events.kind.push(kind);
    });
    const oldest = now - SPAN[win];
    let cut = 0;
    while (cut < m.points.t.length && m.points.t[cut] < oldest) cut++;
    if (cut > 0) for (const k of Object.keys(m.points)) m.points[k].splice(0, cut);
    while (m.events.t.length && m.events.t[0] < oldest) { m.events.t.shift(); m.events.kind.shift(); }

    for (const p of m.plots) {
      p.plot.setData(plotData(m, p.chart));
      const col = m.points[p.chart.series[p.chart.series.length - 1].col];
      p.now.textContent = p.chart.fmt(col.length ? col[col.length - 1] : null);
    }
    const req = m.points.req_per_s.filter((v) => typeof v === 'number');
    m.block.dataset.points = String(m.points.t.length);
    m.block.dataset.lastT = m.points.t.length ? String(m.points.t[m.points.t.length - 1]) : '';
    m.block.dataset.reqMax = String(req.length ? Math.max(...req) : 0);
    m.block.dataset.reqLast = String(req.length ? req[req.length - 1] : 0);
    m.block.dataset.events = [...new Set(m.events.kind)].join(',');
  }

  function url() {
    const since = [...modules.values()].reduce((s, m) => Math.min(s, m.points.t.length ? m.points.t[m.points.t.length - 1] : 0), Infinity);
    const q = `window=${win}${Number.isFinite(since) && since > 0 ? `&since=${since}` : ''}`;
    return scope ? `/api/v1/modules/${encodeURIComponent(scope)}/history?${q}` : `/api/v1/history?${q}`;
  }

  async function poll() {
    const mine = generation;
    let wait = 5000;
    try {
      const res = await fetch(url(), { headers: { accept: 'application/json' }, credentials: 'same-origin' });
      if (res.status === 401) return void window.location.assign('/login');
      if (res.ok) {
        const body = await res.json();
        if (mine !== generation) return;
        const all = scope ? { [scope]: body } : body.modules || {};
        let interval = 5000;
        for (const [name, h] of Object.entries(all)) {
          merge(name, h, body.now || Date.now());
          if (h && h.interval_ms) interval = h.interval_ms;
        }
        // a module that left the hub (hot reload) leaves the page too
        if (!scope) {
          for (const [name, m] of modules) {
            if (Object.hasOwn(all, name)) continue;
            for (const p of m.plots) p.plot.destroy();
            m.block.remove();
            modules.delete(name);
          }
        }
        wait = Math.min(30_000, Math.max(1000, interval));
        root.dataset.polls = String((Number(root.dataset.polls) || 0) + 1);
      }
    } catch {
      /* the hub is restarting or the network dropped: try again */
    }
    if (mine === generation) pollTimer = setTimeout(poll, wait);
  }

  function setWindow(w) {
    if (!SPAN[w]) return;
    win = w;
    generation++;
    clearTimeout(pollTimer);
    root.dataset.window = w;
    const label = root.querySelector('[data-charts-window-label]');
    if (label) label.textContent = w === '1h' ? 'hour' : '24 hours';
    for (const b of root.querySelectorAll('button[data-window]')) {
      const on = b.dataset.window === w;
      b.setAttribute('aria-pressed', String(on));
      b.classList.toggle('btn-ghost', !on);
    }
    for (const m of modules.values()) {
      m.points = emptyPoints();
      m.events = { t: [], kind: [] };
      for (const p of m.plots) p.plot.destroy();
      makePlots(m);
    }
    poll();
  }

  root.addEventListener('click', (ev) => {
    const b = ev.target instanceof Element ? ev.target.closest('button[data-window]') : null;
    if (b) setWindow(b.dataset.window);
  });

  // charts follow their box's width
  const resize = () => {
    for (const m of modules.values()) for (const p of m.plots) p.plot.setSize(size(p.box));
  };
  let resizeTimer;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(resize, 100);
  });

  for (const b of root.querySelectorAll('[data-chart-module]')) stateOf(b.getAttribute('data-chart-module'));
  poll();
})();
