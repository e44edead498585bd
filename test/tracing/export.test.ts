import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ExportQueue } from '../../src/tracing/index.js';
import type { DropReason } from '../../src/tracing/index.js';
import { startApp } from './frameworks.js';
import type { TestApp } from './frameworks.js';
import { Receiver } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(mode: 'ok' | 'fail' | 'hang'): Promise<string> {
  const r = new Receiver();
  r.mode = mode;
  const url = await r.start();
  cleanups.push(() => r.close());
  return url;
}

/** A port nothing listens on: connections are refused. */
async function deadEndpoint(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function queueWith(url: string, overrides: Partial<ConstructorParameters<typeof ExportQueue>[0]> = {}) {
  const drops: Record<DropReason, number> = { queue_full: 0, export_failed: 0 };
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const queue = new ExportQueue({
    exporter: new OTLPTraceExporter({ url: `${url}/v1/traces`, timeoutMillis: 5000 }),
    maxQueueSize: 20,
    maxExportBatchSize: 5,
    scheduledDelayMillis: 60_000,
    exportTimeoutMillis: 5000,
    onDrop: (reason, n) => (drops[reason] += n),
    logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    ...overrides,
  });
  const provider = new TracerProvider({ spanProcessors: [queue] });
  cleanups.push(() => queue.shutdown(50));
  const tracer = provider.getTracer('test');
  const emit = (n: number) => {
    for (let i = 0; i < n; i++) tracer.startSpan(`s${i}`).end();
  };
  return { queue, drops, warnings, emit };
}

describe('ExportQueue', () => {
  it('delivers spans to a real OTLP receiver (the 3.x { exporter } shape is honoured)', async () => {
    const r = new Receiver();
    const url = await r.start();
    cleanups.push(() => r.close());
    const { queue, emit, drops } = queueWith(url);
    emit(12);
    await queue.forceFlush();
    expect(r.spans.map((s) => s.name).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `s${i}`).sort());
    // 12 spans in batches of at most 5.
    expect(r.requests).toBe(3);
    expect(drops).toEqual({ queue_full: 0, export_failed: 0 });
  });

  it('never holds more than maxQueueSize while the collector hangs, and counts what it drops', async () => {
    const { queue, drops, emit } = queueWith(await receiver('hang'));
    emit(100);
    // The first 5 went out in a batch (which hangs), 20 wait, the other 75 were dropped.
    expect(queue.length).toBe(20);
    expect(queue.highWater).toBe(20);
    expect(drops.queue_full).toBe(75);
    emit(10);
    expect(queue.highWater).toBe(20);
    expect(drops.queue_full).toBe(85);
  });

  it('gives up on a hanging export after exportTimeoutMillis and counts its spans as failed', async () => {
    const { queue, drops, emit, warnings } = queueWith(await receiver('hang'), { exportTimeoutMillis: 100 });
    emit(5);
    await queue.forceFlush();
    expect(drops.export_failed).toBe(5);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain('span export timed out after 100 ms');
  });

  it.each([
    ['down (connection refused)', 'down'],
    ['answering 500', 'fail'],
  ] as const)('collector %s: the failure is logged once per interval, not once per batch', async (_name, mode) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const url = mode === 'down' ? await deadEndpoint() : await receiver('fail');
    // A refused connection is retryable for the exporter; a short timeout leaves no room for retries.
    const { queue, drops, emit, warnings } = queueWith(url, { exporter: new OTLPTraceExporter({ url: `${url}/v1/traces`, timeoutMillis: 300 }) });
    for (let i = 0; i < 4; i++) {
      emit(5);
      await queue.forceFlush();
    }
    expect(drops.export_failed).toBe(20);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.obj.failed_spans).toBe(5);
    expect(warnings[0]!.msg).toMatch(/^periscope: span export failed: .+ \(logged at most once per 60 s; counted in periscope_spans_dropped_total\)$/);
    vi.setSystemTime(new Date('2026-01-01T00:01:00Z'));
    emit(5);
    await queue.forceFlush();
    expect(warnings).toHaveLength(2);
    // The second line sums up the failures since the first.
    expect(warnings[1]!.obj.failed_spans).toBe(20);
  });

  it('shutdown drops what it could not flush in time, counted, and resolves within the bound', async () => {
    const { queue, drops, emit } = queueWith(await receiver('hang'));
    emit(12);
    const started = performance.now();
    await queue.shutdown(200);
    // Not a timing claim: it ended before the exporter's own 5 s timeout, so the bound ended it.
    expect(performance.now() - started).toBeLessThan(5000);
    // 5 were in flight to the hanging collector; the 7 still queued are given up on.
    expect(drops.export_failed).toBe(7);
    expect(queue.length).toBe(0);
  });
});

describe('instrument() with a collector that is down or hanging', () => {
  let app: TestApp;
  afterEach(async () => {
    await app.close();
  });

  it('collector hanging: every request completes, the queue stays at its maximum, the rest is dropped and counted', async () => {
    const url = await receiver('hang');
    app = await startApp('fastify', {
      tracing: { endpoint: url, maxQueueSize: 10, maxExportBatchSize: 5, scheduledDelayMillis: 60_000, exportTimeoutMillis: 10_000, shutdownTimeoutMillis: 100 },
    });
    const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(`${app.url}/users/${i}`).then((r) => r.status)));
    expect(statuses).toEqual(Array.from({ length: 50 }, () => 200));
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    // 5 hang in the first export, 10 wait in the queue, the other 35 are dropped.
    expect(metrics).toContain('periscope_spans_dropped_total{reason="queue_full"} 35\n');
    const started = performance.now();
    await app.obs.shutdown();
    // Not a timing claim: it ended before the 10 s export timeout, so shutdownTimeoutMillis ended it.
    expect(performance.now() - started).toBeLessThan(10_000);
    // shutdown() closed the app's server too: read the registry itself.
    const after = await app.obs.registry.metrics();
    // The 10 still queued when the shutdown bound passed are given up on, and counted.
    expect(after).toContain('periscope_spans_dropped_total{reason="export_failed"} 10\n');
  });

  it('collector down: every request completes and every span is accounted for as dropped', async () => {
    const url = await deadEndpoint();
    app = await startApp('express', {
      tracing: { endpoint: url, maxQueueSize: 10, maxExportBatchSize: 5, scheduledDelayMillis: 1, exportTimeoutMillis: 300, shutdownTimeoutMillis: 3000 },
    });
    const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(`${app.url}/users/${i}`).then((r) => r.status)));
    expect(statuses).toEqual(Array.from({ length: 50 }, () => 200));
    await app.obs.shutdown();
    // shutdown() closed the app's server too: read the registry itself.
    const metrics = await app.obs.registry.metrics();
    const count = (reason: string) => Number(new RegExp(`periscope_spans_dropped_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1]);
    expect(count('queue_full') + count('export_failed')).toBe(50);
    expect(count('export_failed')).toBeGreaterThanOrEqual(10);
  });
});
