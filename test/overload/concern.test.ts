import { afterEach, describe, expect, test } from 'vitest';
import { FRAMEWORKS, startApp } from '../fixtures/apps.js';
import type { TestApp } from '../fixtures/apps.js';
import { instrument, PeriscopeError } from '../../src/index.js';
import { CircuitOpenError } from '../../src/resilience/index.js';
import { overloadConcern, resolveOverload } from '../../src/overload/index.js';
import type { ResolvedOverloadOptions } from '../../src/overload/index.js';
import type { ConcernContext, RequestScope } from '../../src/core/index.js';
import { createServer } from 'node:http';
import { parseExposition } from '../helpers.js';

let app: TestApp | undefined;
afterEach(async () => {
  app?.gate.release();
  await app?.close();
  app = undefined;
});

async function metrics(base: string) {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

/** Sends `n` requests to /gate and resolves once the handler holds all of them. */
async function fill(a: TestApp, n: number): Promise<Promise<Response>[]> {
  a.gate.arm();
  let entered = 0;
  const all = new Promise<void>((resolve) => a.gate.on('entered', () => ++entered === n && resolve()));
  const pending = Array.from({ length: n }, () => fetch(`${a.base}/gate`));
  await all;
  return pending;
}

describe.each(FRAMEWORKS)('overload on %s', (framework) => {
  test('a request over the limit gets 503 with Retry-After at once and never reaches the handler; probes and /metrics still answer', async () => {
    app = await startApp(framework, { overload: { limit: 2 } });
    let entered = 0;
    app.gate.on('entered', () => entered++);
    const held = await fill(app, 2);
    const shed = await fetch(`${app.base}/gate`);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(shed.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await shed.json()).toEqual({ error: 'Service Unavailable', status: 503, reason: 'overloaded' });
    expect(entered).toBe(2);
    expect((await fetch(`${app.base}/livez`)).status).toBe(200);
    expect((await fetch(`${app.base}/readyz`)).status).toBe(200);
    const m = await metrics(app.base);
    expect(m.http_server_concurrency_limit!.data).toEqual([{ labels: { partition: 'all' }, value: 2 }]);
    expect(m.http_server_inflight!.data).toEqual([{ labels: { partition: 'all' }, value: 2 }]);
    // Express learns the route from its router, which a shed request never reaches.
    const route = framework === 'express' ? 'unmatched' : '/gate';
    expect(m.http_server_requests_shed_total!.data).toEqual([{ labels: { route }, value: 1 }]);
    expect(m.http_requests_total!.data.find((s) => s.labels.status_code === '503')).toEqual({ labels: { method: 'GET', route, status_code: '503' }, value: 1 });
    app.gate.release();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    // Both slots are free again.
    const after = await fetch(`${app.base}${app.usersPath('7')}`);
    expect(after.status).toBe(200);
    expect((await metrics(app.base)).http_server_inflight!.data).toEqual([{ labels: { partition: 'all' }, value: 0 }]);
  });

  test('a partition below its guaranteed share is admitted when the rest filled the limit', async () => {
    app = await startApp(framework, { overload: { limit: 2, partitions: [{ name: 'users', routes: [app0Users(framework)], share: 0.5 }] } });
    const held = await fill(app, 2);
    expect((await fetch(`${app.base}/gate`)).status).toBe(503);
    expect((await fetch(`${app.base}${app.usersPath('1')}`)).status).toBe(200);
    const m = await metrics(app.base);
    expect(m.http_server_concurrency_limit!.data).toEqual([
      { labels: { partition: 'all' }, value: 2 },
      { labels: { partition: 'users' }, value: 1 },
    ]);
    app.gate.release();
    await Promise.all(held);
  });

  test('readiness: /readyz answers 503 while shedding is above the ratio', async () => {
    app = await startApp(framework, { overload: { limit: 1, readiness: { shedRatio: 0.5 } }, health: { cacheMs: 0 } });
    const held = await fill(app, 1);
    expect((await fetch(`${app.base}/readyz`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await fetch(`${app.base}/gate`)).status).toBe(503);
    const ready = await fetch(`${app.base}/readyz?verbose`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('[-]overload failed');
    // The ratio is over the time since the check last ran: no new shedding, ready again.
    expect((await fetch(`${app.base}/readyz`)).status).toBe(200);
    app.gate.release();
    await Promise.all(held);
  });
});

/** The users route as a partition matches it: on the request URL, so Express's mount prefix is part of it. */
function app0Users(framework: string): string {
  return framework === 'express' ? '/api/v1/users/:id' : '/users/:id';
}

describe('overload options', () => {
  test('off by default', () => {
    expect(resolveOverload(undefined)).toBe(false);
    expect(resolveOverload(true)).toEqual({ limit: 'gradient', minLimit: 10, maxLimit: 1000, initialLimit: 100, smoothing: 0.2, partitions: [], readiness: false });
  });

  test.each([
    [{ limit: 'vegas' }, 'PERISCOPE_ERR_INVALID_OPTION', "Invalid option `overload.limit`: got \"vegas\"; allowed: 'gradient', 'aimd' or an integer from 1 to 1000000."],
    [{ limit: 0 }, 'PERISCOPE_ERR_INVALID_OPTION', 'overload.limit'],
    [{ minLimit: 50, maxLimit: 20 }, 'PERISCOPE_ERR_INVALID_OPTION', 'overload.maxLimit'],
    [{ smoothing: 0 }, 'PERISCOPE_ERR_INVALID_OPTION', 'overload.smoothing'],
    [{ partitions: [{ name: 'all', routes: ['/a'], share: 0.5 }] }, 'PERISCOPE_ERR_INVALID_OPTION', 'overload.partitions[0].name'],
    [{ partitions: [{ name: 'a', routes: [], share: 0.5 }] }, 'PERISCOPE_ERR_INVALID_OPTION', 'overload.partitions[0].routes'],
    [{ partitions: [{ name: 'a', routes: ['/a'], share: 0.7 }, { name: 'b', routes: ['/b'], share: 0.5 }] }, 'PERISCOPE_ERR_INVALID_OPTION', 'shares adding up to at most 1'],
    [{ readiness: { shedRatio: 2 } }, 'PERISCOPE_ERR_INVALID_OPTION', 'overload.readiness.shedRatio'],
    [{ limt: 5 }, 'PERISCOPE_ERR_UNKNOWN_OPTION', 'overload.limt'],
  ])('%j throws %s at instrument()', (overload, code, text) => {
    let error: unknown;
    try {
      instrument(createServer(), { overload: overload as never, logging: false, shutdown: false });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PeriscopeError);
    expect((error as PeriscopeError).code).toBe(code);
    expect((error as Error).message).toContain(text);
  });
});

describe('overload samples', () => {
  const ctx = { registry: undefined, logger: { debug() {} }, report() {} } as unknown as ConcernContext;
  function scope(start: number, error?: unknown): RequestScope {
    return { req: { url: '/' }, startTime: start, duration: 0.005, error, overloadPartition: -2, rejection: undefined } as unknown as RequestScope;
  }

  test('a request failed fast by an open breaker is not a latency sample', () => {
    const concern = overloadConcern(ctx, resolveOverload({ limit: 'gradient' }) as ResolvedOverloadOptions, { registerCheck: undefined });
    const hook = concern.hook!;
    for (let i = 0; i < 30; i++) {
      const s = scope(i * 100, new CircuitOpenError('db', 'open', 1000));
      hook.onStart!(s);
      hook.onEnd(s);
    }
    expect(concern.limiter.windows).toBe(0);
    expect(concern.limiter.inflight).toBe(0);
    for (let i = 0; i < 30; i++) {
      const s = scope(10_000 + i * 100, new Error('a real failure took real time'));
      hook.onStart!(s);
      hook.onEnd(s);
    }
    // 10 samples 100 ms apart make a window.
    expect(concern.limiter.windows).toBe(3);
  });
});


describe('overload logging', () => {
  test('a shed request is logged at debug (its request line and one summary line), never at error', async () => {
    const { Capture } = await import('../logging/helpers.js');
    const capture = new Capture();
    app = await startApp('node-http', { overload: { limit: 1 }, logging: { destination: capture, level: 'debug' } });
    const held = await fill(app, 1);
    const shed = await fetch(`${app.base}/hello/x`);
    expect(shed.status).toBe(503);
    await shed.text();
    app.gate.release();
    await Promise.all(held);
    await new Promise((resolve) => setImmediate(resolve));
    const lines = capture.lines;
    const shedLine = lines.find((l) => l.status_code === 503 || (l.res as { statusCode?: number } | undefined)?.statusCode === 503);
    expect(shedLine?.level).toBe('debug');
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines.find((l) => l.msg === 'requests shed: over the concurrency limit')).toMatchObject({ level: 'debug', shed: 1, limit: 1, inflight: 1 });
  });
});

describe('overload readiness without health', () => {
  test('says once, at start, that overload.readiness has no effect with health: false', () => {
    const lines: string[] = [];
    instrument(createServer(), {
      routes: ['/x'],
      health: false,
      shutdown: false,
      overload: { readiness: true },
      logging: { destination: { write: (line: string) => lines.push(line) }, sync: true },
    });
    const ours = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.periscope_error === 'PERISCOPE_OVERLOAD_READINESS_OFF');
    expect(ours.map((l) => [l.level, l.msg])).toEqual([['warn', 'periscope: overload.readiness has no effect with health: false (there is no readiness to report to).']]);
  });
});
