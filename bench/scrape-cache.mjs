import { HttpMetrics } from '../dist/metrics/http-metrics.js';
import { writeExpositionBytes } from '../dist/metrics/exposition.js';
import { ChunkPool, SCRAPE_POOL_BYTES } from '../dist/metrics/writer.js';
import { Registry } from '@prometheus-io/client';
const series = 10000;
const metrics = new HttpMetrics({ durationBuckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], sizeBuckets: [100, 1000, 10000, 100000, 1000000, 10000000], maxSeries: series, onFold: () => {} });
const registry = new Registry();
for (const m of metrics.metrics()) registry.registerMetric(m);
const scope = (i) => ({ req: null, res: null, method: 0, startTime: 0, route: `/api/r${i}/:id`, status: 200, duration: 0.003 + (i % 100) / 1000, bytes: 100 + i, traceId: undefined, sampled: false });
for (let i = 0; i < series; i++) { const s = scope(i); metrics.onStart(s); metrics.onEnd(s); }
const pool = new ChunkPool(SCRAPE_POOL_BYTES);
for (const changed of [0, 1000, 10000]) {
  const times = [];
  for (let k = 0; k < 9; k++) {
    for (let i = 0; i < changed; i++) { const s = scope((i * 7 + k) % series); metrics.onStart(s); metrics.onEnd(s); }
    const t = performance.now();
    const { chunks } = await writeExpositionBytes(registry, false, pool);
    times.push(performance.now() - t);
    pool.recycle(chunks);
  }
  times.sort((a, b) => a - b);
  console.log(`changed ${changed} of ${series}: serializer p50 ${times[4].toFixed(1)} ms, max ${times[8].toFixed(1)}`);
}
