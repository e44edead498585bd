import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry, Summary } from '@prometheus-io/client';
import type { RequestScope } from '../../src/core/index.js';
import { HttpMetrics, writeExposition } from '../../src/metrics/index.js';
import { writeProtobufBytes } from '../../src/metrics/exposition-protobuf.js';

// The exposition's exact bytes, pinned by snapshots taken from the string-concatenating writer
// before the writer moved to Buffers: any byte the Buffer writer changes fails here.

/** Fixed at 1,700,000,000 s so exemplar timestamps do not depend on the process's clock. */
const EXEMPLAR_END_MS = 1_700_000_000_000;

interface Request {
  method: number;
  route: string;
  status: number;
  duration: number;
  bytes: number;
  traceId?: string;
}

function record(http: HttpMetrics, r: Request): void {
  const scope = {
    method: r.method,
    // HttpMetrics stamps exemplars at timeOrigin + startTime + duration.
    startTime: EXEMPLAR_END_MS - performance.timeOrigin,
    route: r.route,
    status: r.status,
    duration: r.duration,
    bytes: r.bytes,
    traceId: r.traceId,
    sampled: r.traceId !== undefined,
  } as unknown as RequestScope;
  http.onStart(scope);
  http.onEnd(scope);
}

/** A registry whose exposition exercises every branch of the writer, the same in every process. */
function buildRegistry(opts: { maxSeries: number; extraRoutes: number; defaultLabels: boolean; native?: boolean }): Registry {
  const registry = new Registry();
  const native = opts.native === true ? { schema: 3, maxBuckets: 160 } : undefined;
  const http = new HttpMetrics({ durationBuckets: [0.005, 0.05, 0.5, 5], sizeBuckets: [100, 10_000], maxSeries: opts.maxSeries, native, onFold: () => {} });
  for (const m of http.metrics()) registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
  const trace = (n: number) => n.toString(16).padStart(32, '0');
  const requests: Request[] = [
    { method: 0, route: '/users/:id', status: 200, duration: 0.0123, bytes: 512, traceId: trace(1) },
    { method: 0, route: '/users/:id', status: 200, duration: 0.25, bytes: 20_000, traceId: trace(2) },
    { method: 0, route: '/users/:id', status: 200, duration: 7.5, bytes: 50 },
    { method: 2, route: '/users/:id', status: 201, duration: 0.001, bytes: 0 },
    { method: 0, route: 'we"ird\\route\nname', status: 404, duration: 0.04, bytes: 9 },
    { method: 0, route: '/café/日本/:id', status: 200, duration: 0.3, bytes: 100, traceId: trace(3) },
    { method: 9, route: 'unmatched', status: 404, duration: 0.002, bytes: 10 },
    { method: 4, route: '/orders/:id', status: 500, duration: 1.5, bytes: 77 },
    { method: 8, route: '/orders/:id', status: 204, duration: 0.02, bytes: 0 },
  ];
  for (let i = 0; i < opts.extraRoutes; i++) {
    // Multi-byte characters in every line, so that some line ends at or across a chunk's end.
    requests.push({ method: i % 3, route: `/api/r${i}/ü€𝄞/:id`, status: 200 + (i % 5), duration: (i % 97) / 100, bytes: i * 31, traceId: i % 7 === 0 ? trace(i + 100) : undefined });
  }
  for (const r of requests) record(http, r);
  // One request still in flight.
  http.onStart({ method: 3 } as unknown as RequestScope);

  const orders = new Counter({ name: 'orders_placed_total', help: 'Orders placed.\nBy "kind" \\ region.', labelNames: ['kind', 'n'], registers: [registry] });
  orders.inc({ kind: 'book', n: 1 }, 3);
  orders.inc({ kind: 'qu"ote\\back\nline', n: 2.5 });
  new Gauge({ name: 'queue_depth', help: 'Jobs waiting.', registers: [registry] }).set(-0.5);
  const lag = new Gauge({ name: 'odd_values', help: 'Non-finite values.', labelNames: ['which'], registers: [registry] });
  lag.set({ which: 'nan' }, NaN);
  lag.set({ which: 'inf' }, Infinity);
  lag.set({ which: 'ninf' }, -Infinity);
  const jobs = new Histogram({ name: 'job_seconds', help: 'Job run time.', labelNames: ['queue'], buckets: [0.1, 1], registers: [registry] });
  jobs.observe({ queue: 'a' }, 0.05);
  jobs.observe({ queue: 'b' }, 3);
  const sizes = new Summary({ name: 'payload_bytes', help: 'Payload sizes.', percentiles: [0.5, 0.9], registers: [registry] });
  for (const v of [10, 20, 30, 40]) sizes.observe(v);
  // A metric the client does not make: an untyped family and an exemplar on a counter sample.
  registry.registerMetric({
    name: 'custom_events_total',
    help: 'Hand-made metric.',
    type: 'counter',
    aggregator: 'sum',
    get: async () => ({
      name: 'custom_events_total',
      help: 'Hand-made metric.',
      type: 'counter',
      aggregator: 'sum',
      values: [
        { value: 4, labels: { source: 'x' }, exemplar: { labelSet: { trace_id: trace(9) }, value: 1, timestamp: 1_700_000_000.5 } },
        { value: 2, labels: { source: 'y' }, exemplar: { labelSet: { trace_id: trace(10) }, value: 0.25 } },
      ],
    }),
    reset: () => {},
  } as unknown as Parameters<Registry['registerMetric']>[0]);
  registry.registerMetric({
    name: 'legacy_thing',
    help: 'Untyped.',
    type: 'untyped',
    aggregator: 'sum',
    get: async () => ({ name: 'legacy_thing', help: 'Untyped.', type: 'untyped', aggregator: 'sum', values: [{ value: 1, labels: {} }] }),
    reset: () => {},
  } as unknown as Parameters<Registry['registerMetric']>[0]);
  if (opts.defaultLabels) registry.setDefaultLabels({ region: 'eu "west"', zone: 'ä' });
  return registry;
}

describe('exposition bytes', () => {
  for (const openMetrics of [false, true]) {
    for (const defaultLabels of [false, true]) {
      const name = `${openMetrics ? 'openmetrics' : 'text-0.0.4'}${defaultLabels ? '-default-labels' : ''}`;
      it(`${name}: every byte as the string writer wrote it (overflow series included)`, async () => {
        const registry = buildRegistry({ maxSeries: 6, extraRoutes: 0, defaultLabels });
        const { body, errors } = await writeExposition(registry, openMetrics);
        expect(errors).toEqual([]);
        await expect(body).toMatchFileSnapshot(`./__snapshots__/exposition-${name}.txt`);
      });
    }
  }

  it.each([false, true])('openMetrics=%s: 3,000 label sets with multi-byte routes (several MB), every byte as before', async (openMetrics) => {
    const registry = buildRegistry({ maxSeries: 5000, extraRoutes: 3000, defaultLabels: true });
    const { body } = await writeExposition(registry, openMetrics);
    const bytes = Buffer.from(body, 'utf8');
    const digest = `${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`;
    await expect(digest).toMatchFileSnapshot(`./__snapshots__/exposition-large-${openMetrics ? 'openmetrics' : 'text-0.0.4'}.sha256`);
  });

  // Pinned from the protobuf writer that wrote every scrape afresh, before the request metrics
  // kept their protobuf form in blocks: native buckets and exemplars included.
  it.each([false, true])('protobuf, default labels %s: 3,000 label sets with native histograms, every byte as before', async (defaultLabels) => {
    const registry = buildRegistry({ maxSeries: 5000, extraRoutes: 3000, defaultLabels, native: true });
    const { chunks, byteLength, errors } = await writeProtobufBytes(registry);
    expect(errors).toEqual([]);
    const bytes = Buffer.concat(chunks, byteLength);
    expect(bytes.length).toBe(byteLength);
    const digest = `${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`;
    await expect(digest).toMatchFileSnapshot(`./__snapshots__/exposition-large-protobuf${defaultLabels ? '-default-labels' : ''}.sha256`);
  });
});

describe('series written once and kept until a request changes them', () => {
  it('serve the same bytes as a fresh write across formats, default labels and new requests', async () => {
    // One registry scraped again and again, against a registry built anew for each expected body.
    const reused = buildRegistry({ maxSeries: 6, extraRoutes: 40, defaultLabels: false });
    const expected = async (openMetrics: boolean, defaultLabels: boolean) => (await writeExposition(buildRegistry({ maxSeries: 6, extraRoutes: 40, defaultLabels }), openMetrics)).body;
    for (const [openMetrics, defaultLabels] of [
      [false, false],
      [false, false],
      [true, false],
      [false, false],
      [true, false],
    ] as const) {
      expect((await writeExposition(reused, openMetrics)).body).toBe(await expected(openMetrics, defaultLabels));
    }
    reused.setDefaultLabels({ region: 'eu "west"', zone: 'ä' });
    expect((await writeExposition(reused, false)).body).toBe(await expected(false, true));
    expect((await writeExposition(reused, true)).body).toBe(await expected(true, true));
  });

  it('rewrite a series when a request lands in it, and only its lines change', async () => {
    const registry = new Registry();
    const http = new HttpMetrics({ durationBuckets: [0.1, 1], sizeBuckets: [100], maxSeries: 10, onFold: () => {} });
    for (const m of http.metrics()) registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
    record(http, { method: 0, route: '/a', status: 200, duration: 0.05, bytes: 10 });
    record(http, { method: 0, route: '/b', status: 200, duration: 0.5, bytes: 10 });
    const before = (await writeExposition(registry, false)).body;
    expect((await writeExposition(registry, false)).body).toBe(before);
    record(http, { method: 0, route: '/a', status: 200, duration: 2, bytes: 500, traceId: 'ab'.repeat(16) });
    const after = (await writeExposition(registry, true)).body;
    expect(after).toContain('http_requests_total{method="GET",route="/a",status_code="200"} 2\n');
    expect(after).toContain('http_request_duration_seconds_bucket{method="GET",route="/a",status_code="200",le="+Inf"} 2 # {trace_id="abababababababababababababababab"} 2');
    expect(after).toContain('http_response_size_bytes_sum{method="GET",route="/a",status_code="200"} 510\n');
    expect(after).toContain('http_requests_total{method="GET",route="/b",status_code="200"} 1\n');
    const changed = (await writeExposition(registry, false)).body.split('\n').filter((line) => !before.includes(`${line}\n`));
    expect(changed.filter((l) => l !== '').every((l) => l.includes('route="/a"'))).toBe(true);
    expect(changed.length).toBeGreaterThan(3);
  });
});
