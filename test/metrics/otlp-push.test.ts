import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Summary, instrument } from '../../src/index.js';
import type { Periscope } from '../../src/index.js';
import { exponentialPoints, histogramPoints, seriesPoints } from '../../src/metrics/otlp.js';
import { HttpMetrics } from '../../src/metrics/http-metrics.js';
import { kHistogramSeries } from '../../src/symbols.js';
import { scrape, value } from '../helpers.js';
import { attributes, histogramCount, MetricsSink } from './otlp-sink.js';
import type { ReceivedExport } from './otlp-sink.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sink(port = 0): Promise<{ sink: MetricsSink; url: string }> {
  const s = new MetricsSink();
  const url = await s.start(port);
  cleanups.push(() => s.close());
  return { sink: s, url };
}

async function app(otlp: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<{ app: FastifyInstance; obs: Periscope; base: string }> {
  const a = Fastify();
  const obs = instrument(a, { serviceName: 'push-svc', version: '1.2.3', logging: false, tracing: false, shutdown: false, health: false, metrics: { otlp }, ...extra });
  a.get('/hello/:name', async () => 'hi');
  a.get('/fail', async (_req, reply) => reply.code(500).send('no'));
  const base = await a.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(async () => {
    await a.close();
    await obs.shutdown();
  });
  return { app: a, obs, base };
}

const duration = (e: ReceivedExport) => e.metrics.get('http.server.request.duration');

describe('OTLP metric push (metrics.otlp)', () => {
  it("pushes periscope's request metrics under their semantic-convention names, and a user counter under its own, to a real receiver", async () => {
    const { sink: s, url } = await sink();
    const { obs, base } = await app({ endpoint: url, intervalMs: 200 });
    const orders = new Counter({ name: 'orders_total', help: 'Orders placed.', labelNames: ['kind'], registers: [obs.registry] });
    orders.inc({ kind: 'book' }, 2);
    for (const path of ['/hello/a', '/hello/b', '/hello/c', '/fail']) await fetch(base + path);

    const first = await s.waitFor((e) => histogramCount(duration(e)) === 4);
    expect(first.contentType).toBe('application/x-protobuf');
    expect(first.resource).toMatchObject({ 'service.name': 'push-svc', 'service.version': '1.2.3' });

    const d = duration(first)!;
    expect(d.unit).toBe('s');
    expect(d.histogram!.aggregationTemporality).toBe(2); // CUMULATIVE
    const points = d.histogram!.dataPoints.map((p) => ({ attributes: attributes(p.attributes), count: Number(p.count) }));
    expect(points.sort((x, y) => Number(x.attributes['http.response.status_code']) - Number(y.attributes['http.response.status_code']))).toEqual([
      { attributes: { 'http.request.method': 'GET', 'http.route': '/hello/:name', 'http.response.status_code': 200 }, count: 3 },
      { attributes: { 'http.request.method': 'GET', 'http.route': '/fail', 'http.response.status_code': 500 }, count: 1 },
    ]);
    for (const p of d.histogram!.dataPoints) {
      expect(p.explicitBounds).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
      expect(p.bucketCounts!.length).toBe(12);
      expect(p.bucketCounts!.reduce((n: number, c) => n + Number(c), 0)).toBe(Number(p.count));
    }
    expect(first.metrics.get('http.server.response.body.size')?.unit).toBe('By');
    const active = first.metrics.get('http.server.active_requests')!;
    expect(active.sum!.isMonotonic ?? false).toBe(false);
    expect(active.sum!.dataPoints.map((p) => [attributes(p.attributes), p.asDouble ?? 0])).toEqual([[{ 'http.request.method': 'GET' }, 0]]);

    const user = first.metrics.get('orders_total')!;
    expect(user.sum!.isMonotonic).toBe(true);
    expect(user.sum!.aggregationTemporality).toBe(2);
    expect(user.sum!.dataPoints.map((p) => [attributes(p.attributes), p.asDouble])).toEqual([[{ kind: 'book' }, 2]]);
    // Metrics without a convention keep their Prometheus name and labels.
    expect(first.metrics.get('http_requests_total')!.sum!.dataPoints.length).toBe(2);

    // Cumulative: the next exports carry the totals so far, from the same start time.
    await fetch(`${base}/hello/d`);
    orders.inc({ kind: 'book' });
    const later = await s.waitFor((e) => histogramCount(duration(e)) === 5 && e.metrics.get('orders_total')!.sum!.dataPoints[0]!.asDouble === 3);
    const start = (e: ReceivedExport) => duration(e)!.histogram!.dataPoints[0]!.startTimeUnixNano;
    expect(start(later)).toBe(start(first));
  });

  it('counts failed exports while the collector is down, costs the requests nothing, and recovers when it returns', async () => {
    // A port nothing listens on yet.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const { base } = await app({ endpoint: `http://127.0.0.1:${port}`, intervalMs: 100, timeoutMs: 100 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${base}/hello/x${i}`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);

    let failures = 0;
    while (failures < 2) {
      failures = value((await scrape(base)).metrics, 'periscope_metric_exports_total', { result: 'failure' });
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(value((await scrape(base)).metrics, 'periscope_metric_exports_total', { result: 'success' })).toBe(0);

    // The collector comes back on the same port: the next export carries every request so far.
    const { sink: s } = await sink(port);
    const back = await s.waitFor((e) => histogramCount(duration(e)) >= 5);
    expect(histogramCount(duration(back))).toBe(5 + countScrapes(back));
    let successes = 0;
    while (successes < 1) {
      successes = value((await scrape(base)).metrics, 'periscope_metric_exports_total', { result: 'success' });
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(successes).toBeGreaterThanOrEqual(1);
  });

  it('sends a last export at shutdown, so the final requests leave the process', async () => {
    const { sink: s, url } = await sink();
    const { app: a, obs, base } = await app({ endpoint: url, intervalMs: 3_600_000 });
    await fetch(`${base}/hello/a`);
    await fetch(`${base}/hello/b`);
    expect(s.exports).toEqual([]);
    await a.close();
    await obs.shutdown();
    expect(s.exports.length).toBe(1);
    expect(histogramCount(duration(s.exports[0]!))).toBe(2);
  });

  it('speaks OTLP/JSON when asked, and reports a summary (which OTLP cannot carry) once instead of sending it', async () => {
    const { sink: s, url } = await sink();
    const warnings: { code?: string; message: string }[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push({ code: w.code, message: w.message });
    process.on('warning', onWarning);
    cleanups.push(async () => process.off('warning', onWarning));
    const { obs, base } = await app({ endpoint: url, intervalMs: 150, protocol: 'http/json' });
    new Summary({ name: 'job_seconds', help: 'Job time.', registers: [obs.registry] }).observe(1);
    await fetch(`${base}/hello/a`);
    await s.waitFor((x) => histogramCount(duration(x)) === 1);
    const e = await s.waitFor((x) => x !== s.exports[0] && histogramCount(duration(x)) === 1);
    expect(e.contentType).toBe('application/json');
    expect(e.metrics.has('job_seconds')).toBe(false);
    // Two exports, one notice (process warnings are emitted on the next tick).
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.code === 'PERISCOPE_METRICS_OTLP_SKIPPED')).toEqual([
      {
        code: 'PERISCOPE_METRICS_OTLP_SKIPPED',
        message: 'periscope: metric "job_seconds" (summary) is served on /metrics but not pushed over OTLP, which has no summary the SDK can send.',
      },
    ]);
  });
});

/** Requests the test's own scrapes added to the histogram (periscope counts /metrics too, when served on the app). */
function countScrapes(e: ReceivedExport): number {
  const points = duration(e)!.histogram!.dataPoints;
  return points.filter((p) => attributes(p.attributes)['http.route'] === '/metrics').reduce((n, p) => n + Number(p.count), 0);
}

describe('histogramPoints', () => {
  it('regroups cumulative Prometheus buckets into per-bucket OTLP counts, one point per label set', () => {
    const points = histogramPoints('t_seconds', [
      { value: 1, labels: { a: 'x', le: '0.1' }, metricName: 't_seconds_bucket' },
      { value: 3, labels: { a: 'x', le: '1' }, metricName: 't_seconds_bucket' },
      { value: 4, labels: { a: 'x', le: '+Inf' }, metricName: 't_seconds_bucket' },
      { value: 2.5, labels: { a: 'x' }, metricName: 't_seconds_sum' },
      { value: 4, labels: { a: 'x' }, metricName: 't_seconds_count' },
      { value: 0, labels: { a: 'y', le: '0.1' }, metricName: 't_seconds_bucket' },
      { value: 0, labels: { a: 'y', le: '1' }, metricName: 't_seconds_bucket' },
      { value: 2, labels: { a: 'y', le: '+Inf' }, metricName: 't_seconds_bucket' },
      { value: 30, labels: { a: 'y' }, metricName: 't_seconds_sum' },
      { value: 2, labels: { a: 'y' }, metricName: 't_seconds_count' },
    ]);
    expect(points).toEqual([
      { labels: { a: 'x' }, value: { buckets: { boundaries: [0.1, 1], counts: [1, 2, 1] }, sum: 2.5, count: 4 } },
      { labels: { a: 'y' }, value: { buckets: { boundaries: [0.1, 1], counts: [0, 0, 2] }, sum: 30, count: 2 } },
    ]);
  });
});

describe('native histograms over OTLP', () => {
  it('push the request duration as an exponential histogram at the native schema, offset one down', async () => {
    const { sink: s, url } = await sink();
    const { base } = await app({ endpoint: url, intervalMs: 200 }, { metrics: { otlp: { endpoint: url, intervalMs: 200 }, nativeHistograms: { schema: 2 } } });
    for (const path of ['/hello/a', '/hello/b', '/hello/c']) await fetch(base + path);
    const e = await s.waitFor((x) => Number(x.metrics.get('http.server.request.duration')?.exponentialHistogram?.dataPoints[0]?.count ?? 0) === 3);
    const d = e.metrics.get('http.server.request.duration')!;
    expect(d.histogram).toBeUndefined();
    expect(d.exponentialHistogram!.aggregationTemporality).toBe(2);
    const p = d.exponentialHistogram!.dataPoints[0]!;
    expect(attributes(p.attributes)).toEqual({ 'http.request.method': 'GET', 'http.route': '/hello/:name', 'http.response.status_code': 200 });
    expect(p.scale).toBe(2);
    const counts = (p.positive!.bucketCounts ?? []).map(Number);
    expect(counts.reduce((a, b) => a + b, 0) + Number(p.zeroCount ?? 0)).toBe(3);
    // The response size stays an explicit-bucket histogram.
    expect(e.metrics.get('http.server.response.body.size')!.histogram!.dataPoints.length).toBe(1);
  });

  it('put each value in the OTLP bucket (base^i, base^(i+1)] that holds it', () => {
    const http = new HttpMetrics({ durationBuckets: [1], sizeBuckets: [100], maxSeries: 10, onFold: () => {}, native: { schema: 2, maxBuckets: 160 } });
    for (const duration of [0.1, 0.1, 0.3, 0]) {
      const scope = { method: 0, route: '/r', status: 200, duration, bytes: 1, sampled: false } as never;
      http.onStart(scope);
      http.onEnd(scope);
    }
    const [point] = exponentialPoints(http.metrics()[1]![kHistogramSeries]!());
    // 0.1: 2^(-14/4) = 0.0884 < 0.1 <= 2^(-13/4) = 0.1051, so OTLP index -14; 0.3: 2^(-7/4) = 0.297 < 0.3 <= 0.354, index -7.
    expect(point!.value).toEqual({
      count: 4,
      sum: 0.5,
      scale: 2,
      zeroCount: 1,
      positive: { offset: -14, bucketCounts: [2, 0, 0, 0, 0, 0, 0, 1] },
      negative: { offset: 0, bucketCounts: [] },
    });
  });
});

describe("periscope's own histograms", () => {
  it('give the same OTLP points read directly as through their Prometheus samples', async () => {
    const http = new HttpMetrics({ durationBuckets: [0.01, 0.1, 1], sizeBuckets: [100, 1000], maxSeries: 10, onFold: () => {} });
    const requests = [
      { route: '/a', status: 200, duration: 0.005, bytes: 50 },
      { route: '/a', status: 200, duration: 0.5, bytes: 500 },
      { route: '/a', status: 500, duration: 3, bytes: 5000 },
      { route: '/b/:id', status: 200, duration: 0.05, bytes: 150 },
    ];
    for (const r of requests) {
      const scope = { method: 0, sampled: false, traceId: undefined, ...r } as never;
      http.onStart(scope);
      http.onEnd(scope);
    }
    for (const metric of http.metrics().filter((m) => m.type === 'histogram')) {
      const viaSamples = histogramPoints(metric.name, (await metric.get()).values);
      expect(seriesPoints(metric[kHistogramSeries]!())).toEqual(viaSamples);
    }
    const duration = http.metrics()[1]!;
    expect(seriesPoints(duration[kHistogramSeries]!()).map((p) => [p.labels.route, p.labels.status_code, p.value.buckets.counts])).toEqual([
      ['/a', '200', [1, 0, 1, 0]],
      ['/a', '500', [0, 0, 0, 1]],
      ['/b/:id', '200', [0, 1, 0, 0]],
    ]);
  });
});

describe('metrics.otlp options', () => {
  it.each([
    [{ intervalMs: 50 }, 'metrics.otlp.intervalMs', 'an integer from 100 to 3600000 (milliseconds)'],
    [{ intervalMs: 1000, timeoutMs: 2000 }, 'metrics.otlp.timeoutMs', 'at most metrics.otlp.intervalMs (1000)'],
    [{ endpoint: 'collector:4318' }, 'metrics.otlp.endpoint', 'an http:// or https:// URL'],
    [{ protocol: 'grpc' }, 'metrics.otlp.protocol', "'http/protobuf' or 'http/json'"],
  ])('%j is refused, naming %s and what it allows', (otlp, option, allowed) => {
    let error: { code?: string; message?: string } = {};
    try {
      instrument(Fastify(), { metrics: { otlp } as never, logging: false, tracing: false, shutdown: false, health: false });
    } catch (e) {
      error = e as typeof error;
    }
    expect(error.code).toBe('PERISCOPE_ERR_INVALID_OPTION');
    expect(error.message).toContain(option);
    expect(error.message).toContain(allowed);
  });

  it('refuses an unknown key, listing the known ones', () => {
    expect(() => instrument(Fastify(), { metrics: { otlp: { url: 'http://x' } } as never, logging: false })).toThrow(
      'metrics.otlp.endpoint, metrics.otlp.protocol, metrics.otlp.intervalMs, metrics.otlp.timeoutMs, metrics.otlp.headers, metrics.otlp.compression',
    );
  });
});
