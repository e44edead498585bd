import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Counter, Histogram } from '@prometheus-io/client';
import type { Registry } from '@prometheus-io/client';
import type { ResolvedMetricsOptions } from './options.js';
import { HttpMetrics } from './http-metrics.js';
import { acceptsGzip, negotiateFormat, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, writeExpositionBytes } from './exposition.js';
import type { ExpositionBytes, ExpositionFormat } from './exposition.js';
import { writeProtobufBytes } from './exposition-protobuf.js';
import { PROTOBUF_CONTENT_TYPE } from './protobuf.js';
import { registerBuildInfo, registerRuntimeMetrics } from './runtime.js';
import { ChunkPool, SCRAPE_POOL_BYTES } from './writer.js';
import { zeroedCounter } from '../core/index.js';
import { gzipParts, partsOf } from './body.js';
import type { BuildInfo } from './runtime.js';

export { HttpMetrics, OVERFLOW_LABEL } from './http-metrics.js';
export { metricsConcern } from './concern.js';
export { metricsOtlpConcern } from './otlp.js';
export type { MetricsConcern } from './concern.js';
export { writeExposition, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './exposition.js';
export type { ExpositionResult } from './exposition.js';
export { RENAMED_RUNTIME_GAUGES, registerRuntimeMetrics } from './runtime.js';
export { snapshotRegistry } from './snapshot.js';
export { Registry } from '@prometheus-io/client';

export interface MetricsSubsystem {
  readonly registry: Registry;
  readonly http: HttpMetrics;
  /** Serves the exposition: GET or HEAD; protobuf, OpenMetrics or 0.0.4 text by `Accept`; gzip by `Accept-Encoding`. */
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export interface CreateMetricsInput {
  options: ResolvedMetricsOptions;
  /** The registry to fill (the `metrics.registry` option's, or a new one). */
  registry: Registry;
  build: BuildInfo;
  report: (error: unknown, where: string) => void;
}

const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  protobuf: PROTOBUF_CONTENT_TYPE,
  openmetrics: OPENMETRICS_CONTENT_TYPE,
  text: PROMETHEUS_CONTENT_TYPE,
};

/** Builds the registry, the request metrics and the scrape handler of one `instrument()` call. */
export function createMetrics({ options, registry, build, report }: CreateMetricsInput): MetricsSubsystem {
  const folded = new Counter({
    name: 'periscope_series_folded_total',
    help: 'Requests recorded in the overflow series because their label set was past the metric series cap.',
    labelNames: ['metric'],
    registers: [registry],
  });
  const http = new HttpMetrics({
    durationBuckets: options.durationBuckets,
    sizeBuckets: options.sizeBuckets,
    maxSeries: options.maxSeries,
    native: options.nativeHistograms === false ? undefined : options.nativeHistograms,
    onFold: (metric) => folded.inc({ metric }),
  });
  for (const metric of http.metrics()) registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  const scrapes = zeroedCounter(registry, 'periscope_scrapes_total', 'Scrapes of the metrics endpoint served, by result (success, error).', 'result', ['success', 'error']);
  const scrapeDuration = new Histogram({
    name: 'periscope_scrape_duration_seconds',
    help: 'Time taken to serve a scrape of the metrics endpoint.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  if (options.defaultMetrics) registerRuntimeMetrics(registry);
  registerBuildInfo(registry, build);

  const pool = new ChunkPool(SCRAPE_POOL_BYTES);

  function body(format: ExpositionFormat): Promise<ExpositionBytes> {
    return format === 'protobuf' ? writeProtobufBytes(registry) : writeExpositionBytes(registry, format === 'openmetrics', pool);
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method Not Allowed\n');
      return;
    }
    const start = performance.now();
    const format = negotiateFormat(req.headers.accept);
    try {
      const collected = await body(format);
      const errors = collected.errors;
      let { chunks, byteLength } = collected;
      for (const { metric, error } of errors) report(error, `collect:${metric}`);
      scrapes.inc({ result: errors.length === 0 ? 'success' : 'error' });
      const headers: Record<string, string | number> = {
        'content-type': CONTENT_TYPES[format],
        'cache-control': 'no-store',
        vary: 'Accept, Accept-Encoding',
      };
      if (acceptsGzip(req.headers['accept-encoding'])) {
        // Only parts not kept compressed from an earlier scrape are compressed; the pool's chunks
        // go back once they are.
        const zipped = await gzipParts(collected.parts ?? partsOf(chunks));
        pool.recycle(chunks);
        chunks = zipped.chunks;
        byteLength = zipped.byteLength;
        headers['content-encoding'] = 'gzip';
      }
      headers['content-length'] = byteLength;
      res.writeHead(200, headers);
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
