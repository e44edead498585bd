// CPU cost of one OTLP metric push (metrics.otlp) at 10,000 label sets of the request metrics:
// the registry read into the SDK's data model (RegistryProducer.collect), and the whole export
// (collect, protobuf encoding and the HTTP request to a local sink that answers 200), in process.
// Nothing of this runs on the request path: it runs once per interval (default 60 s).
//
//   node bench/otlp-push.mjs [--series N] [--reps N]
//
// Prints one JSON line per measure: CPU ms per push (median, min–max), and the body size.
import { createServer } from 'node:http';
import { Registry } from '@prometheus-io/client';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { HttpMetrics } from '../dist/metrics/http-metrics.js';
import { RegistryProducer } from '../dist/metrics/otlp.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const SERIES = arg('--series', 10_000);
const REPS = arg('--reps', 9);

const http = new HttpMetrics({
  durationBuckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  sizeBuckets: [100, 1000, 10000, 100000, 1000000, 10000000],
  maxSeries: SERIES,
  onFold: () => {},
});
const registry = new Registry();
for (const m of http.metrics()) registry.registerMetric(m);
for (let i = 0; i < SERIES; i++) {
  const scope = { method: 0, route: `/r${i}/:id`, status: 200, duration: (i % 100) / 1000, bytes: 100 + i, sampled: false, traceId: undefined };
  http.onStart(scope);
  http.onEnd(scope);
}

let bytes = 0;
const sink = createServer((req, res) => {
  req.on('data', (c) => (bytes += c.length));
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${sink.address().port}/v1/metrics`;

const producer = new RegistryProducer(registry, resourceFromAttributes({ 'service.name': 'bench' }), () => {});
const exporter = new OTLPMetricExporter({ url, timeoutMillis: 30_000 });

const cpuMs = async (fn) => {
  const start = process.cpuUsage();
  await fn();
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
};
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: +s[Math.floor(s.length / 2)].toFixed(1), min: +s[0].toFixed(1), max: +s.at(-1).toFixed(1) };
};

const collect = [];
const push = [];
for (let i = 0; i < REPS + 1; i++) {
  const c = await cpuMs(() => producer.collect());
  bytes = 0;
  const p = await cpuMs(async () => {
    const { resourceMetrics } = await producer.collect();
    await new Promise((resolve) => exporter.export(resourceMetrics, resolve));
  });
  // The first round warms the JIT up and is not counted.
  if (i > 0) {
    collect.push(c);
    push.push(p);
  }
}
console.log(JSON.stringify({ series: SERIES, points: SERIES * 3, measure: 'collect (registry -> SDK data)', cpu_ms: stats(collect) }));
console.log(JSON.stringify({ series: SERIES, points: SERIES * 3, measure: 'push (collect + protobuf + HTTP)', cpu_ms: stats(push), body_bytes: bytes }));
await exporter.shutdown();
sink.close();
