// The scrape serializer in process, at 10,000 label sets (22 MB of text): CPU time of the process
// (all threads, so gzip on the thread pool counts) per scrape when 0, 10, 1,000 or 10,000 label
// sets changed since the last one, for the body and for the body gzipped as serve() does it.
// CPU time, not wall time: on the shared machine other processes move wall time by 10x.
//
//   node bench/scrape-cache.mjs [--dist DIR] [--format text|openmetrics|protobuf] [--native]
//                               [--changed N] [--reps N] [--only plain|gzip]
//
// `--dist` loads another build (a copy of an older `dist/`) to compare; a build from before the
// block cache gzips the concatenated body in one call, as its serve() did. `--format` picks the
// exposition (text by default); `--native` keeps the duration as a native histogram too (schema
// 3), as Prometheus scraping protobuf for native histograms would see it. `--changed`, `--reps` and
// `--only` narrow the run to one case, for counting instructions under callgrind (two runs with
// different `--reps`; their difference over the difference in scrapes is one scrape).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzip } from 'node:zlib';
import { Registry } from '@prometheus-io/client';

const argv = process.argv.slice(2);
const dist = resolve(argv.includes('--dist') ? argv[argv.indexOf('--dist') + 1] : join(import.meta.dirname, '..', 'dist'));
const load = (file) => import(pathToFileURL(join(dist, 'metrics', file)).href);
const { HttpMetrics } = await load('http-metrics.js');
const { writeExpositionBytes } = await load('exposition.js');
const { writeProtobufBytes } = await load('exposition-protobuf.js');
const { ChunkPool, SCRAPE_POOL_BYTES } = await load('writer.js');
const parts = existsSync(join(dist, 'metrics', 'body.js')) ? await load('body.js') : undefined;

const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const format = option('--format', 'text');
if (!['text', 'openmetrics', 'protobuf'].includes(format)) throw new Error(`--format ${format}: text, openmetrics or protobuf`);
const native = argv.includes('--native') ? { schema: 3, maxBuckets: 160 } : undefined;

async function gzipBody(body) {
  if (parts !== undefined) return (await parts.gzipParts(body.parts ?? parts.partsOf(body.chunks))).byteLength;
  const whole = Buffer.concat(body.chunks, body.byteLength);
  return new Promise((ok, fail) => gzip(whole, { level: 1 }, (error, out) => (error ? fail(error) : ok(out.length))));
}

const series = 10000;
const reps = Number(option('--reps', '15'));
const only = option('--only', 'both');
const metrics = new HttpMetrics({ durationBuckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], sizeBuckets: [100, 1000, 10000, 100000, 1000000, 10000000], maxSeries: series, native, onFold: () => {} });
const registry = new Registry();
for (const m of metrics.metrics()) registry.registerMetric(m);
const scope = (i) => ({ req: null, res: null, method: 0, startTime: 0, route: `/api/r${i}/:id`, status: 200, duration: 0.003 + (i % 100) / 1000, bytes: 100 + i, traceId: undefined, sampled: false });
for (let i = 0; i < series; i++) {
  const s = scope(i);
  metrics.onStart(s);
  metrics.onEnd(s);
}
const pool = new ChunkPool(SCRAPE_POOL_BYTES);
const cpuMs = (since) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};
const p50 = (list) => (list.length === 0 ? '-' : [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)].toFixed(1));
let k = 0;
for (const changed of argv.includes('--changed') ? [Number(option('--changed'))] : [0, 10, 1000, 10000]) {
  const text = [];
  const zipped = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const into of only === 'plain' ? [text] : only === 'gzip' ? [zipped] : [text, zipped]) {
      k++;
      // Spread over the label sets, as requests to many routes would be.
      for (let i = 0; i < changed; i++) {
        const s = scope((i * 7 + k) % series);
        metrics.onStart(s);
        metrics.onEnd(s);
      }
      const start = process.cpuUsage();
      const body = format === 'protobuf' ? await writeProtobufBytes(registry) : await writeExpositionBytes(registry, format === 'openmetrics', pool);
      if (into === zipped) await gzipBody(body);
      into.push(cpuMs(start));
      pool.recycle(body.chunks);
    }
  }
  console.log(`changed ${changed} of ${series}: CPU per scrape p50 ${p50(text)} ms (${format}${native ? ', native' : ''}), ${p50(zipped)} ms (gzip)`);
}
