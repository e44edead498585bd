import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Counter, Histogram } from '@prometheus-io/client';
import type { Registry } from '@prometheus-io/client';
import type { ResolvedMetricsOptions } from './options.js';
import { HttpMetrics } from './http-metrics.js';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, wantsOpenMetrics, writeExpositionBytes } from './exposition.js';
import { registerBuildInfo, registerRuntimeMetrics } from './runtime.js';
import { ChunkPool, SCRAPE_POOL_BYTES } from './writer.js';
import type { BuildInfo } from './runtime.js';

export { HttpMetrics, OVERFLOW_LABEL } from './http-metrics.js';
export { metricsConcern } from './concern.js';
export { metricsOtlpConcern } from './otlp.js';
export type { MetricsConcern } from './concern.js';
export { writeExposition, wantsOpenMetrics, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './exposition.js';
export type { ExpositionResult } from './exposition.js';
export { RENAMED_RUNTIME_GAUGES } from './runtime.js';
export { Registry } from '@prometheus-io/client';

export interface MetricsSubsystem {
  readonly registry: Registry;
  readonly http: HttpMetrics;
  /** Serves the exposition: GET or HEAD, 0.0.4 text or OpenMetrics by `Accept`. */
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export interface CreateMetricsInput {
  options: ResolvedMetricsOptions;
  /** The registry to fill (the `metrics.registry` option's, or a new one). */
  registry: Registry;
  build: BuildInfo;
  report: (error: unknown, where: string) => void;
}

/** Builds the registry, the request metrics and the scrape handler of one `instrument()` call. */
export function createMetrics({ options, registry, build, report }: CreateMetricsInput): MetricsSubsystem {
  const folded = new Counter({
    name: 'periscope_series_folded_total',
    help: 'Label sets folded into the overflow series because a metric reached its series cap.',
    labelNames: ['metric'],
    registers: [registry],
  });
  const http = new HttpMetrics({
    durationBuckets: options.durationBuckets,
    sizeBuckets: options.sizeBuckets,
    maxSeries: options.maxSeries,
    onFold: (metric) => folded.inc({ metric }),
  });
  for (const metric of http.metrics()) registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  const scrapes = new Counter({
    name: 'periscope_scrapes_total',
    help: 'Scrapes of the metrics endpoint served, by result (success, error).',
    labelNames: ['result'],
    registers: [registry],
  });
  const scrapeDuration = new Histogram({
    name: 'periscope_scrape_duration_seconds',
    help: 'Time taken to serve a scrape of the metrics endpoint.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  scrapes.inc({ result: 'success' }, 0);
  scrapes.inc({ result: 'error' }, 0);
  if (options.defaultMetrics) registerRuntimeMetrics(registry);
  registerBuildInfo(registry, build);

  const pool = new ChunkPool(SCRAPE_POOL_BYTES);

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method Not Allowed\n');
      return;
    }
    const start = performance.now();
    const openMetrics = wantsOpenMetrics(req.headers.accept);
    try {
      const { chunks, byteLength, errors } = await writeExpositionBytes(registry, openMetrics, pool);
      for (const { metric, error } of errors) report(error, `collect:${metric}`);
      scrapes.inc({ result: errors.length === 0 ? 'success' : 'error' });
      res.writeHead(200, {
        'content-type': openMetrics ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE,
        'content-length': byteLength,
        'cache-control': 'no-store',
      });
      if (req.method === 'HEAD') pool.recycle(chunks);
      else {
        // Corked, the headers and every chunk leave in one writev. The chunks go back to the
        // pool once sent; a response that never finishes leaves them to the GC.
        res.once('finish', () => pool.recycle(chunks));
        res.cork();
        for (const chunk of chunks) res.write(chunk);
        res.uncork();
      }
      res.end();
    } catch (error) {
      scrapes.inc({ result: 'error' });
      report(error, 'scrape');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics collection failed\n');
    } finally {
      scrapeDuration.observe((performance.now() - start) / 1000);
    }
  }

  return {
    registry,
    http,
    serve,
  };
}
