// The console's page, script and stylesheet, as strings: `src/` and `dist/` serve the same bytes,
// with no build step, no framework and nothing from another origin (the page works offline, and
// its Content-Security-Policy is `default-src 'self'`). The script renders every value with
// `textContent` or attributes, never as HTML. Written without backticks and `${`, so that each
// file is one String.raw literal.

export const INDEX_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>periscope console</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/app.css">
<script type="module" src="/app.js"></script>
</head>
<body>
<header>
  <h1>periscope</h1>
  <span id="service" class="service"></span>
  <nav>
    <a href="#routes" data-nav="routes">Routes</a>
    <a href="#traces" data-nav="traces">Traces</a>
    <a href="#logs" data-nav="logs">Logs</a>
    <a href="#health" data-nav="health">Health</a>
  </nav>
  <div id="usage" class="usage"></div>
  <span id="conn" class="conn">connecting</span>
</header>
<main>
  <section id="page-routes" data-page="routes">
    <p id="routes-note" class="note"></p>
    <table id="routes-table">
      <thead><tr><th>Route</th><th>Requests</th><th>Errors</th><th>Rate /s</th><th>p50</th><th>p95</th><th>p99</th><th>Last 10 minutes</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="page-traces" data-page="traces" hidden>
    <div class="columns">
      <div class="lists">
        <h2>Errors</h2>
        <table id="error-traces" class="traces"><tbody></tbody></table>
        <h2>Slowest</h2>
        <table id="slow-traces" class="traces"><tbody></tbody></table>
        <h2>Recent</h2>
        <table id="recent-traces" class="traces"><tbody></tbody></table>
      </div>
      <div id="trace-detail" class="detail">
        <p class="note">Pick a trace.</p>
      </div>
    </div>
  </section>
  <section id="page-logs" data-page="logs" hidden>
    <div class="filters">
      <label>Level <select id="log-level">
        <option value="">all</option><option value="debug">debug+</option><option value="info">info+</option><option value="warn">warn+</option><option value="error">error+</option>
      </select></label>
      <label>Text <input id="log-text" type="search" placeholder="filter"></label>
      <span id="log-count" class="note"></span>
    </div>
    <div id="log-list" class="log-list"></div>
  </section>
  <section id="page-health" data-page="health" hidden>
    <h2>Checks <span id="health-overall" class="badge"></span></h2>
    <table id="checks"><thead><tr><th>Check</th><th>Status</th><th>Latency</th><th>Message</th><th>Kind</th></tr></thead><tbody></tbody></table>
    <h2>Circuit breakers</h2>
    <table id="breakers"><thead><tr><th>Breaker</th><th>State</th><th>Calls</th><th>Failures</th><th>Failure rate</th><th>In flight</th></tr></thead><tbody></tbody></table>
    <h2>Recent transitions</h2>
    <table id="transitions"><thead><tr><th>When</th><th>What</th><th>From</th><th>To</th><th>Why</th></tr></thead><tbody></tbody></table>
  </section>
</main>
</body>
</html>
`;

export const FAVICON_SVG = String.raw`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6" fill="none" stroke="#3b82f6" stroke-width="2"/><circle cx="8" cy="8" r="2" fill="#3b82f6"/></svg>
`;

export const APP_CSS = String.raw`:root { color-scheme: light dark; --fg: #1f2937; --muted: #6b7280; --bg: #ffffff; --panel: #f3f4f6; --line: #e5e7eb; --accent: #2563eb; --bad: #dc2626; --warn: #d97706; --good: #16a34a; }
@media (prefers-color-scheme: dark) { :root { --fg: #e5e7eb; --muted: #9ca3af; --bg: #111827; --panel: #1f2937; --line: #374151; --accent: #60a5fa; } }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 16px; padding: 8px 16px; border-bottom: 1px solid var(--line); background: var(--panel); position: sticky; top: 0; }
h1 { font-size: 16px; margin: 0; }
h2 { font-size: 14px; margin: 16px 0 6px; }
nav a { margin-right: 12px; color: var(--fg); text-decoration: none; padding: 4px 8px; border-radius: 4px; }
nav a.active { background: var(--accent); color: #fff; }
.service { color: var(--muted); }
.usage { margin-left: auto; display: flex; gap: 12px; color: var(--muted); font-size: 12px; }
.usage .full { color: var(--warn); font-weight: 600; }
.conn { font-size: 12px; color: var(--muted); }
.conn.live { color: var(--good); }
main { padding: 12px 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.clickable { cursor: pointer; }
tr.clickable:hover, tr.selected { background: var(--panel); }
.err, .status-unhealthy, .state-open { color: var(--bad); font-weight: 600; }
.status-degraded, .state-half_open { color: var(--warn); font-weight: 600; }
.status-healthy, .state-closed { color: var(--good); }
.note { color: var(--muted); }
.columns { display: grid; grid-template-columns: minmax(320px, 2fr) 3fr; gap: 16px; }
.detail { border-left: 1px solid var(--line); padding-left: 16px; min-width: 0; }
.spark { width: 160px; height: 28px; }
.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.spark polyline.errors { stroke: var(--bad); }
.waterfall { margin: 8px 0; }
.span-row { display: grid; grid-template-columns: 40% 60%; align-items: center; cursor: pointer; padding: 2px 0; border-bottom: 1px solid var(--line); }
.span-row:hover, .span-row.selected { background: var(--panel); }
.span-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar-track { position: relative; height: 14px; }
.bar { position: absolute; top: 2px; height: 10px; min-width: 2px; background: var(--accent); border-radius: 2px; }
.bar.error { background: var(--bad); }
.bar-label { position: absolute; top: 0; font-size: 11px; color: var(--muted); white-space: nowrap; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-family: ui-monospace, monospace; font-size: 12px; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; word-break: break-all; }
.log-list { font-family: ui-monospace, monospace; font-size: 12px; }
.log-line { display: grid; grid-template-columns: 180px 48px 1fr max-content; gap: 8px; padding: 2px 4px; border-bottom: 1px solid var(--line); }
.log-line .text { white-space: pre-wrap; word-break: break-all; }
.lvl-warn { color: var(--warn); }
.lvl-error, .lvl-fatal { color: var(--bad); }
.filters { display: flex; gap: 16px; align-items: center; margin-bottom: 8px; }
.badge { font-size: 12px; padding: 1px 6px; border-radius: 8px; background: var(--panel); }
`;

export const APP_JS = String.raw`// periscope console: plain DOM, every value through textContent.
const $ = (sel) => document.querySelector(sel);
const MAX_LOGS = 2000;
const state = { routes: [], traces: { recent: [], errors: [], slowest: [] }, logs: [], health: null, stats: null, selected: null, redIntervalMs: 5000 };

function el(tag, attrs, children) {
  const e = document.createElement(tag);
  if (attrs) for (const k of Object.keys(attrs)) {
    if (k === 'text') e.textContent = String(attrs[k]);
    else if (k === 'class') e.className = attrs[k];
    else e.setAttribute(k, String(attrs[k]));
  }
  if (children) for (const c of children) if (c) e.appendChild(c);
  return e;
}

function ms(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const v = seconds * 1000;
  return v < 10 ? v.toFixed(2) + ' ms' : v < 1000 ? v.toFixed(0) + ' ms' : (v / 1000).toFixed(2) + ' s';
}
function fmtMs(v) { return v < 10 ? v.toFixed(2) + ' ms' : v < 1000 ? v.toFixed(0) + ' ms' : (v / 1000).toFixed(2) + ' s'; }
function time(t) { const d = new Date(t); return d.toLocaleTimeString(); }

async function get(path) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(path + ': ' + res.status);
  return res.json();
}

// ---- header: buffer usage and what was evicted or dropped
function renderUsage() {
  const s = state.stats;
  const box = $('#usage');
  box.replaceChildren();
  if (!s) return;
  const item = (label, held, max, id) => {
    const full = held >= max;
    return el('span', { id: id, class: full ? 'full' : '', title: full ? 'limit reached: the oldest are evicted' : '', text: label + ' ' + held + '/' + max + (full ? ' (limit reached)' : '') });
  };
  box.append(
    item('traces', s.traces.held, s.traces.max, 'usage-traces'),
    item('spans', s.traces.spans, s.traces.maxSpans, 'usage-spans'),
    item('logs', s.logs.held, s.logs.max, 'usage-logs'),
    el('span', { id: 'usage-evicted', text: 'evicted ' + (s.traces.evicted + ' traces, ' + s.logs.evicted + ' lines') }),
    el('span', { id: 'usage-dropped', text: 'dropped ' + (s.traces.droppedSpans + s.stream.skipped + s.routes.dropped) }),
    el('span', { text: 'rss ' + (s.rss / 1048576).toFixed(0) + ' MB' }),
  );
}

// ---- routes
function sparkline(points, key, cls) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 120 28');
  svg.setAttribute('preserveAspectRatio', 'none');
  const values = points.map((p) => p[key] || 0);
  const max = Math.max(1e-9, ...values);
  const start = 120 - values.length;
  const line = document.createElementNS(NS, 'polyline');
  line.setAttribute('points', values.map((v, i) => (start + i) + ',' + (27 - (v / max) * 26).toFixed(1)).join(' '));
  if (cls) line.setAttribute('class', cls);
  svg.appendChild(line);
  return svg;
}

function renderRoutes() {
  const body = $('#routes-table tbody');
  body.replaceChildren();
  $('#routes-note').textContent = state.hasMetrics === false ? 'Metrics are off (metrics: false): no RED per route.' : 'Points every ' + state.redIntervalMs / 1000 + ' s; rate and percentiles of the last point.';
  for (const r of state.routes) {
    const last = r.points.length ? r.points[r.points.length - 1] : null;
    const spark = el('td', { class: 'spark-cell' });
    spark.append(sparkline(r.points, 'rate'), sparkline(r.points, 'errors', 'errors'));
    body.appendChild(el('tr', { 'data-route': r.route }, [
      el('td', { class: 'route', text: r.route }),
      el('td', { class: 'num requests', text: r.requests }),
      el('td', { class: 'num errors' + (r.errors > 0 ? ' err' : ''), text: r.errors }),
      el('td', { class: 'num rate', text: last ? last.rate.toFixed(2) : '–' }),
      el('td', { class: 'num p50', text: ms(last && last.p50) }),
      el('td', { class: 'num p95', text: ms(last && last.p95) }),
      el('td', { class: 'num p99', text: ms(last && last.p99) }),
      spark,
    ]));
  }
}

// ---- traces
function traceRow(t) {
  const tr = el('tr', { class: 'clickable' + (t.error ? ' err' : '') + (state.selected === t.traceId ? ' selected' : ''), 'data-trace': t.traceId }, [
    el('td', { text: time(t.start) }),
    el('td', { class: 'name', text: t.name }),
    el('td', { class: 'num status', text: t.statusCode === undefined || t.statusCode === null ? '' : t.statusCode }),
    el('td', { class: 'num', text: fmtMs(t.durationMs) }),
    el('td', { class: 'num', text: t.spans + ' spans' }),
  ]);
  tr.addEventListener('click', () => { location.hash = '#traces/' + t.traceId; });
  return tr;
}
function renderTraceLists() {
  const fill = (sel, list) => { const b = $(sel + ' tbody'); b.replaceChildren(...list.slice(0, 50).map(traceRow)); };
  fill('#error-traces', state.traces.errors);
  fill('#slow-traces', state.traces.slowest);
  fill('#recent-traces', state.traces.recent);
}
function mergeTraces(batch) {
  const recent = state.traces.recent;
  for (const t of batch) {
    recent.unshift(t);
    if (t.error) { state.traces.errors.unshift(t); if (state.traces.errors.length > 50) state.traces.errors.pop(); }
  }
  if (recent.length > 200) recent.length = 200;
}

function kv(obj) {
  const dl = el('dl', { class: 'kv' });
  for (const k of Object.keys(obj || {})) dl.append(el('dt', { text: k }), el('dd', { text: typeof obj[k] === 'string' ? obj[k] : JSON.stringify(obj[k]) }));
  return dl;
}

function logLine(e) {
  const row = el('div', { class: 'log-line lvl-' + e.level, 'data-seq': e.seq, 'data-trace': e.traceId || '' }, [
    el('span', { class: 'time', text: e.time || '' }),
    el('span', { class: 'level', text: e.level }),
    el('span', { class: 'text', text: e.line }),
  ]);
  if (e.traceId) {
    const a = el('a', { href: '#traces/' + e.traceId, class: 'trace-link', text: e.traceId.slice(0, 8) });
    row.appendChild(a);
  } else row.appendChild(el('span'));
  return row;
}

async function showTrace(id) {
  state.selected = id;
  renderTraceLists();
  const box = $('#trace-detail');
  let t;
  try { t = await get('/api/traces/' + id); } catch { box.replaceChildren(el('p', { class: 'note', text: 'This trace is no longer held (evicted).' })); return; }
  const spans = t.spans.slice().sort((a, b) => a.start - b.start);
  const t0 = Math.min(...spans.map((s) => s.start));
  const total = Math.max(1e-6, Math.max(...spans.map((s) => s.start + s.durationMs)) - t0);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const depth = (s) => { let n = 0; let p = s.parentId; while (p && byId.has(p) && n < 32) { n++; p = byId.get(p).parentId; } return n; };
  const wf = el('div', { id: 'waterfall', class: 'waterfall' });
  const info = el('div', { id: 'span-info' });
  for (const s of spans) {
    const name = el('div', { class: 'span-name', text: s.name });
    name.style.paddingLeft = (depth(s) * 12) + 'px';
    const bar = el('div', { class: 'bar' + (s.status === 2 ? ' error' : '') });
    bar.style.left = ((s.start - t0) / total * 100).toFixed(2) + '%';
    bar.style.width = Math.max(0.3, s.durationMs / total * 100).toFixed(2) + '%';
    const label = el('span', { class: 'bar-label', text: fmtMs(s.durationMs) });
    label.style.left = Math.min(85, ((s.start - t0 + s.durationMs) / total * 100) + 1).toFixed(2) + '%';
    const row = el('div', { class: 'span-row', 'data-span': s.spanId }, [name, el('div', { class: 'bar-track' }, [bar, label])]);
    row.addEventListener('click', () => {
      for (const r of wf.querySelectorAll('.span-row.selected')) r.classList.remove('selected');
      row.classList.add('selected');
      info.replaceChildren(
        el('h2', { text: s.name }),
        kv({ span_id: s.spanId, parent: s.parentId || '(root)', duration: fmtMs(s.durationMs), status: ['unset', 'ok', 'error'][s.status] + (s.statusMessage ? ': ' + s.statusMessage : '') }),
        el('h2', { text: 'Attributes' }), kv(s.attributes),
        el('h2', { text: 'Events' }),
        ...s.events.map((ev) => el('div', {}, [el('strong', { text: ev.name + ' ' }), kv(ev.attributes)])),
      );
    });
    wf.appendChild(row);
  }
  const logs = el('div', { id: 'trace-logs', class: 'log-list' }, t.logs.map(logLine));
  box.replaceChildren(
    el('h2', { text: t.summary.name }),
    el('p', { class: 'note', id: 'trace-id', text: 'trace ' + t.summary.traceId + ' · ' + fmtMs(t.summary.durationMs) + ' · ' + t.spans.length + ' spans' + (t.dropped ? ' (' + t.dropped + ' dropped)' : '') }),
    wf, info,
    el('h2', { text: 'Log lines of this trace (' + t.logs.length + ')' }), logs,
  );
  const first = wf.querySelector('.span-row');
  if (first) first.click();
}

// ---- logs
function logFilter() {
  const level = $('#log-level').value;
  const q = $('#log-text').value.toLowerCase();
  const ranks = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
  const min = level ? ranks[level] : 0;
  return (e) => (ranks[e.level] || 30) >= min && (!q || e.line.toLowerCase().includes(q));
}
function renderLogs() {
  const keep = logFilter();
  const shown = state.logs.filter(keep).slice(-500);
  $('#log-list').replaceChildren(...shown.map(logLine));
  $('#log-count').textContent = shown.length + ' of ' + state.logs.length + ' lines';
}
function appendLogs(batch) {
  for (const e of batch) state.logs.push(e);
  if (state.logs.length > MAX_LOGS) state.logs.splice(0, state.logs.length - MAX_LOGS);
  if (current() !== 'logs') return;
  const keep = logFilter();
  const list = $('#log-list');
  for (const e of batch) if (keep(e)) list.appendChild(logLine(e));
  while (list.childElementCount > 500) list.firstElementChild.remove();
  $('#log-count').textContent = list.childElementCount + ' of ' + state.logs.length + ' lines';
}

// ---- health
function renderHealth() {
  const h = state.health;
  if (!h) return;
  $('#health-overall').textContent = h.overall || '';
  $('#health-overall').className = 'badge status-' + (h.overall || '');
  $('#checks tbody').replaceChildren(...h.checks.map((c) => el('tr', { 'data-check': c.name }, [
    el('td', { text: c.name }), el('td', { class: 'status status-' + c.status, text: c.status }), el('td', { class: 'num', text: c.latencyMs + ' ms' }),
    el('td', { text: c.message || '' }), el('td', { text: c.kind + (c.critical ? ', critical' : '') }),
  ])));
  $('#breakers tbody').replaceChildren(...h.breakers.map((b) => el('tr', { 'data-breaker': b.name }, [
    el('td', { text: b.name }), el('td', { class: 'state state-' + b.state, text: b.state }), el('td', { class: 'num', text: b.calls }),
    el('td', { class: 'num', text: b.failures }), el('td', { class: 'num', text: (b.failureRate * 100).toFixed(0) + '%' }), el('td', { class: 'num', text: b.inFlight }),
  ])));
  $('#transitions tbody').replaceChildren(...h.transitions.map((t) => el('tr', { 'data-kind': t.kind }, [
    el('td', { text: time(t.at) }), el('td', { text: t.kind + ' ' + t.name }), el('td', { text: t.from }), el('td', { class: 'state-' + t.to + ' status-' + t.to, text: t.to }), el('td', { text: t.reason }),
  ])));
}

// ---- navigation
function current() { return (location.hash.slice(1).split('/')[0]) || 'routes'; }
function route() {
  const page = current();
  for (const s of document.querySelectorAll('section[data-page]')) s.hidden = s.dataset.page !== page;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.nav === page);
  if (page === 'logs') renderLogs();
  if (page === 'health') get('/api/health').then((h) => { state.health = h; renderHealth(); }, report);
  if (page === 'traces') {
    const id = location.hash.split('/')[1];
    renderTraceLists();
    if (id) showTrace(id);
  }
}

function report(err) { $('#conn').textContent = 'error: ' + (err && err.message ? err.message : String(err)); }

async function loadAll() {
  const [s, routes, traces, logs] = await Promise.all([get('/api/state'), get('/api/routes'), get('/api/traces'), get('/api/logs?limit=' + MAX_LOGS)]);
  state.stats = s.stats; state.redIntervalMs = s.redIntervalMs; state.hasMetrics = s.hasMetrics;
  $('#service').textContent = s.service.name + ' ' + s.service.version;
  state.routes = routes; state.traces = traces; state.logs = logs;
  renderUsage(); renderRoutes(); renderTraceLists();
  route();
}

function connect() {
  const es = new EventSource('/api/events');
  const on = (type, fn) => es.addEventListener(type, (ev) => { try { fn(JSON.parse(ev.data)); } catch (e) { report(e); } });
  es.onopen = () => { const c = $('#conn'); c.textContent = 'live'; c.className = 'conn live'; };
  es.onerror = () => { const c = $('#conn'); c.textContent = 'reconnecting'; c.className = 'conn'; };
  on('hello', () => {});
  on('stats', (s) => { state.stats = s; renderUsage(); });
  on('routes', (r) => { state.routes = r; renderRoutes(); });
  on('traces', (batch) => { mergeTraces(batch); if (current() === 'traces') renderTraceLists(); });
  on('logs', appendLogs);
  on('health', (h) => { state.health = h; renderHealth(); });
  on('resync', () => { loadAll().catch(report); });
}

window.addEventListener('hashchange', route);
$('#log-level').addEventListener('change', renderLogs);
$('#log-text').addEventListener('input', renderLogs);
loadAll().then(connect, report);
`;
