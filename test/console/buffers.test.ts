import { describe, expect, it } from 'vitest';
import { CONSOLE_DEFAULTS } from '../../src/console/index.js';
import { LogStore } from '../../src/console/logs.js';
import { quantile, RedSampler } from '../../src/console/red.js';
import { TraceStore } from '../../src/console/traces.js';
import type { SpanRecord } from '../../src/console/traces.js';
import { hammer } from '../helpers.js';
import { startConsoleApp } from './helpers.js';

const LIMITS = { maxTraces: 10, maxSpans: 30, maxSpansPerTrace: 8, pinnedErrors: 2, pinnedSlowest: 2 };

function span(id: number, start: number, durationMs: number, error = false, parentId?: string): SpanRecord {
  return { spanId: id.toString(16).padStart(16, '0'), parentId, name: `span ${id}`, kind: 1, start, durationMs, status: error ? 2 : 0, statusMessage: undefined, attributes: {}, events: [] };
}
const tid = (n: number) => n.toString(16).padStart(32, '0');

describe('TraceStore', () => {
  it('evicts whole traces oldest-first past maxTraces', () => {
    const s = new TraceStore({ ...LIMITS, pinnedSlowest: 0 });
    for (let i = 1; i <= 25; i++) s.add(tid(i), span(i, i, 1), true, '/r', 200);
    expect(s.traceCount).toBe(10);
    expect(s.spanCount).toBe(10);
    expect(s.evicted).toBe(15);
    expect(s.lists().recent.map((t) => t.traceId)).toEqual([25, 24, 23, 22, 21, 20, 19, 18, 17, 16].map(tid));
  });

  it('evicts whole traces past maxSpans, and caps one trace\'s spans', () => {
    const s = new TraceStore({ ...LIMITS, pinnedSlowest: 0 });
    // Four traces of 8 spans (children first, then the root): 32 > 30, so the first goes whole.
    let id = 0;
    for (let t = 1; t <= 4; t++) {
      for (let k = 0; k < 7; k++) s.add(tid(t), span(++id, t * 100 + k, 1, false, 'ff'), false, undefined, undefined);
      s.add(tid(t), span(++id, t * 100, 10), true, '/r', 200);
    }
    expect(s.spanCount).toBe(24);
    expect(s.traceCount).toBe(3);
    expect(s.get(tid(1))).toBeUndefined();
    expect(s.get(tid(2))!.spans).toHaveLength(8);
    // A ninth span of one trace is dropped and counted.
    s.add(tid(4), span(id + 1, 400, 1, false, 'ff'), false, undefined, undefined);
    expect(s.get(tid(4))!.spans).toHaveLength(8);
    expect(s.droppedSpans).toBe(1);
  });

  it('keeps the last error traces and the slowest apart from eviction', () => {
    const s = new TraceStore(LIMITS);
    s.add(tid(1), span(1, 1, 5000), true, '/slow', 200); // slowest
    s.add(tid(2), span(2, 2, 1, true), true, '/fail', 500); // error
    s.add(tid(3), span(3, 3, 4000), true, '/slow', 200); // second slowest
    s.add(tid(4), span(4, 4, 1, true), true, '/fail', 500); // error
    s.add(tid(5), span(5, 5, 1, true), true, '/fail', 500); // error: the first error is unpinned
    for (let i = 6; i <= 40; i++) s.add(tid(i), span(i, i, 1), true, '/fast', 200);
    expect(s.traceCount).toBe(10);
    const lists = s.lists();
    expect(lists.errors.map((t) => t.traceId)).toEqual([tid(5), tid(4)]);
    expect(lists.slowest.map((t) => t.traceId)).toEqual([tid(1), tid(3)]);
    expect(s.get(tid(2))).toBeUndefined();
    expect(s.pinned).toEqual({ errors: 2, slowest: 2 });
  });
});

describe('LogStore', () => {
  it('keeps the last lines, indexed by trace ID, the index following the ring', () => {
    const s = new LogStore(5);
    for (let i = 1; i <= 12; i++) s.write(`${JSON.stringify({ level: i % 4 === 0 ? 'error' : 'info', msg: `line ${i}`, trace_id: tid(i % 3) })}\n`);
    expect(s.size).toBe(5);
    expect(s.evicted).toBe(7);
    expect(s.query().map((e) => e.msg)).toEqual(['line 8', 'line 9', 'line 10', 'line 11', 'line 12']);
    expect(s.ofTrace(tid(0)).map((e) => e.msg)).toEqual(['line 9', 'line 12']);
    expect(s.ofTrace(tid(1)).map((e) => e.msg)).toEqual(['line 10']);
    expect(s.tracesIndexed).toBe(3);
    expect(s.query({ minLevel: 'error' }).map((e) => e.msg)).toEqual(['line 8', 'line 12']);
    expect(s.query({ q: 'LINE 1' }).map((e) => e.msg)).toEqual(['line 10', 'line 11', 'line 12']);
  });

  it('takes numeric levels and text that is not JSON, and cuts long lines', () => {
    const s = new LogStore(3);
    s.write('{"level":50,"msg":"numbers"}\nnot json\n');
    s.write(`{"msg":"${'x'.repeat(5000)}"}\n`);
    const [a, b, c] = s.query();
    expect([a!.level, a!.msg, b!.level, b!.line]).toEqual(['error', 'numbers', 'info', 'not json']);
    expect(c!.line).toHaveLength(4097);
  });
});

describe('RedSampler', () => {
  const bounds = [0.1, 0.5, 1];
  it('estimates quantiles as histogram_quantile does', () => {
    expect(quantile(0.5, bounds, [0, 0, 0, 0])).toBeNull();
    expect(quantile(0.5, bounds, [10, 0, 0, 0])).toBeCloseTo(0.05, 10);
    expect(quantile(0.95, bounds, [0, 10, 10, 0])).toBeCloseTo(0.5 + 0.5 * 0.9, 10);
    expect(quantile(0.99, bounds, [0, 0, 0, 5])).toBe(1);
  });

  it('keeps one point per route per sample, at most maxPoints, summed over methods and statuses', () => {
    const counts = { ok: new Float64Array([4, 0, 0, 0]), bad: new Float64Array([0, 0, 2, 0]) };
    let total = { ok: 4, bad: 2 };
    const sampler = new RedSampler(
      { bounds, series: () => [{ route: '/a', status: '200', count: total.ok, counts: counts.ok }, { route: '/a', status: '503', count: total.bad, counts: counts.bad }] },
      { maxPoints: 120, maxRoutes: 10 },
    );
    sampler.sample(0);
    counts.ok[0]! += 10;
    total = { ok: 14, bad: 2 };
    sampler.sample(5000);
    const [a] = sampler.routes();
    expect(a!.requests).toBe(16);
    expect(a!.errors).toBe(2);
    expect(a!.points[1]).toEqual({ t: 5000, rate: 2, errors: 0, requests: 10, p50: 0.05, p95: quantile(0.95, bounds, [10, 0, 0, 0]), p99: quantile(0.99, bounds, [10, 0, 0, 0]) });
    for (let i = 2; i <= 300; i++) sampler.sample(i * 5000);
    expect(sampler.maxPointsHeld).toBe(120);
    expect(sampler.routes()[0]!.points[0]!.t).toBe(181 * 5000);
  });

  it('keeps at most maxRoutes routes and counts the others', () => {
    const sampler = new RedSampler({ bounds, series: () => Array.from({ length: 15 }, (_, i) => ({ route: `/r${i}`, status: '200', count: 1, counts: [1, 0, 0, 0] })) }, { maxPoints: 3, maxRoutes: 10 });
    sampler.sample(0);
    sampler.sample(1);
    expect(sampler.routesHeld()).toBe(10);
    expect(sampler.routesDropped).toBe(5);
  });
});

describe('a flood of 10,000 requests', () => {
  it('keeps every buffer at its bound, with exact counts', async () => {
    const c = await startConsoleApp();
    try {
      const n = 10_000;
      // One in 100 fails: 100 error traces, of which the last 50 stay pinned.
      const statuses = await hammer((i) => (i % 100 === 99 ? `${c.base}/fail` : `${c.base}/hello/u${i}`), n, 32);
      expect(statuses.filter((s) => s === 500)).toHaveLength(100);
      const d = CONSOLE_DEFAULTS;
      const stats = await c.json<{ traces: Record<string, number>; logs: Record<string, number>; routes: Record<string, number> }>('/api/stats');
      // One SERVER span per request, each its own trace.
      expect(stats.traces).toEqual({ held: d.maxTraces, max: 200, spans: d.maxTraces, maxSpans: 5000, evicted: n - d.maxTraces, droppedSpans: 0, pinnedErrors: 50, pinnedSlowest: 50 });
      // Each /hello writes two lines (its own and the request line), each /fail one: 19,900 lines,
      // and the console's own start line.
      const lines = 9900 * 2 + 100 + 1;
      expect(stats.logs).toEqual({ held: d.maxLogLines, max: 2000, evicted: lines - d.maxLogLines, tracesIndexed: expect.any(Number) });
      expect(stats.logs.tracesIndexed).toBeLessThanOrEqual(d.maxLogLines);
      expect(stats.routes).toMatchObject({ held: 2, max: 200, maxPoints: 120, dropped: 0 });
      const traces = await c.json<{ recent: unknown[]; errors: { statusCode: number }[]; slowest: unknown[] }>('/api/traces');
      expect([traces.recent.length, traces.errors.length, traces.slowest.length]).toEqual([200, 50, 50]);
      expect(new Set(traces.errors.map((t) => t.statusCode))).toEqual(new Set([500]));
      const routes = await c.json<{ route: string; requests: number; errors: number }[]>('/api/routes');
      expect(routes.map((r) => [r.route, r.requests, r.errors])).toEqual([
        ['/hello/:name', 9900, 0],
        ['/fail', 100, 100],
      ]);
    } finally {
      await c.close();
    }
  }, 120_000);
});
