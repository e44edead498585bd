import { crc32, gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from '@prometheus-io/client';
import type { RequestScope } from '../../src/core/index.js';
import { HttpMetrics } from '../../src/metrics/index.js';
import { BodyPart, gzipParts, partsOf } from '../../src/metrics/body.js';
import { writeExpositionBytes } from '../../src/metrics/exposition.js';
import { writeProtobufBytes } from '../../src/metrics/exposition-protobuf.js';
import { ChunkPool, SCRAPE_POOL_BYTES } from '../../src/metrics/writer.js';
import { decode, labelsOf, loadMetricsProto, nativeBuckets } from './proto-decode.js';

// The request metrics keep their exposition in blocks between scrapes (src/metrics/blocks.ts) and
// each block's deflate form (src/metrics/body.ts). Here one registry is scraped again and again
// while its series change, and every body is compared byte for byte with a fresh registry's, made
// by replaying every change so far and scraped once, so nothing of it was cached.

/** Fixed at 1,700,000,000 s so exemplar timestamps do not depend on the process's clock. */
const EXEMPLAR_END_MS = 1_700_000_000_000;

interface World {
  registry: Registry;
  http: HttpMetrics;
  orders: Counter<'kind'>;
  jobs: Histogram<'queue'>;
  /** What the gauge's collect callback reports. */
  depth: { value: number };
}

type Op = (w: World) => void;

/** With `native`, the duration is kept as a native histogram too (what the protobuf exposition carries). */
function world(native = false): World {
  const registry = new Registry();
  const http = new HttpMetrics({
    durationBuckets: [0.005, 0.05, 0.5, 5],
    sizeBuckets: [100, 10_000],
    maxSeries: 1_250,
    native: native ? { schema: 3, maxBuckets: 160 } : undefined,
    onFold: () => {},
  });
  for (const m of http.metrics()) registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
  const orders = new Counter({ name: 'orders_placed_total', help: 'Orders placed.', labelNames: ['kind'], registers: [registry] });
  const jobs = new Histogram({ name: 'job_seconds', help: 'Job run time.', labelNames: ['queue'], buckets: [0.1, 1], registers: [registry] });
  const depth = { value: 0 };
  new Gauge({
    name: 'queue_depth',
    help: 'Jobs waiting, set when collected.',
    registers: [registry],
    collect() {
      this.set(depth.value);
    },
  });
  return { registry, http, orders, jobs, depth };
}

function request(method: number, route: string, status: number, duration: number, bytes: number, traceId?: string): Op {
  return (w) => {
    const scope = {
      method,
      startTime: EXEMPLAR_END_MS - performance.timeOrigin,
      route,
      status,
      duration,
      bytes,
      traceId,
      sampled: traceId !== undefined,
    } as unknown as RequestScope;
    w.http.onStart(scope);
    w.http.onEnd(scope);
  };
}

/** xorshift32: the same sequence in every run. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

async function body(registry: Registry, openMetrics: boolean, pool?: ChunkPool): Promise<{ bytes: Buffer; parts: readonly BodyPart[]; chunks: Buffer[] }> {
  const out = await writeExpositionBytes(registry, openMetrics, pool);
  expect(out.errors).toEqual([]);
  return { bytes: Buffer.concat(out.chunks, out.byteLength), parts: out.parts!, chunks: out.chunks };
}

/**
 * One registry changed a little before each of 40 scrapes, as under load: `check` gets it and a
 * fresh registry made by replaying every change so far (so nothing of it was cached).
 */
async function scrapeWhileChanging(native: boolean, check: (live: World, fresh: World, scrape: number) => Promise<void>): Promise<World> {
  const rand = random(0x9e3779b9);
  const ops: Op[] = [];
  const live = world(native);
  const apply = (op: Op) => {
    ops.push(op);
    op(live);
  };
  let routes = 0;
  const newRoute = () => `/api/r${routes++}/ü€/:id`;
  // 1,200 label sets to start: many blocks per family.
  for (let i = 0; i < 1_200; i++) apply(request(i % 3, newRoute(), 200, (i % 97) / 100, i * 31, i % 11 === 0 ? (i + 1).toString(16).padStart(32, '0') : undefined));
  for (let scrape = 0; scrape < 40; scrape++) {
    // A few changes between scrapes, as under load: requests to known and new label sets
    // (the last ones past the series cap, into the overflow series), sampled or not.
    const changes = 1 + Math.floor(rand() * 4);
    for (let c = 0; c < changes; c++) {
      const pick = rand();
      const trace = rand() < 0.3 ? Math.floor(rand() * 2 ** 31).toString(16).padStart(32, '0') : undefined;
      if (pick < 0.6) apply(request(Math.floor(rand() * 3), `/api/r${Math.floor(rand() * routes)}/ü€/:id`, 200, rand() * 6, Math.floor(rand() * 20_000), trace));
      else if (pick < 0.8) apply(request(1, newRoute(), 404, rand(), 10, trace));
      // A known route with a new status: a new label set made after many others.
      else apply(request(0, '/api/r3/ü€/:id', 500 + Math.floor(rand() * 4), rand(), 5, trace));
    }
    const kind = scrape % 5;
    if (kind === 0) apply((w) => w.orders.inc({ kind: `k${scrape % 3}` }));
    if (kind === 1) apply((w) => w.jobs.observe({ queue: `q${scrape % 2}` }, scrape / 10));
    if (kind === 2) apply((w) => (w.depth.value = scrape * 1.5));
    if (kind === 3) apply((w) => w.orders.remove({ kind: 'k0' }));
    // Default labels change the lines of every series once.
    if (scrape === 20) apply((w) => w.registry.setDefaultLabels({ region: 'eu "west"' }));

    const fresh = world(native);
    for (const op of ops) op(fresh);
    await check(live, fresh, scrape);
  }
  return live;
}

describe('scrape cache', () => {
  beforeAll(loadMetricsProto);

  it('serves the same bytes as an uncached scrape while series change, in text, OpenMetrics and gzip', async () => {
    const pool = new ChunkPool(SCRAPE_POOL_BYTES);
    let reused = 0;
    let previous: Record<string, Set<BodyPart>> = {};
    const live = await scrapeWhileChanging(false, async (live, fresh) => {
      for (const openMetrics of [false, true]) {
        const key = String(openMetrics);
        const cached = await body(live.registry, openMetrics, pool);
        const expected = await body(fresh.registry, openMetrics);
        expect(cached.bytes.equals(expected.bytes)).toBe(true);
        // The gzip body, from parts whose deflate form is kept between scrapes, unzips to the same bytes.
        const zipped = await gzipParts(cached.parts);
        const gz = Buffer.concat(zipped.chunks);
        expect(gz.length).toBe(zipped.byteLength);
        expect(gunzipSync(gz).equals(expected.bytes)).toBe(true);
        for (const part of cached.parts) if (previous[key]?.has(part)) reused++;
        previous = { ...previous, [key]: new Set(cached.parts) };
        pool.recycle(cached.chunks);
      }
    });
    // The first scrape of each format and the default-label change rebuild everything; the others reuse most blocks.
    expect(reused).toBeGreaterThan(30 * 2 * 20);
    expect(live.http.seriesCount).toBe(1_251);
  });

  it('serves the same protobuf bytes as an uncached scrape while series change, native buckets and exemplars included, plain and gzip', async () => {
    let reused = 0;
    let previous = new Set<BodyPart>();
    const live = await scrapeWhileChanging(true, async (live, fresh, scrape) => {
      const cached = await writeProtobufBytes(live.registry);
      const expected = await writeProtobufBytes(fresh.registry);
      expect(cached.errors).toEqual([]);
      const bytes = Buffer.concat(cached.chunks);
      expect(bytes.length).toBe(cached.byteLength);
      const expectedBytes = Buffer.concat(expected.chunks);
      expect(bytes.equals(expectedBytes)).toBe(true);
      const zipped = await gzipParts(cached.parts!);
      const gz = Buffer.concat(zipped.chunks);
      expect(gz.length).toBe(zipped.byteLength);
      expect(gunzipSync(gz).equals(expectedBytes)).toBe(true);
      for (const part of cached.parts!) if (previous.has(part)) reused++;
      previous = new Set(cached.parts);
      // Prometheus' metrics.proto reads it, and every series' histogram holds its requests: as many
      // observations as the counter counts, in the classic buckets and in the native ones. Decoded
      // every tenth scrape and after the default labels change (protobufjs takes a while).
      if (scrape % 10 !== 9 && scrape !== 21) return;
      const families = decode(bytes);
      const requests = new Map(families.get('http_requests_total')!.metric.map((m) => [JSON.stringify(labelsOf(m)), m.counter!.value]));
      const durations = families.get('http_request_duration_seconds')!.metric;
      expect(durations.length).toBe(requests.size);
      for (const m of durations) {
        const h = m.histogram!;
        expect(h.sampleCount).toBe(requests.get(JSON.stringify(labelsOf(m))));
        expect(h.bucket.at(-1)!.cumulativeCount).toBe(h.sampleCount);
        expect([...nativeBuckets(h).values()].reduce((a, b) => a + b, h.zeroCount ?? 0)).toBe(h.sampleCount);
        if (scrape > 20) expect(labelsOf(m).region).toBe('eu "west"');
      }
    });
    // About ten blocks in all (three families of 1,200 series, 64 KB each): the first scrape and the
    // default-label change rebuild every one, and each scrape's few changes rewrite a few.
    expect(reused).toBeGreaterThan(30 * 5);
    expect(live.http.seriesCount).toBe(1_251);
  });

  it('starts over after the request metrics are reset', async () => {
    const w = world();
    request(0, '/a', 200, 0.01, 1)(w);
    await body(w.registry, false);
    w.http.reset();
    request(0, '/b', 200, 0.01, 1)(w);
    const text = (await body(w.registry, false)).bytes.toString('utf8');
    expect(text).toContain('http_requests_total{method="GET",route="/b",status_code="200"} 1\n');
    expect(text).not.toContain('route="/a"');
  });
});

describe('gzipParts', () => {
  it('makes one gzip member of separately deflated parts, reusing a part deflated before', async () => {
    const parts = ['', 'hello ', 'x'.repeat(200_000), 'ü€𝄞\n'].map((t) => new BodyPart(Buffer.from(t)));
    const first = await gzipParts(parts);
    const kept = parts[2]!.deflated;
    const second = await gzipParts(parts);
    expect(parts[2]!.deflated).toBe(kept);
    for (const z of [first, second]) {
      const gz = Buffer.concat(z.chunks);
      const text = Buffer.from(`hello ${'x'.repeat(200_000)}ü€𝄞\n`);
      expect(gunzipSync(gz).equals(text)).toBe(true);
      // One member: its trailer covers the whole text, so a reader that stops after the first
      // member (curl 7.88 does) still gets everything.
      expect(gz.readUInt32LE(gz.length - 8)).toBe(crc32(text));
      expect(gz.readUInt32LE(gz.length - 4)).toBe(text.length);
    }
    expect(gunzipSync(Buffer.concat((await gzipParts([])).chunks)).length).toBe(0);
  });

  it('cuts a body written with nothing kept into parts of at most 64 KB, views of the same bytes', async () => {
    const big = Buffer.from('y'.repeat(150_000));
    const parts = partsOf([Buffer.from('a\n'), big]);
    expect(parts.map((p) => p.bytes.length)).toEqual([2, 65_536, 65_536, 18_928]);
    expect(parts[1]!.bytes.buffer).toBe(big.buffer);
    expect(gunzipSync(Buffer.concat((await gzipParts(parts)).chunks)).toString('utf8')).toBe(`a\n${'y'.repeat(150_000)}`);
  });
});
