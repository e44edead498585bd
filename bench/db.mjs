// The cost of a traced database call: per Redis GET (ioredis 6 and node-redis 6) and per
// PostgreSQL `SELECT 1` (pg Pool, pool.query) against the local servers, in three variants
// measured in one run, each in its own process, in interleaved rounds:
//   bare      the drivers alone;
//   periscope instrument() with spans exported over OTLP to a local sink, obs.instrumentPostgres()
//             on the pool, Redis from the drivers' tracing channels (no preload);
//   otel      OpenTelemetry's own instrumentations (instrumentation-pg, -ioredis, -redis) with
//             the SDK's provider and batch processor exporting to the same sink, loaded by the
//             `--import` preload they need (bench/lib/otel-db-preload.mjs).
// And the same two without a collector (`-light`: periscope's default with no endpoint, whose spans
// carry trace IDs but are not recorded; OpenTelemetry's SDK with no span processor, which still
// records each span).
// Calls run one at a time inside one parent span, as in a request. Reported: CPU time of the
// client process per call (user + system; what instrumentation adds, and steadier than wall
// time on a shared machine) and wall time per call, medians over the rounds; the added cost is
// each variant minus bare in the same round.
//   node bench/db.mjs [--calls N] [--rounds N] [--render]
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLine, machineMeta, publish, rerender, table } from './lib/readme.mjs';
import { median } from './lib/stats.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULT = join(HERE, 'results', 'db.json');
const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const VARIANTS = ['bare', 'periscope', 'otel', 'periscope-light', 'otel-light'];
const OPS = ['ioredis GET', 'node-redis GET', 'pg SELECT 1'];

if (argv.includes('--worker')) await worker(opt('--worker'), Number(opt('--calls', 5000)));
else if (argv.includes('--render')) rerender('db', RESULT, render);
else await main();

async function main() {
  const calls = Number(opt('--calls', 5000));
  const rounds = Number(opt('--rounds', 7));
  const meta = machineMeta();
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end());
  });
  await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const sinkUrl = `http://127.0.0.1:${sink.address().port}`;
  /** runs[variant][op] = [{ cpu, wall }] per round */
  const runs = Object.fromEntries(VARIANTS.map((v) => [v, Object.fromEntries(OPS.map((o) => [o, []]))]));
  for (let r = 0; r < rounds; r++) {
    // Rotate the order so that no variant always runs first or last in a round.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]);
    for (const variant of order) {
      const out = await child(variant, calls, sinkUrl);
      for (const op of OPS) runs[variant][op].push(out[op]);
      process.stderr.write(`round ${r + 1}/${rounds} ${variant}: ${OPS.map((o) => `${o} ${out[o].cpu.toFixed(1)} µs cpu`).join(', ')}\n`);
    }
  }
  sink.close();
  const result = { ...meta, calls, rounds, ops: {} };
  for (const op of OPS) {
    const added = (variant, key) => median(runs[variant][op].map((x, i) => x[key] - runs.bare[op][i][key]));
    const entry = {};
    for (const v of VARIANTS) entry[v] = { cpu_us: +median(runs[v][op].map((x) => x.cpu)).toFixed(2), wall_us: +median(runs[v][op].map((x) => x.wall)).toFixed(2) };
    entry.added_cpu_us = Object.fromEntries(VARIANTS.slice(1).map((v) => [v, +added(v, 'cpu').toFixed(2)]));
    entry.added_wall_us = Object.fromEntries(VARIANTS.slice(1).map((v) => [v, +added(v, 'wall').toFixed(2)]));
    entry.otel_traced = runs.otel[op].every((x) => x.per_call > 0);
    entry.otel_spans_per_call = median(runs.otel[op].map((x) => x.per_call));
    entry.periscope_ops_per_call = median(runs.periscope[op].map((x) => x.per_call));
    result.ops[op] = entry;
  }
  publish('db', RESULT, result, render);
  process.stdout.write(`${render(result)}\n`);
}

function render(result) {
  const ratio = (p, o) => (o > 0 ? (p / o).toFixed(2) : '—');
  const rows = OPS.map((op) => {
    const e = result.ops[op];
    const a = e.added_cpu_us;
    return [op, `${e.bare.cpu_us}`, `+${a.periscope}`, `+${a.otel}`, ratio(a.periscope, a.otel), `+${a['periscope-light']}`, `+${a['otel-light']}`, ratio(a['periscope-light'], a['otel-light'])];
  });
  const spans = OPS.map((op) => `${op}: ${result.ops[op].otel_spans_per_call}`).join(', ');
  return [
    machineLine(result),
    `${result.calls} sequential calls per variant and operation, ${result.rounds} interleaved rounds; CPU µs of the client process per call, medians; added = variant minus bare in the same round. OpenTelemetry spans per call: ${spans}; periscope: one per call.`,
    '',
    table(
      ['operation', 'bare', 'periscope added, exported', 'OpenTelemetry added, exported', 'ratio', 'periscope added, no collector', 'OpenTelemetry added, no exporter', 'ratio'],
      rows,
    ),
  ].join('\n');
}

function child(variant, calls, sinkUrl) {
  const nodeArgs = variant.startsWith('otel') ? ['--import', join(HERE, 'lib', 'otel-db-preload.mjs')] : [];
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...nodeArgs, fileURLToPath(import.meta.url), '--worker', variant, '--calls', String(calls)], {
      env: { ...process.env, OTLP_SINK: sinkUrl, OTEL_BENCH_EXPORT: variant === 'otel' ? '1' : '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${variant} worker exited with ${code}: ${out}`))));
  });
}

async function worker(variant, calls) {
  // The drivers are required (CommonJS), the same way in every variant, so that OpenTelemetry's
  // require hooks patch them; periscope needs no hook either way.
  const require = createRequire(import.meta.url);
  const pg = require('pg');
  const { Redis } = require('ioredis');
  const { createClient } = require('redis');
  const { trace } = await import('@opentelemetry/api');

  const pool = new pg.Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 1 });
  const ioredis = new Redis(6379, '127.0.0.1');
  const nodeRedis = createClient({ url: 'redis://127.0.0.1:6379' });
  await nodeRedis.connect();
  await ioredis.set('bench:db:key', 'value');

  let inSpan = (fn) => fn();
  let finish = async () => {};
  /** Operations the instrumentation saw so far (spans made, or histogram observations). */
  let seen = async () => 0;
  if (variant.startsWith('periscope')) {
    const { instrument } = await import('../dist/index.js');
    const server = createServer();
    const obs = instrument(server, {
      serviceName: 'bench-db',
      routeOf: () => '/bench',
      version: '1.0.0',
      logging: false,
      health: false,
      shutdown: false,
      metrics: { defaultMetrics: false },
      tracing: variant === 'periscope' ? { endpoint: `${process.env.OTLP_SINK}/v1/traces` } : { exporter: 'none' },
    });
    obs.instrumentPostgres(pool, { name: 'bench' });
    inSpan = (fn) => obs.withSpan('bench', fn);
    finish = () => obs.shutdown();
    seen = async () => {
      const text = await obs.registry.metrics();
      return [...text.matchAll(/^db_client_operation_duration_seconds_count\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    };
  } else if (variant.startsWith('otel')) {
    const tracer = trace.getTracer('bench');
    inSpan = (fn) =>
      tracer.startActiveSpan('bench', async (span) => {
        try {
          return await fn();
        } finally {
          span.end();
        }
      });
    finish = () => globalThis.__otelBenchShutdown?.();
    seen = async () => globalThis.__otelBenchSpans ?? 0;
  }

  const ops = {
    'ioredis GET': () => ioredis.get('bench:db:key'),
    'node-redis GET': () => nodeRedis.get('bench:db:key'),
    'pg SELECT 1': () => pool.query('SELECT 1'),
  };
  const out = {};
  for (const [name, call] of Object.entries(ops)) {
    const before = await seen();
    out[name] = await inSpan(async () => {
      for (let i = 0; i < 1000; i++) await call();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) await call();
      const wall = ((performance.now() - t0) * 1000) / calls;
      const c = process.cpuUsage(c0);
      return { cpu: (c.user + c.system) / calls, wall };
    });
    out[name].per_call = +(((await seen()) - before) / (calls + 1000)).toFixed(2);
  }
  await finish();
  await pool.end();
  ioredis.disconnect();
  await nodeRedis.close();
  process.stdout.write(JSON.stringify(out));
}

