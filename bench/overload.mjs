// Overload scenario (issue 21): a route whose latency grows with the requests in flight (a
// saturated dependency, bench/servers/overload-app.mjs), driven by wrk without and with the
// limiter, in one run. Phases per variant, each on a fresh server: unloaded (a quarter of the
// dependency's slots as connections), capacity (as many connections as slots), overload (4x).
// Reports goodput (successful responses/s), the p99 of successful responses (measured in the
// server, from the handler's start to the response's finish), the shed rate; writes
// bench/results/overload.json, bench/results/overload.svg and the README section.
//   node bench/overload.mjs [--quick] [--modes off,gradient,aimd]
// Bounded: every wrk run has its duration and a kill timeout; loopback only.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HAS_WRK, PINNING, ROOT, run, startServer, stop } from './lib/procs.mjs';
import { machineMeta, publish, table } from './lib/readme.mjs';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const modesAt = argv.indexOf('--modes');
const MODES = modesAt >= 0 ? argv[modesAt + 1].split(',') : ['off', 'gradient', 'gradient+retry-after'];
const SLOTS = 16;
const SERVICE_MS = 50;
const CONTENTION = 0.25;
const PHASES = [
  { name: 'unloaded', connections: SLOTS / 4, seconds: quick ? 3 : 5 },
  { name: 'capacity', connections: SLOTS, seconds: quick ? 3 : 5 },
  { name: 'overload', connections: SLOTS * 4, seconds: quick ? 6 : 15 },
];

if (!HAS_WRK) {
  process.stderr.write('wrk is not installed: the overload scenario needs it\n');
  process.exit(1);
}

async function wrk(url, connections, seconds, honourRetryAfter) {
  const pin = PINNING ? ['taskset', '-c', PINNING.load] : [];
  const cmd = pin.length ? pin[0] : 'wrk';
  const script = honourRetryAfter ? ['-s', join(ROOT, 'bench', 'lib', 'retry-after.lua')] : [];
  const args = [...pin.slice(1), ...(pin.length ? ['wrk'] : []), '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', ...script, '--latency', url];
  const out = await run(cmd, args, (seconds + 20) * 1000);
  const total = Number(/(\d+) requests in/.exec(out)[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { total, non2xx, socketErrors };
}

function p99(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];
}

/** `gradient+retry-after`: the gradient limiter, driven by clients that honour Retry-After. */
async function variant(label) {
  const [mode, clients] = label.split('+');
  const server = await startServer('overload-app', [mode, '--slots', String(SLOTS), '--service-ms', String(SERVICE_MS), '--contention', String(CONTENTION)]);
  if ('unavailable' in server) throw new Error(server.unavailable);
  const base = `http://127.0.0.1:${server.port}`;
  const phases = [];
  try {
    for (const phase of PHASES) {
      await fetch(`${base}/bench/reset`);
      const w = await wrk(`${base}/work`, phase.connections, phase.seconds, clients === 'retry-after');
      const stats = await (await fetch(`${base}/bench/stats`)).json();
      const bySecond = stats.latencies.slice(0, phase.seconds);
      const all = bySecond.flat();
      const ok = all.length;
      phases.push({
        phase: phase.name,
        connections: phase.connections,
        seconds: phase.seconds,
        goodput_rps: ok / phase.seconds,
        p99_ok_ms: p99(all),
        // Once the limit has had time to move: the second half of the phase.
        p99_ok_second_half_ms: p99(bySecond.slice(Math.floor(phase.seconds / 2)).flat()),
        shed_rate: w.total === 0 ? 0 : w.non2xx / w.total,
        shed_rps: w.non2xx / phase.seconds,
        socket_errors: w.socketErrors,
        per_second: stats.seconds.slice(0, phase.seconds),
        limits: stats.limits.slice(0, phase.seconds),
      });
    }
  } finally {
    await stop(server);
  }
  return { mode: label, phases };
}

const meta = machineMeta();
const variants = [];
for (const mode of MODES) variants.push(await variant(mode));
// The unloaded and capacity phases are the same in every variant (their connections never reach
// the limit, which starts at 100), so the references are the medians over the variants: on a busy
// machine one phase's p99 can be several times another's.
const median = (xs) => {
  const s = xs.filter((x) => x !== null).sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const unloadedP99 = median(variants.map((v) => v.phases.find((p) => p.phase === 'unloaded').p99_ok_ms));
const capacity = median(variants.map((v) => v.phases.find((p) => p.phase === 'capacity').goodput_rps));
const result = {
  ...meta,
  loadavg_end: +(await import('node:os')).loadavg()[0].toFixed(1),
  model: { slots: SLOTS, service_ms: SERVICE_MS, contention: CONTENTION, theoretical_capacity_rps: (SLOTS / SERVICE_MS) * 1000 },
  unloaded_p99_ms: unloadedP99,
  capacity_rps: capacity,
  variants: variants.map((v) => ({
    ...v,
    overload: (() => {
      const o = v.phases.find((p) => p.phase === 'overload');
      return {
        goodput_share_of_capacity: capacity ? o.goodput_rps / capacity : null,
        p99_over_unloaded: unloadedP99 ? o.p99_ok_ms / unloadedP99 : null,
        p99_second_half_over_unloaded: unloadedP99 ? o.p99_ok_second_half_ms / unloadedP99 : null,
      };
    })(),
  })),
};

function variantName(mode) {
  if (mode === 'off') return 'no limiter';
  const [limit, clients] = mode.split('+');
  return `limiter (${limit})${clients === 'retry-after' ? ', clients honour Retry-After' : ''}`;
}
const fmt = (n, d = 0) => (n === null || n === undefined ? '—' : n.toFixed(d));
function render(r) {
  const rows = [];
  for (const v of r.variants) {
    for (const p of v.phases) {
      rows.push([
        variantName(v.mode),
        `${p.phase} (${p.connections} conn.)`,
        fmt(p.goodput_rps),
        r.capacity_rps ? `${fmt((100 * p.goodput_rps) / r.capacity_rps)}%` : '—',
        fmt(p.p99_ok_ms, 1),
        r.unloaded_p99_ms ? `${fmt(p.p99_ok_ms / r.unloaded_p99_ms, 2)}x` : '—',
        fmt(p.p99_ok_second_half_ms, 1),
        `${fmt(100 * p.shed_rate, 1)}% (${fmt(p.shed_rps)}/s)`,
        p.limits.length === 0 ? '—' : `${Math.min(...p.limits)}–${Math.max(...p.limits)}`,
      ]);
    }
  }
  return [
    `Node ${r.node}, ${r.cpus} × ${r.cpu_model}, ${r.date.slice(0, 10)}; load average ${r.loadavg} at the start, ${r.loadavg_end} at the end${PINNING ? '; server on CPU 0, wrk on CPU 1' : ''}.`,
    `Dependency model: ${r.model.slots} slots × ${r.model.service_ms} ms, contention ${r.model.contention} (theoretical capacity ${r.model.theoretical_capacity_rps} req/s). Unloaded p99 ${fmt(r.unloaded_p99_ms, 1)} ms and measured capacity ${fmt(r.capacity_rps)} req/s (${SLOTS} connections): medians over the variants' unloaded and capacity phases.`,
    '',
    table(['variant', 'phase', 'goodput req/s', 'of capacity', 'p99 of 200s (ms)', 'p99 / unloaded', 'p99, second half (ms)', 'shed', 'limit (min–max/s)'], rows),
    '',
    '![goodput and p99 of successful requests per second, without and with the limiter](results/overload.svg)',
  ].join('\n');
}

function svg(r) {
  const W = 760;
  const H = 520;
  const left = 60;
  const right = 20;
  const panel = [
    { key: 'ok', label: 'goodput (successful req/s)', top: 30, height: 190 },
    { key: 'p99_ms', label: 'p99 of successful requests (ms)', top: 290, height: 190 },
  ];
  const colors = { off: '#d62728', gradient: '#1f77b4', aimd: '#2ca02c', 'gradient+retry-after': '#9467bd' };
  const series = r.variants.map((v) => ({ mode: v.mode, points: v.phases.flatMap((p) => p.per_second) }));
  const seconds = Math.max(...series.map((s) => s.points.length));
  const x = (i) => left + ((W - left - right) * (i + 0.5)) / seconds;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  let t = 0;
  const bounds = PHASES.map((p) => ((t += p.seconds), { name: p.name, end: t, start: t - p.seconds }));
  for (const pn of panel) {
    const values = series.flatMap((s) => s.points.map((p) => p?.[pn.key] ?? 0));
    const refs = pn.key === 'ok' ? [r.capacity_rps] : [r.unloaded_p99_ms && 3 * r.unloaded_p99_ms];
    const max = Math.max(1, ...values, ...refs.filter(Boolean)) * 1.1;
    const y = (v) => pn.top + pn.height - (pn.height * v) / max;
    out.push(`<text x="${left}" y="${pn.top - 8}" font-weight="bold">${pn.label}</text>`);
    out.push(`<line x1="${left}" y1="${pn.top + pn.height}" x2="${W - right}" y2="${pn.top + pn.height}" stroke="#333"/>`, `<line x1="${left}" y1="${pn.top}" x2="${left}" y2="${pn.top + pn.height}" stroke="#333"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = (max / 1.1) * (k / 4);
      out.push(`<text x="${left - 4}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`, `<line x1="${left}" y1="${y(v)}" x2="${W - right}" y2="${y(v)}" stroke="#eee"/>`);
    }
    for (const b of bounds) {
      const bx = left + ((W - left - right) * b.start) / seconds;
      out.push(`<line x1="${bx}" y1="${pn.top}" x2="${bx}" y2="${pn.top + pn.height}" stroke="#999" stroke-dasharray="3,3"/>`, `<text x="${bx + 3}" y="${pn.top + 12}" fill="#666">${b.name}</text>`);
    }
    const ref = refs[0];
    if (ref) {
      out.push(`<line x1="${left}" y1="${y(ref)}" x2="${W - right}" y2="${y(ref)}" stroke="#555" stroke-dasharray="6,3"/>`);
      out.push(`<text x="${W - right - 4}" y="${y(ref) - 4}" text-anchor="end" fill="#555">${pn.key === 'ok' ? 'capacity (measured)' : '3 × unloaded p99'}</text>`);
    }
    for (const s of series) {
      const pts = s.points.map((p, i) => (p?.[pn.key] === null || p === undefined ? null : `${x(i).toFixed(1)},${y(p[pn.key]).toFixed(1)}`)).filter(Boolean);
      out.push(`<polyline fill="none" stroke="${colors[s.mode] ?? '#000'}" stroke-width="2" points="${pts.join(' ')}"/>`);
    }
  }
  out.push(`<text x="${(W + left) / 2}" y="${H - 10}" text-anchor="middle">seconds (each variant on a fresh server)</text>`);
  series.forEach((s, i) => out.push(`<rect x="${W - 300}" y="${6 + i * 14}" width="10" height="10" fill="${colors[s.mode] ?? '#000'}"/>`, `<text x="${W - 286}" y="${15 + i * 14}">${variantName(s.mode)}</text>`));
  out.push('</svg>');
  return out.join('\n');
}

writeFileSync(join(ROOT, 'bench', 'results', 'overload.svg'), `${svg(result)}\n`);
publish('overload', join(ROOT, 'bench', 'results', 'overload.json'), result, render);
process.stdout.write(`${render(result)}\n`);
