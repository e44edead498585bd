// The whole cost of a sampled span, from startSpan to its bytes on the wire: start, ten
// attributes of periscope's server span, end, periscope's export queue (dist/tracing/processor.js),
// the encoding and the HTTP request to a stand-in collector (bench/servers/otlp-sink.mjs, its own
// process, so its work is not counted). Three exporters behind the same provider and queue:
//   none       an exporter that takes every batch at once (the span and the queue alone);
//   otel       @opentelemetry/exporter-trace-otlp-proto (ProtobufTraceSerializer);
//   periscope  periscope's protobufSpanExporter (dist/tracing/otlp-exporter.js, its own encoder
//              in the same exporter-base transport).
// The figure that counts is this process' CPU time (user + system, GC included) per span, which
// moves less than wall time on a shared machine; export = the variant minus `none` in the same
// round. Variants run in interleaved rounds, their order rotating; medians over rounds.
//   npm run build && node --expose-gc bench/span-export.mjs [--spans N] [--rounds N] [--write]
// With --write the result goes to bench/results/span-export.json and its README section.
//   --instructions: instead, counts instructions per span under valgrind's callgrind, for
//   each variant (N = --spans and 3 x --spans, the difference divided by 2 x --spans).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { PooledIdGenerator } from '../dist/tracing/ids.js';
import { protobufSpanExporter } from '../dist/tracing/otlp-exporter.js';
import { ExportQueue } from '../dist/tracing/processor.js';
import { machineLine, machineMeta, publish, table } from './lib/readme.mjs';
import { serverSpan } from './lib/server-span.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const SPANS = Number(opt('--spans', 20_480));
const ROUNDS = Number(opt('--rounds', 9));
const VARIANTS = ['none', 'otel', 'periscope'];

/** The stand-in collector in a child process; `stats()` reads its request and byte counts. */
async function startSink() {
  const child = spawn(process.execPath, [join(here, 'servers', 'otlp-sink.mjs')], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
  const stats = () =>
    new Promise((resolve) => {
      child.once('message', (m) => resolve(m.stats));
      child.send('stats');
    });
  return { url: `http://127.0.0.1:${port}/v1/traces`, stats, stop: () => child.kill() };
}

const immediate = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: async () => {},
};

/** One variant's provider and queue, configured as periscope's own provider is. */
function pipeline(variant, url) {
  const exporter = variant === 'none' ? immediate : variant === 'otel' ? new OTLPTraceExporter({ url, concurrencyLimit: 2 }) : protobufSpanExporter({ url, concurrencyLimit: 2 });
  const drops = { queue_full: 0, export_failed: 0 };
  const queue = new ExportQueue({
    exporter,
    maxQueueSize: 2048,
    maxExportBatchSize: 512,
    scheduledDelayMillis: 5000,
    exportTimeoutMillis: 10_000,
    onDrop: (reason, n) => (drops[reason] += n),
    logger: { warn: (_obj, msg) => process.stderr.write(`${msg}\n`) },
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench', 'service.version': '1.0.0', 'telemetry.sdk.language': 'nodejs', 'telemetry.sdk.name': 'periscope', 'process.pid': process.pid }),
    sampler: new AlwaysOnSampler(),
    idGenerator: new PooledIdGenerator(),
    spanProcessors: [queue],
  });
  return { tracer: provider.getTracer('periscope', '0.1.0'), queue, drops };
}

/**
 * `n` server spans shaped like periscope's, yielding every 256 so exports run alongside (and
 * waiting while the queue is near its bound), then a flush.
 */
async function emit(p, n) {
  for (let i = 0; i < n; i++) {
    serverSpan(p.tracer, i);
    if ((i & 255) === 255) {
      await tick();
      // Never past the queue's bound: a dropped span would not be encoded or sent.
      while (p.queue.length > 2048 - 512) await sleep(1);
    }
  }
  await p.queue.forceFlush();
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round2 = (x) => +x.toFixed(2);

/** A child run for callgrind: one variant, `n` spans after a warm-up of the same size, then exit. */
async function once(variant, n, url) {
  const p = pipeline(variant, url);
  await emit(p, 2048);
  await emit(p, n);
  process.exit(0);
}

function instructions(variant, n, url) {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-span-export-'));
  const args = ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'out')}`, process.execPath, '--predictable', fileURLToPath(import.meta.url), '--once', variant, '--spans', String(n), '--sink', url];
  const r = spawnSync('valgrind', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  rmSync(dir, { recursive: true, force: true });
  const total = /Collected : (\d+)/.exec(r.stderr)?.[1];
  if (r.status !== 0 || total === undefined) throw new Error(`${variant} N=${n} failed: ${r.stderr.slice(-2000)}`);
  return Number(total);
}

const onceAt = argv.indexOf('--once');
if (onceAt >= 0) {
  await once(argv[onceAt + 1], SPANS, opt('--sink'));
} else {
  const meta = machineMeta();
  const sink = await startSink();
  try {
    let result;
    if (argv.includes('--instructions')) {
      const rows = VARIANTS.map((variant) => {
        const small = instructions(variant, SPANS, sink.url);
        const large = instructions(variant, 3 * SPANS, sink.url);
        return { variant, per_span: Math.round((large - small) / (2 * SPANS)) };
      });
      const none = rows[0].per_span;
      for (const r of rows) r.export_per_span = r.per_span - none;
      result = { ...meta, method: `callgrind, node --predictable, (Ir at N=${3 * SPANS} - Ir at N=${SPANS}) / ${2 * SPANS}`, rows };
    } else {
      const pipelines = Object.fromEntries(VARIANTS.map((v) => [v, pipeline(v, sink.url)]));
      // Warm-up: every variant once, uncounted.
      for (const v of VARIANTS) await emit(pipelines[v], 4096);
      const samples = Object.fromEntries(VARIANTS.map((v) => [v, { cpu: [], wall: [], export: [], bytes: 0 }]));
      for (let r = 0; r < ROUNDS; r++) {
        const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]);
        const cpuThisRound = {};
        for (const v of order) {
          globalThis.gc?.();
          const before = await sink.stats();
          const cpu0 = process.cpuUsage();
          const t0 = performance.now();
          await emit(pipelines[v], SPANS);
          const wall = performance.now() - t0;
          const cpu = process.cpuUsage(cpu0);
          const after = await sink.stats();
          cpuThisRound[v] = (cpu.user + cpu.system) / SPANS;
          samples[v].cpu.push(cpuThisRound[v]);
          samples[v].wall.push((wall * 1000) / SPANS);
          samples[v].bytes = (after.bytes - before.bytes) / SPANS;
        }
        for (const v of VARIANTS) samples[v].export.push(cpuThisRound[v] - cpuThisRound.none);
      }
      const rows = VARIANTS.map((v) => ({
        variant: v,
        cpu_us_per_span: round2(median(samples[v].cpu)),
        cpu_min: round2(Math.min(...samples[v].cpu)),
        cpu_max: round2(Math.max(...samples[v].cpu)),
        export_cpu_us_per_span: round2(median(samples[v].export)),
        wall_us_per_span: round2(median(samples[v].wall)),
        bytes_per_span: Math.round(samples[v].bytes),
        dropped: pipelines[v].drops.queue_full + pipelines[v].drops.export_failed,
      }));
      result = { ...meta, loadavg_end: +(await import('node:os')).loadavg()[0].toFixed(1), spans_per_round: SPANS, rounds: ROUNDS, rows };
    }
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (argv.includes('--write')) {
      const name = argv.includes('--instructions') ? 'span-export-instructions' : 'span-export';
      publish(name, join(here, 'results', `${name}.json`), result, render);
    }
  } finally {
    sink.stop();
  }
}

function render(r) {
  if (r.method !== undefined) {
    return `${machineLine(r)} ${r.method}.\n\n${table(
      ['exporter', 'instructions / span', 'of which export'],
      r.rows.map((x) => [x.variant, x.per_span.toLocaleString('en-US'), x.variant === 'none' ? '' : `+${x.export_per_span.toLocaleString('en-US')}`]),
    )}`;
  }
  return `${machineLine(r)} Load average ${r.loadavg_end} at the end. ${r.rounds} interleaved rounds of ${r.spans_per_round.toLocaleString('en-US')} spans per exporter; CPU µs of the process per span (median, min–max over rounds); export = the row minus \`none\` in the same round.\n\n${table(
    ['exporter', 'CPU µs / span', 'of which export', 'wall µs / span', 'bytes / span', 'dropped'],
    r.rows.map((x) => [x.variant, `${x.cpu_us_per_span} (${x.cpu_min}–${x.cpu_max})`, x.variant === 'none' ? '' : `+${x.export_cpu_us_per_span}`, x.wall_us_per_span, x.variant === 'none' ? '' : x.bytes_per_span, x.dropped]),
  )}`;
}
