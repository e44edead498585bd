// Per-request recording cost and scrape serialization cost of the two Prometheus
// clients against periscope's own HttpMetrics. Each case runs in its own child
// process (so one case's inline caches and heap never colour another's), and the
// cases are repeated in interleaved rounds; the median over rounds is reported.
//
//   node bench/client-compare.mjs [--rounds N] [--quick] [--render]
//
// Writes bench/results/client-compare.json. Imports periscope from dist/ (build first;
// `npm run bench` does).
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLine, machineMeta, publish, rerender, table } from './lib/readme.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SIZE_BUCKETS = [100, 1000, 10000, 100000, 1000000, 10000000];
const LABEL_NAMES = ['method', 'route', 'status_code'];

/** Label sets a service sees in steady state: 20 routes x (200, 404, 500) x (GET, POST). */
function steadyLabelSets() {
  const out = [];
  for (let r = 0; r < 20; r++) {
    for (const method of ['GET', 'POST']) for (const status of [200, 404, 500]) out.push({ method, route: `/api/r${r}/:id`, status });
  }
  return out;
}

/** A fixed pseudo-random stream of (label set, duration, bytes), the same for every case. */
function requestStream(n) {
  let x = 0x9e3779b9;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const sets = steadyLabelSets();
  const stream = [];
  for (let i = 0; i < n; i++) {
    // Skewed like real traffic: most sets are hot, durations mostly a few ms.
    const set = sets[Math.floor(rand() * rand() * sets.length)];
    stream.push({ ...set, duration: 0.0005 + rand() * rand() * 0.2, bytes: Math.floor(20 + rand() * 4000) });
  }
  return stream;
}

const STREAM_LENGTH = 4096;

async function recordingCase(name) {
  const { measure, do_not_optimize } = await import('mitata');
  const stream = requestStream(STREAM_LENGTH);
  let record;

  if (name === 'prom-client' || name === 'prom-client-uncached' || name === '@prometheus-io/client' || name === '@prometheus-io/client-uncached') {
    const client = name.startsWith('prom-client') ? await import('prom-client') : await import('@prometheus-io/client');
    const { Registry, Counter, Histogram } = client.default ?? client;
    const registry = new Registry();
    const requests = new Counter({ name: 'http_requests_total', help: 'h', labelNames: LABEL_NAMES, registers: [registry] });
    const duration = new Histogram({ name: 'http_request_duration_seconds', help: 'h', labelNames: LABEL_NAMES, buckets: DURATION_BUCKETS, registers: [registry] });
    const size = new Histogram({ name: 'http_response_size_bytes', help: 'h', labelNames: LABEL_NAMES, buckets: SIZE_BUCKETS, registers: [registry] });
    if (name.endsWith('-uncached')) {
      // What most middleware does: a labels object per request, hashed by the client.
      record = (r) => {
        const labels = { method: r.method, route: r.route, status_code: r.status };
        requests.inc(labels);
        duration.observe(labels, r.duration);
        size.observe(labels, r.bytes);
      };
    } else {
      // The client's fastest path: `.labels()` children looked up once and cached per label set.
      const cache = new Map();
      for (const r of stream) {
        const key = `${r.method} ${r.route} ${r.status}`;
        if (!cache.has(key)) {
          cache.set(key, {
            c: requests.labels(r.method, r.route, String(r.status)),
            d: duration.labels(r.method, r.route, String(r.status)),
            s: size.labels(r.method, r.route, String(r.status)),
          });
        }
        r.children = cache.get(key);
      }
      record = (r) => {
        const ch = r.children;
        ch.c.inc();
        ch.d.observe(r.duration);
        ch.s.observe(r.bytes);
      };
    }
  } else if (name === 'periscope' || name === 'periscope-native') {
    const { HttpMetrics } = await import(join(root, 'dist/metrics/http-metrics.js'));
    const { methodIndex } = await import(join(root, 'dist/core/methods.js'));
    // periscope-native: metrics.nativeHistograms on (client_golang's defaults).
    const native = name === 'periscope-native' ? { schema: 3, maxBuckets: 160 } : undefined;
    const metrics = new HttpMetrics({ durationBuckets: DURATION_BUCKETS, sizeBuckets: SIZE_BUCKETS, maxSeries: 2000, onFold: () => {}, native });
    // Fake RequestScope objects with every field of the core's Scope (a missing field would
    // give onEnd() a different object shape than in a server).
    for (const r of stream) {
      r.scope = { req: null, res: null, method: methodIndex(r.method), startTime: 0, route: r.route, status: r.status, duration: r.duration, bytes: r.bytes, traceId: undefined, sampled: false };
    }
    record = (r) => {
      metrics.onStart(r.scope);
      metrics.onEnd(r.scope);
    };
  } else if (name === 'periscope-core' || name === 'baseline-response') {
    // The whole per-request path of the core with metrics: Core.start() (scope, 'close'
    // listener, onStart hooks) and, on the response's 'close', Core.end() (duration, status,
    // bytes, onEnd hooks). The response is a bare EventEmitter with the fields the core
    // reads; 'baseline-response' is the same emitter work with a no-op listener, to subtract.
    const { EventEmitter } = await import('node:events');
    const { Core } = await import(join(root, 'dist/core/index.js'));
    const { HttpMetrics } = await import(join(root, 'dist/metrics/http-metrics.js'));
    const metrics = new HttpMetrics({ durationBuckets: DURATION_BUCKETS, sizeBuckets: SIZE_BUCKETS, maxSeries: 2000, onFold: () => {} });
    const core = new Core({ hooks: [metrics], report: (error) => { throw error; } });
    const socket = { bytesWritten: 0 };
    const headers = { 'content-length': 17 };
    class FakeResponse extends EventEmitter {
      headersSent = true;
      statusCode = 200;
      writableFinished = true;
      getHeader(key) {
        return headers[key];
      }
    }
    for (const r of stream) r.req = { method: r.method, socket };
    const noop = () => {};
    record =
      name === 'periscope-core'
        ? (r) => {
            const res = new FakeResponse();
            res.statusCode = r.status;
            core.start(r.req, res, r.route);
            res.emit('close');
          }
        : (r) => {
            const res = new FakeResponse();
            res.statusCode = r.status;
            res.on('close', noop);
            res.emit('close');
          };
  } else {
    throw new Error(`unknown recording case ${name}`);
  }

  const { getHeapStatistics } = await import('node:v8');
  let i = 0;
  const stats = await measure(() => {
    const r = stream[i++ & (STREAM_LENGTH - 1)];
    record(r);
    do_not_optimize(r);
  }, {
    min_cpu_time: 500 * 1e6,
    // Heap growth per call, sampled around batches; garbage collections make it a rough figure.
    heap: () => {
      const h = getHeapStatistics();
      return h.used_heap_size + h.malloced_memory;
    },
  });
  return { avg_ns: stats.avg, p50_ns: stats.p50, p99_ns: stats.p99, heap_bytes: stats.heap?.avg ?? null };
}

async function scrapeCase(name, series) {
  const { measure } = await import('mitata');
  let scrape;
  if (name === 'prom-client' || name === '@prometheus-io/client') {
    const client = name === 'prom-client' ? await import('prom-client') : await import('@prometheus-io/client');
    const { Registry, Counter, Histogram } = client.default ?? client;
    const registry = new Registry();
    const requests = new Counter({ name: 'http_requests_total', help: 'h', labelNames: LABEL_NAMES, registers: [registry] });
    const duration = new Histogram({ name: 'http_request_duration_seconds', help: 'h', labelNames: LABEL_NAMES, buckets: DURATION_BUCKETS, registers: [registry] });
    const size = new Histogram({ name: 'http_response_size_bytes', help: 'h', labelNames: LABEL_NAMES, buckets: SIZE_BUCKETS, registers: [registry] });
    for (let i = 0; i < series; i++) {
      const labels = { method: 'GET', route: `/api/r${i}/:id`, status_code: '200' };
      requests.inc(labels);
      duration.observe(labels, 0.003 + (i % 100) / 1000);
      size.observe(labels, 100 + i);
    }
    scrape = () => registry.metrics();
  } else if (name === 'periscope' || name === 'periscope-via-client-get') {
    const { HttpMetrics } = await import(join(root, 'dist/metrics/http-metrics.js'));
    const { writeExpositionBytes } = await import(join(root, 'dist/metrics/exposition.js'));
    const { ChunkPool, SCRAPE_POOL_BYTES } = await import(join(root, 'dist/metrics/writer.js'));
    const { Registry } = await import('@prometheus-io/client');
    const metrics = new HttpMetrics({ durationBuckets: DURATION_BUCKETS, sizeBuckets: SIZE_BUCKETS, maxSeries: series, onFold: () => {} });
    const registry = new Registry();
    for (const m of metrics.metrics()) registry.registerMetric(m);
    for (let i = 0; i < series; i++) {
      const scope = { req: null, res: null, method: 0, startTime: 0, route: `/api/r${i}/:id`, status: 200, duration: 0.003 + (i % 100) / 1000, bytes: 100 + i, traceId: undefined, sampled: false };
      metrics.onStart(scope);
      metrics.onEnd(scope);
    }
    if (metrics.seriesCount !== series) throw new Error(`periscope holds ${metrics.seriesCount} series, wanted ${series}`);
    // periscope's own writer (the UTF-8 chunks /metrics sends, from a chunk pool as serve() uses,
    // given back after each scrape as serve() does once sent), or the client's registry.metrics()
    // reading periscope's get().
    const pool = new ChunkPool(SCRAPE_POOL_BYTES);
    scrape =
      name === 'periscope'
        ? async () => {
            const { chunks } = await writeExpositionBytes(registry, false, pool);
            pool.recycle(chunks);
            return chunks;
          }
        : () => registry.metrics();
  } else {
    throw new Error(`unknown scrape case ${name}`);
  }
  const first = await scrape();
  // (periscope's chunks are back in the pool, but unchanged until the next scrape.)
  const body = Array.isArray(first) ? Buffer.concat(first).toString('utf8') : first;
  const stats = await measure(async () => {
    await scrape();
  }, { min_cpu_time: 1000 * 1e6, min_samples: 8 });
  return { avg_ms: stats.avg / 1e6, p50_ms: stats.p50 / 1e6, p99_ms: stats.p99 / 1e6, bytes: Buffer.byteLength(body), samples: body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length };
}

const RECORDING = ['prom-client', '@prometheus-io/client', 'periscope', 'periscope-native', 'prom-client-uncached', '@prometheus-io/client-uncached', 'periscope-core', 'baseline-response'];
const SCRAPE = ['prom-client', '@prometheus-io/client', 'periscope', 'periscope-via-client-get'];

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function runChild(kind, name, series) {
  const args = [fileURLToPath(import.meta.url), '--child', kind, name, String(series ?? 0)];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${kind} ${name} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    const [, kind, name, series] = argv;
    const result = kind === 'record' ? await recordingCase(name) : await scrapeCase(name, Number(series));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  if (argv.includes('--render')) {
    // Rewrites the README table from the last results without measuring again.
    rerender('client-compare', join(here, 'results', 'client-compare.json'), render);
    return;
  }
  const meta = machineMeta();
  const quick = argv.includes('--quick');
  const roundsAt = argv.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(argv[roundsAt + 1]) : quick ? 1 : 3;
  // 10,000 label sets is 240,000 exposition samples (a counter and two histograms);
  // 417 label sets is about 10,000 samples. Both readings of "10,000 series" are measured.
  const seriesList = [417, 10_000];

  const rec = Object.fromEntries(RECORDING.map((n) => [n, []]));
  const scr = {};
  for (const s of seriesList) for (const n of SCRAPE) scr[`${n}@${s}`] = [];
  for (let round = 0; round < rounds; round++) {
    for (const n of RECORDING) {
      rec[n].push(runChild('record', n));
      process.stderr.write(`round ${round + 1} record ${n}: ${rec[n].at(-1).avg_ns.toFixed(1)} ns\n`);
    }
    for (const s of seriesList) {
      for (const n of SCRAPE) {
        scr[`${n}@${s}`].push(runChild('scrape', n, s));
        process.stderr.write(`round ${round + 1} scrape ${n} ${s}: ${scr[`${n}@${s}`].at(-1).p50_ms.toFixed(2)} ms\n`);
      }
    }
  }

  const versions = {};
  for (const p of ['prom-client', '@prometheus-io/client', 'mitata']) {
    versions[p] = JSON.parse(execFileSync(process.execPath, ['-p', `JSON.stringify(require('${p}/package.json').version)`], { cwd: root, encoding: 'utf8' }));
  }
  const result = {
    ...meta,
    versions,
    rounds,
    method: 'mitata measure(); each case in its own process; median over interleaved rounds',
    recording: RECORDING.map((n) => ({
      name: n,
      what: n.endsWith('-uncached')
        ? 'Counter.inc(labels) + Histogram.observe(labels, v) x2 with a labels object per request'
        : n === 'periscope'
          ? 'HttpMetrics.onStart(scope) + onEnd(scope) on a fake RequestScope'
          : n === 'periscope-native'
            ? 'the same with metrics.nativeHistograms on (schema 3, 160 buckets)'
          : n === 'periscope-core'
            ? "Core.start() + the response's 'close' -> Core.end(), metrics hook, on a fake response"
            : n === 'baseline-response'
              ? "the fake response alone: create, on('close', noop), emit('close') (subtract from periscope-core)"
              : 'Counter.inc() + Histogram.observe(v) x2 on cached .labels() children',
      ns_per_request: +median(rec[n].map((r) => r.avg_ns)).toFixed(1),
      p50_ns: +median(rec[n].map((r) => r.p50_ns)).toFixed(1),
      p99_ns: +median(rec[n].map((r) => r.p99_ns)).toFixed(1),
      approx_heap_bytes_per_request: rec[n][0].heap_bytes === null ? null : Math.round(median(rec[n].map((r) => r.heap_bytes))),
    })),
    scrape: Object.entries(scr).map(([key, runs]) => {
      const at = key.lastIndexOf('@');
      const name = key.slice(0, at);
      return {
        name,
        label_sets: Number(key.slice(at + 1)),
        what: name === 'periscope' ? 'writeExpositionBytes(registry, pool) over HttpMetrics, UTF-8 Buffers' : name === 'periscope-via-client-get' ? "@prometheus-io/client registry.metrics() reading HttpMetrics' get()" : 'registry.metrics()',
        p50_ms: +median(runs.map((r) => r.p50_ms)).toFixed(2),
        avg_ms: +median(runs.map((r) => r.avg_ms)).toFixed(2),
        p99_ms: +median(runs.map((r) => r.p99_ms)).toFixed(2),
        bytes: runs[0].bytes,
        samples: runs[0].samples,
      };
    }),
  };
  publish('client-compare', join(here, 'results', 'client-compare.json'), result, render);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

function render(r) {
  const rec = table(
    ['recording path', 'ns / request (mean)', 'p50 ns', 'p99 ns', '~heap bytes / request'],
    r.recording.map((x) => [`${x.name}: ${x.what}`, x.ns_per_request, x.p50_ns, x.p99_ns, x.approx_heap_bytes_per_request ?? '']),
  );
  const scr = table(
    ['serializer', 'label sets', 'samples', 'p50 ms', 'mean ms', 'p99 ms', 'MB'],
    r.scrape.map((x) => [`${x.name}: ${x.what}`, x.label_sets, x.samples, x.p50_ms, x.avg_ms, x.p99_ms, (x.bytes / 1e6).toFixed(2)]),
  );
  const v = Object.entries(r.versions).map(([k, ver]) => `${k} ${ver}`).join(', ');
  return `${machineLine(r)} ${v}; median of ${r.rounds} interleaved rounds, each case in its own process.\n\n${rec}\n\n${scr}`;
}

await main();
