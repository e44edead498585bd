import { spawn } from 'node:child_process';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CheckRunner } from '../../src/health/index.js';
import type { CheckResult, HealthStatus } from '../../src/health/index.js';
import { redisCheck } from '../../src/index.js';
import { captureLogs, closedPort, get, PrivateRedis, startNodeApp } from './helpers.js';

const CI = (process.env.CI ?? '') !== '';
const redisServerBinary = await new Promise<boolean>((resolve) => {
  const p = spawn('redis-server', ['--version'], { stdio: 'ignore' });
  p.on('error', () => resolve(false));
  p.on('exit', (code) => resolve(code === 0));
});
if (!redisServerBinary && !CI) console.warn('periscope health tests: SKIPPING the Redis transition test: no redis-server binary (set CI=1 to make this a failure).');

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A line without its clock-dependent fields, which are checked for shape instead. */
function stable(line: Record<string, unknown>, timeoutMs: number): Record<string, unknown> {
  const { time, latency_ms, ...rest } = line;
  expect(time).toMatch(ISO);
  expect(typeof latency_ms).toBe('number');
  expect(latency_ms as number).toBeGreaterThanOrEqual(0);
  expect(latency_ms as number).toBeLessThanOrEqual(timeoutMs);
  return rest;
}

describe.skipIf(!redisServerBinary && !CI)('a check that changes status logs one line (real Redis)', () => {
  let server: PrivateRedis;
  beforeAll(async () => {
    if (!redisServerBinary) throw new Error('redis-server is missing and CI is set');
    server = new PrivateRedis(await closedPort());
    await server.start();
  });
  afterAll(() => server?.kill());

  it('warn when Redis goes down, nothing while it stays down, info when it is back; /readyz flips with it', async () => {
    const client = createClient({ socket: { host: '127.0.0.1', port: server.port, reconnectStrategy: () => 50 } });
    client.on('error', () => {});
    await client.connect();
    cleanups.push(() => client.destroy());
    const logs = captureLogs();
    const a = await startNodeApp({ serviceName: 'shop', version: '1.2.3', logging: logs.logging, health: { eventLoop: false, cacheMs: 0 } });
    cleanups.push(() => a.close());
    a.obs.health.register('cache', redisCheck(client));
    const checkLines = () => logs.lines.filter((l) => l.check !== undefined);

    // The first healthy result is no change.
    expect(await get(`${a.base}/readyz`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(`${a.base}/readyz`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(checkLines()).toEqual([]);

    await server.kill();
    await vi.waitFor(() => expect(client.isReady).toBe(false), { timeout: 5000, interval: 20 });
    expect(await get(`${a.base}/readyz`)).toMatchObject({
      status: 503,
      body: '[+]lifecycle ok\n[-]cache failed: client not connected\nreadyz check failed\n',
    });
    // Still down: no second line.
    expect((await get(`${a.base}/readyz`)).status).toBe(503);
    expect((await get(`${a.base}/healthz`)).status).toBe(503);
    expect(checkLines().map((l) => stable(l, 800))).toEqual([
      { level: 'warn', service: 'shop', version: '1.2.3', check: 'cache', from: 'healthy', to: 'unhealthy', message: 'client not connected', msg: 'health check failed' },
    ]);

    await server.start();
    await vi.waitFor(() => expect(client.isReady).toBe(true), { timeout: 5000, interval: 20 });
    expect(await get(`${a.base}/readyz`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect((await get(`${a.base}/readyz`)).status).toBe(200);
    expect(checkLines().map((l) => stable(l, 800))).toEqual([
      { level: 'warn', service: 'shop', version: '1.2.3', check: 'cache', from: 'healthy', to: 'unhealthy', message: 'client not connected', msg: 'health check failed' },
      { level: 'info', service: 'shop', version: '1.2.3', check: 'cache', from: 'unhealthy', to: 'healthy', message: null, msg: 'health check recovered' },
    ]);
  });
});

describe('CheckRunner status transitions', () => {
  function runner() {
    const calls: [string, Record<string, unknown>, string][] = [];
    const log = (level: string) => (obj: object, msg: string) => void calls.push([level, obj as Record<string, unknown>, msg]);
    const r = new CheckRunner({
      timeoutMs: 50,
      cacheMs: 0,
      refreshMs: 0,
      sink: undefined,
      logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
      report: (error) => {
        throw error;
      },
    });
    cleanups.push(() => r.close());
    const lines = () => calls.map(([level, obj, msg]) => [level, msg, obj.check, obj.from, obj.to, obj.message]);
    return { r, lines };
  }

  it('logs each change once, with the check\'s message: degrade, fail, recover', async () => {
    const { r, lines } = runner();
    let next: CheckResult = { status: 'healthy' };
    r.add('dep', () => next, { critical: true, timeoutMs: 50, kind: 'readiness' });
    const step = async (status: HealthStatus, message?: string) => {
      next = message === undefined ? { status } : { status, message };
      await r.collect(['dep']);
    };
    await step('healthy');
    await step('healthy');
    await step('degraded', 'slow replies');
    await step('degraded', 'slower replies');
    await step('unhealthy', 'down');
    await step('degraded', 'half back');
    await step('healthy');
    await step('healthy');
    expect(lines()).toEqual([
      ['warn', 'health check degraded', 'dep', 'healthy', 'degraded', 'slow replies'],
      ['warn', 'health check failed', 'dep', 'degraded', 'unhealthy', 'down'],
      ['warn', 'health check degraded', 'dep', 'unhealthy', 'degraded', 'half back'],
      ['info', 'health check recovered', 'dep', 'degraded', 'healthy', null],
    ]);
  });

  it('a first result that is not healthy comes from "unknown"; a thrown error and a timeout give their messages', async () => {
    vi.useFakeTimers();
    cleanups.push(() => vi.useRealTimers());
    const { r, lines } = runner();
    r.add('throws', () => {
      throw new Error('ECONNREFUSED');
    }, { critical: true, timeoutMs: 50, kind: 'readiness' });
    r.add('hangs', () => new Promise<never>(() => {}), { critical: false, timeoutMs: 50, kind: 'readiness' });
    const run = r.collect(['throws', 'hangs']);
    await vi.advanceTimersByTimeAsync(50);
    await run;
    expect(lines()).toEqual([
      ['warn', 'health check failed', 'throws', 'unknown', 'unhealthy', 'ECONNREFUSED'],
      ['warn', 'health check failed', 'hangs', 'unknown', 'unhealthy', 'timed out after 50 ms'],
    ]);
  });

  it('without a logger nothing is written and nothing breaks', async () => {
    const r = new CheckRunner({ timeoutMs: 50, cacheMs: 0, refreshMs: 0, sink: undefined, report: () => {} });
    cleanups.push(() => r.close());
    r.add('dep', () => false, { critical: true, timeoutMs: 50, kind: 'readiness' });
    expect((await r.collect(['dep'])).map((x) => x.status)).toEqual(['unhealthy']);
  });
});
