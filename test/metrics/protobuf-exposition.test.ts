import { get } from 'node:http';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Summary, instrument } from '../../src/index.js';
import type { Periscope } from '../../src/index.js';
import { acceptsGzip, negotiateFormat } from '../../src/metrics/exposition.js';
import { HttpMetrics } from '../../src/metrics/http-metrics.js';
import { bucketIndexOf } from '../../src/metrics/native-histogram.js';
import { parseExposition } from '../helpers.js';
import { decode, labelsOf, loadMetricsProto, nativeBuckets } from './proto-decode.js';

const PROTOBUF_ACCEPT = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1';

beforeAll(loadMetricsProto);

function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function app(metrics: Record<string, unknown> = {}): Promise<{ obs: Periscope; base: string }> {
  const a = Fastify();
  const obs = instrument(a, { serviceName: 'proto-svc', logging: false, tracing: false, shutdown: false, health: false, metrics });
  a.get('/users/:id', async () => 'ok');
  a.get('/fail', async (_req, reply) => reply.code(503).send('no'));
  const base = await a.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(async () => {
    await a.close();
    await obs.shutdown();
  });
  return { obs, base };
}

function userMetrics(obs: Periscope): void {
  new Counter({ name: 'orders_total', help: 'Orders placed.', labelNames: ['kind'], registers: [obs.registry] }).inc({ kind: 'book' }, 3);
  new Gauge({ name: 'queue_depth', help: 'Jobs waiting.', registers: [obs.registry] }).set(7);
  const h = new Histogram({ name: 'job_seconds', help: 'Job time.', labelNames: ['queue'], buckets: [0.1, 1], registers: [obs.registry] });
  h.observe({ queue: 'a' }, 0.05);
  h.observe({ queue: 'a' }, 0.5);
  h.observe({ queue: 'b' }, 5);
  const s = new Summary({ name: 'payload_bytes', help: 'Payload size.', percentiles: [0.5, 0.9], registers: [obs.registry] });
  for (const v of [10, 20, 30, 40]) s.observe(v);
}

describe('the protobuf exposition', () => {
  it('is served when Accept asks for it, decodes with metrics.proto, and its counts equal the text format’s, user metrics included', async () => {
    const { obs, base } = await app({ nativeHistograms: true });
    userMetrics(obs);
    for (const path of ['/users/1', '/users/2', '/users/3', '/fail']) await fetch(base + path);

    const res = await fetch(`${base}/metrics`, { headers: { accept: PROTOBUF_ACCEPT, 'accept-encoding': 'identity' } });
    expect(res.headers.get('content-type')).toBe('application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited');
    expect(res.headers.get('vary')).toBe('Accept, Accept-Encoding');
    const families = decode(new Uint8Array(await res.arrayBuffer()));
    const text = await parseExposition(await (await fetch(`${base}/metrics`)).text());

    // Counters and gauges: one metric per label set, the same values.
    for (const name of ['http_requests_total', 'orders_total', 'queue_depth', 'app_build_info']) {
      const fromText = text[name]!.data.map((d) => [d.labels, d.value]);
      const fromProto = families.get(name)!.metric.map((m) => [labelsOf(m), (m.counter ?? m.gauge)!.value]);
      expect(fromProto).toEqual(fromText);
    }
    expect(families.get('orders_total')!.type).toBe(0); // COUNTER
    expect(families.get('queue_depth')!.type).toBe(1); // GAUGE

    // Histograms, periscope's and the user's: the classic buckets are all there, cumulative.
    for (const name of ['http_request_duration_seconds', 'http_response_size_bytes', 'job_seconds']) {
      const family = families.get(name)!;
      expect(family.type).toBe(4); // HISTOGRAM
      const fromProto = family.metric.map((m) => ({
        labels: labelsOf(m),
        count: m.histogram!.sampleCount,
        sum: m.histogram!.sampleSum,
        buckets: Object.fromEntries(m.histogram!.bucket.map((b) => [b.upperBound === Infinity ? '+Inf' : String(b.upperBound), b.cumulativeCount])),
      }));
      const fromText = text[name]!.data.map((d) => ({ labels: d.labels, count: d.count, sum: d.sum, buckets: d.buckets }));
      expect(fromProto).toEqual(fromText);
    }
    expect(families.get('job_seconds')!.metric.map((m) => m.histogram!.bucket.map((b) => b.cumulativeCount))).toEqual([
      [1, 2, 2],
      [0, 0, 1],
    ]);

    // A summary keeps its quantiles, count and sum.
    const summary = families.get('payload_bytes')!;
    expect(summary.type).toBe(2); // SUMMARY
    expect(summary.metric).toHaveLength(1);
    expect(summary.metric[0]!.summary!.sampleCount).toBe(4);
    expect(summary.metric[0]!.summary!.sampleSum).toBe(100);
    expect(summary.metric[0]!.summary!.quantile.map((q) => q.quantile)).toEqual([0.5, 0.9]);

    // The request duration carries its native histogram beside the classic buckets; the size does not.
    const users = families.get('http_request_duration_seconds')!.metric.find((m) => labelsOf(m).route === '/users/:id')!.histogram!;
    expect(users.schema).toBe(3);
    expect(users.zeroThreshold).toBe(2 ** -128);
    const native = nativeBuckets(users);
    expect([...native.values()].reduce((a, b) => a + b, 0)).toBe(3);
    expect(families.get('http_response_size_bytes')!.metric[0]!.histogram!.positiveSpan).toEqual([]);
  });

  it('writes native buckets at the index client_golang would, halves the resolution past maxBuckets, and carries exemplars with their time', async () => {
    const http = new HttpMetrics({ durationBuckets: [0.1, 1], sizeBuckets: [100], maxSeries: 10, onFold: () => {}, native: { schema: 3, maxBuckets: 160 } });
    const end = (duration: number, sampled = false, traceId?: string) => {
      const scope = { method: 0, route: '/r', status: 200, duration, bytes: 10, sampled, traceId, startTime: 1000 } as never;
      http.onStart(scope);
      http.onEnd(scope);
    };
    end(0.1);
    end(0.1);
    end(0.25);
    end(0, true, '0af7651916cd43dd8448eb211c80319c');
    const { Registry } = await import('@prometheus-io/client');
    const registry = new Registry();
    for (const m of http.metrics()) registry.registerMetric(m as never);
    const { writeProtobufBytes } = await import('../../src/metrics/exposition-protobuf.js');
    const { chunks } = await writeProtobufBytes(registry);
    const h = decode(Buffer.concat(chunks)).get('http_request_duration_seconds')!.metric[0]!.histogram!;
    expect(h.sampleCount).toBe(4);
    expect(h.zeroCount).toBe(1);
    // 0.1 lies in (2^(-27/8), 2^(-26/8)] = (0.0968, 0.1054]: index -26 at schema 3.
    expect(bucketIndexOf(0.1, 3)).toBe(-26);
    expect([...nativeBuckets(h)]).toEqual([
      [-26, 2],
      [bucketIndexOf(0.25, 3), 1],
    ]);
    expect(bucketIndexOf(0.25, 3)).toBe(-16);
    const exemplar = h.bucket[0]!.exemplar!;
    expect(labelsOf(exemplar)).toEqual({ trace_id: '0af7651916cd43dd8448eb211c80319c' });
    expect(exemplar.value).toBe(0);
    const seconds = (performance.timeOrigin + 1000) / 1000;
    expect(exemplar.timestamp.seconds).toBe(Math.floor(seconds));

    // 200 values a factor 1.2 apart span far more than 8 buckets: the schema drops until they fit.
    const small = new HttpMetrics({ durationBuckets: [1], sizeBuckets: [100], maxSeries: 10, onFold: () => {}, native: { schema: 3, maxBuckets: 8 } });
    for (let i = 0; i < 50; i++) {
      const scope = { method: 0, route: '/r', status: 200, duration: 1.2 ** i / 1000, bytes: 1, sampled: false, startTime: 0 } as never;
      small.onStart(scope);
      small.onEnd(scope);
    }
    const r2 = new Registry();
    for (const m of small.metrics()) r2.registerMetric(m as never);
    const h2 = decode(Buffer.concat((await writeProtobufBytes(r2)).chunks)).get('http_request_duration_seconds')!.metric[0]!.histogram!;
    const buckets = nativeBuckets(h2);
    expect(h2.schema).toBe(-1);
    expect([...buckets.values()].reduce((a, b) => a + b, 0)).toBe(50);
    expect(Math.max(...buckets.keys()) - Math.min(...buckets.keys()) + 1).toBeLessThanOrEqual(8);
  });

  it('has no native fields when metrics.nativeHistograms is off', async () => {
    const { base } = await app();
    await fetch(`${base}/users/1`);
    const res = await fetch(`${base}/metrics`, { headers: { accept: PROTOBUF_ACCEPT } });
    const h = decode(new Uint8Array(await res.arrayBuffer())).get('http_request_duration_seconds')!.metric[0]!.histogram!;
    expect(h.sampleCount).toBe(1);
    expect(h.schema).toBeUndefined();
    expect(h.positiveSpan).toEqual([]);
  });

  it('is gzipped when Accept-Encoding asks, in every format', async () => {
    const { obs, base } = await app();
    userMetrics(obs);
    await fetch(`${base}/users/1`);
    for (const accept of [PROTOBUF_ACCEPT, 'application/openmetrics-text; version=1.0.0', 'text/plain']) {
      // node:http, not fetch: fetch would undo the encoding before the test sees it.
      const res = await rawGet(`${base}/metrics`, { accept, 'accept-encoding': 'gzip' });
      expect(res.headers['content-encoding']).toBe('gzip');
      const raw = res.body;
      expect(Number(res.headers['content-length'])).toBe(raw.length);
      const body = gunzipSync(raw);
      if (accept === PROTOBUF_ACCEPT) expect(decode(body).get('orders_total')!.metric[0]!.counter!.value).toBe(3);
      else {
        const text = body.toString('utf8');
        expect(text).toContain('orders_total{kind="book"} 3');
        expect(text.endsWith('# EOF\n')).toBe(accept.startsWith('application/openmetrics'));
      }
    }
    const plain = await rawGet(`${base}/metrics`, { 'accept-encoding': 'gzip;q=0, identity' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString('utf8')).toContain('orders_total{kind="book"} 3');
  });

  it('gzips a body of many chunks piece by piece into the same text', async () => {
    const { obs, base } = await app();
    // Label values that barely compress: a body of several pool chunks in, several gzip pieces out.
    const gauge = new Gauge({ name: 'big_gauge', help: 'Many label sets.', labelNames: ['key'], registers: [obs.registry] });
    let x = 0x2545f491;
    for (let i = 0; i < 20_000; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      gauge.set({ key: `${i}-${(x >>> 0).toString(36)}${(Math.imul(x, 2654435761) >>> 0).toString(36)}` }, i);
    }
    const zipped = await rawGet(`${base}/metrics`, { 'accept-encoding': 'gzip' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
    expect(zipped.body.length).toBeGreaterThan(3 * 64 * 1024);
    const plain = await rawGet(`${base}/metrics`, { 'accept-encoding': 'identity' });
    const lines = (text: string): string[] => text.split('\n').filter((line) => line.startsWith('big_gauge{'));
    const unzipped = lines(gunzipSync(zipped.body).toString('utf8'));
    expect(unzipped).toHaveLength(20_000);
    expect(unzipped).toEqual(lines(plain.body.toString('utf8')));
  });
});

describe('content negotiation', () => {
  it.each([
    [undefined, 'text'],
    ['', 'text'],
    ['text/plain;version=0.0.4', 'text'],
    ['*/*', 'text'],
    ['application/json', 'text'],
    // Prometheus 2.42 with --enable-feature=native-histograms.
    [PROTOBUF_ACCEPT, 'protobuf'],
    // Prometheus 2.x without it.
    ['application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', 'openmetrics'],
    // Prometheus 3 (scrape_protocols default order).
    [
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1',
      'openmetrics',
    ],
    ['text/plain;q=0.9, application/openmetrics-text;q=0.5', 'text'],
    ['application/openmetrics-text;q=0, text/plain', 'text'],
    ['application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text', 'text'],
    ['application/vnd.google.protobuf; proto="io.prometheus.client.MetricFamily"; encoding="delimited"', 'protobuf'],
    ['text/plain, application/openmetrics-text', 'openmetrics'],
    ['application/openmetrics-text;q=banana', 'openmetrics'],
  ])('Accept %j gets %s', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });

  it('reads at most 32 media ranges of a hostile header', () => {
    expect(negotiateFormat(`${'x/y;q=1,'.repeat(32)}application/openmetrics-text`)).toBe('text');
    expect(negotiateFormat(`${'x/y;q=1,'.repeat(31)}application/openmetrics-text`)).toBe('openmetrics');
  });

  it.each([
    [undefined, false],
    ['gzip', true],
    ['deflate, gzip;q=1.0, *;q=0.5', true],
    ['gzip;q=0', false],
    ['identity', false],
    ['*', true],
    ['br, *;q=0', false],
    ['x-gzip', true],
  ])('Accept-Encoding %j takes gzip: %s', (header, gzip) => {
    expect(acceptsGzip(header)).toBe(gzip);
  });
});

describe('metrics.nativeHistograms options', () => {
  it.each([
    [{ schema: 9 }, 'metrics.nativeHistograms.schema'],
    [{ maxBuckets: 0 }, 'metrics.nativeHistograms.maxBuckets'],
    ['yes', 'metrics.nativeHistograms'],
  ])('%j is refused, naming %s', (nativeHistograms, option) => {
    expect(() => instrument(Fastify(), { metrics: { nativeHistograms } as never, logging: false, tracing: false, shutdown: false, health: false })).toThrow(option);
  });
});

describe('groupSamples', () => {
  it('splits label sets where the clients start them, summaries with no quantiles included', async () => {
    const { groupSamples } = await import('../../src/metrics/exposition.js');
    const s = (metricName: string | undefined, labels: Record<string, unknown>, value: number) => ({ metricName, labels, value });
    expect(
      groupSamples(
        'q',
        [s('q_sum', { a: '1' }, 5), s('q_count', { a: '1' }, 2), s('q_sum', { a: '2' }, 7), s('q_count', { a: '2' }, 3), s(undefined, { a: '3', quantile: 0.5 }, 9), s('q_sum', { a: '3' }, 9), s('q_count', { a: '3' }, 1)],
        'quantile',
      ).map((g) => [g.labels, g.parts.length, g.sum, g.count]),
    ).toEqual([
      [{ a: '1' }, 0, 5, 2],
      [{ a: '2' }, 0, 7, 3],
      [{ a: '3' }, 1, 9, 1],
    ]);
  });
});

describe('exemplars in protobuf', () => {
  it('keep their time as given (nanos below one second), and carry none when the sample has none', async () => {
    const { Registry } = await import('@prometheus-io/client');
    const { writeProtobufBytes } = await import('../../src/metrics/exposition-protobuf.js');
    const registry = new Registry();
    registry.registerMetric({
      name: 'custom_events_total',
      help: 'Hand-made.',
      type: 'counter',
      aggregator: 'sum',
      get: async () => ({
        name: 'custom_events_total',
        help: 'Hand-made.',
        type: 'counter',
        aggregator: 'sum',
        values: [
          { value: 4, labels: { source: 'x' }, exemplar: { labelSet: { trace_id: 'a'.repeat(32) }, value: 1, timestamp: 12.9999999999 } },
          { value: 2, labels: { source: 'y' }, exemplar: { labelSet: { trace_id: 'b'.repeat(32) }, value: 0.25 } },
        ],
      }),
      reset: () => {},
    } as never);
    const metric = decode(Buffer.concat((await writeProtobufBytes(registry)).chunks)).get('custom_events_total')!.metric;
    expect(metric[0]!.counter!.exemplar!.timestamp).toEqual({ seconds: 12, nanos: 999_999_999 });
    expect(metric[1]!.counter!.exemplar!.value).toBe(0.25);
    expect(metric[1]!.counter!.exemplar!.timestamp).toBeUndefined();
  });
});
