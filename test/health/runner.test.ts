import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CheckRunner } from '../../src/health/index.js';
import type { CheckReport } from '../../src/index.js';
import { deferred, get, startNodeApp } from './helpers.js';
import type { Started } from './helpers.js';

const FAKE: Parameters<typeof vi.useFakeTimers>[0] = { toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] };

let app: Started | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await app?.close();
  app = undefined;
});

describe('shared runs and caching', () => {
  it('20 concurrent probes run the check once', async () => {
    vi.useFakeTimers(FAKE);
    // No cache: only the shared in-flight run can keep the count at one.
    app = await startNodeApp({ metrics: false, health: { eventLoop: false, cacheMs: 0 } });
    let arrived = 0;
    const allArrived = deferred();
    const onRequest = () => {
      if (++arrived === 20) allArrived.resolve();
    };
    subscribe('http.server.request.start', onRequest);
    let runs = 0;
    const release = deferred();
    const entered = deferred();
    app.obs.health.register('db', async () => {
      runs++;
      entered.resolve();
      await release.promise;
      return { status: 'healthy' };
    });
    const probes = Array.from({ length: 20 }, (_, i) => get(`${app!.base}/${i % 2 === 0 ? 'readyz' : 'healthz'}`));
    await entered.promise;
    await allArrived.promise;
    // Each probe's handler joined the run within the tick its request arrived in.
    await new Promise((r) => setImmediate(r));
    unsubscribe('http.server.request.start', onRequest);
    release.resolve();
    const answers = await Promise.all(probes);
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(runs).toBe(1);
  });

  it('reuses a result for cacheMs, then runs again', async () => {
    vi.useFakeTimers(FAKE);
    app = await startNodeApp({ metrics: false, health: { eventLoop: false, cacheMs: 1000 } });
    let runs = 0;
    app.obs.health.register('db', () => {
      runs++;
      return runs === 1 ? { status: 'unhealthy', message: 'first' } : { status: 'healthy' };
    });
    expect((await get(`${app.base}/readyz`)).status).toBe(503);
    vi.advanceTimersByTime(999);
    expect((await get(`${app.base}/readyz`)).status).toBe(503);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1);
    expect((await get(`${app.base}/readyz`)).status).toBe(200);
    expect(runs).toBe(2);
  });

  it('background refresh: probes read the last result and never wait for a run', async () => {
    vi.useFakeTimers(FAKE);
    app = await startNodeApp({ metrics: false, health: { eventLoop: false, refreshMs: 5000 } });
    let runs = 0;
    let status: 'healthy' | 'unhealthy' = 'healthy';
    app.obs.health.register('db', () => {
      runs++;
      return { status };
    });
    // The first run starts at registration.
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toBe(1);
    status = 'unhealthy';
    expect((await get(`${app.base}/readyz`)).status).toBe(200);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(5000);
    expect(runs).toBe(2);
    expect((await get(`${app.base}/readyz`)).status).toBe(503);
    expect(runs).toBe(2);
  });
});

describe('timeouts', () => {
  it('a hanging check is reported as timed out and its signal aborts', async () => {
    vi.useFakeTimers(FAKE);
    app = await startNodeApp({ metrics: false, health: { eventLoop: false, cacheMs: 0 } });
    let seen: AbortSignal | undefined;
    const entered = deferred();
    app.obs.health.register(
      'hang',
      (signal) => {
        seen = signal;
        entered.resolve();
        return new Promise(() => {});
      },
      { timeoutMs: 300 },
    );
    const pending = get(`${app.base}/healthz`);
    await entered.promise;
    expect(seen!.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(299);
    expect(seen!.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const res = await pending;
    expect(seen!.aborted).toBe(true);
    expect((seen!.reason as DOMException).name).toBe('TimeoutError');
    expect(res.status).toBe(503);
    const body = JSON.parse(res.body) as { checks: { hang: Record<string, unknown> } };
    expect(body.checks.hang).toEqual({
      status: 'unhealthy',
      latency_ms: 300,
      message: 'timed out after 300 ms',
      critical: true,
      kind: 'readiness',
      timed_out: true,
    });
  });

  it('the default timeout is health.timeoutMs (800)', async () => {
    vi.useFakeTimers(FAKE);
    const reports: CheckReport[] = [];
    const runner = new CheckRunner({ timeoutMs: 800, cacheMs: 0, refreshMs: 0, sink: { checkFinished: (r) => reports.push(r) }, report: () => {} });
    runner.add('hang', () => new Promise(() => {}), { critical: false, timeoutMs: 800, kind: 'liveness' });
    const run = runner.collect(['hang']);
    await vi.advanceTimersByTimeAsync(799);
    expect(reports).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    const [r] = await run;
    expect(r).toMatchObject({ name: 'hang', status: 'unhealthy', timedOut: true, latencyMs: 800, critical: false, kind: 'liveness' });
    expect(reports).toEqual([r]);
  });

  it('synchronous throws and odd results are unhealthy, true/undefined healthy, false unhealthy', async () => {
    const runner = new CheckRunner({ timeoutMs: 100, cacheMs: 0, refreshMs: 0, sink: undefined, report: () => {} });
    const opts = { critical: true, timeoutMs: 100, kind: 'readiness' } as const;
    runner.add('sync_throw', () => {
      throw new TypeError('bad');
    }, opts);
    runner.add('t', () => true, opts);
    runner.add('u', () => undefined, opts);
    runner.add('f', () => false, opts);
    runner.add('odd', () => ({ status: 'fine' }) as never, opts);
    const reports = await runner.collect(['sync_throw', 't', 'u', 'f', 'odd']);
    expect(reports.map((r) => [r.name, r.status, r.message])).toEqual([
      ['sync_throw', 'unhealthy', 'bad'],
      ['t', 'healthy', undefined],
      ['u', 'healthy', undefined],
      ['f', 'unhealthy', undefined],
      ['odd', 'unhealthy', 'check resolved to an unrecognised value'],
    ]);
    // A failed synchronous run must not leave a stale run in flight: the next call runs again.
    let n = 0;
    runner.add('again', () => {
      n++;
      throw new Error('x');
    }, opts);
    await runner.collect(['again']);
    await runner.collect(['again']);
    expect(n).toBe(2);
  });
});

describe('metrics', () => {
  it('health_check_status and health_check_duration_seconds follow the runs', async () => {
    app = await startNodeApp({ health: { eventLoop: false, cacheMs: 0 } });
    let status: 'healthy' | 'degraded' | 'unhealthy' = 'degraded';
    app.obs.health.register('db', () => ({ status }));
    app.obs.health.register('cache', () => ({ status: 'healthy' }), { critical: false });
    await get(`${app.base}/readyz`);
    status = 'unhealthy';
    await get(`${app.base}/readyz`);
    const text = (await get(`${app.base}/metrics`)).body;
    const lines = text.split('\n');
    expect(lines).toContain('health_check_status{check="db"} 0');
    expect(lines).toContain('health_check_status{check="cache"} 1');
    expect(lines).toContain('health_check_duration_seconds_count{check="db"} 2');
    expect(lines).toContain('health_check_duration_seconds_count{check="cache"} 2');
    // Probes are not requests of the app: no request series for them.
    expect(text).not.toContain('route="/readyz"');
    expect(text).not.toMatch(/http_requests_total\{[^}]*\} [1-9]/);
  });
});
