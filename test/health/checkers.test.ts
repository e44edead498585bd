import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventLoopCheck, heapCheck, httpCheck, postgresCheck, redisCheck } from '../../src/index.js';
import { canConnect, closedPort, get, PrivateRedis, startNodeApp } from './helpers.js';
import { promtoolCheck, promtoolPath } from '../helpers.js';
import type { Started } from './helpers.js';

/*
 * Real PostgreSQL (127.0.0.1:5432, user postgres, database test) and Redis (127.0.0.1:6379).
 * Without them a plain run skips these tests and says so; with CI set it fails instead.
 */
const CI = (process.env.CI ?? '') !== '';
const pgUp = await canConnect(5432);
const redisUp = await canConnect(6379);
const redisServerBinary = await new Promise<boolean>((resolve) => {
  const p = spawn('redis-server', ['--version'], { stdio: 'ignore' });
  p.on('error', () => resolve(false));
  p.on('exit', (code) => resolve(code === 0));
});
for (const [up, what] of [
  [pgUp, 'PostgreSQL at 127.0.0.1:5432'],
  [redisUp, 'Redis at 127.0.0.1:6379'],
  [redisServerBinary, 'the redis-server binary (for the private fault-test server)'],
] as const) {
  if (!up && !CI) console.warn(`periscope health tests: SKIPPING tests that need ${what}: it is unreachable (set CI=1 to make this a failure).`);
}
function requireService(up: boolean, what: string): void {
  if (!up) throw new Error(`${what} is unreachable and CI is set: start it (see the machine's service commands) before running the tests.`);
}

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  vi.useRealTimers();
});

async function app(): Promise<Started> {
  const a = await startNodeApp({ health: { eventLoop: false, cacheMs: 0 } });
  cleanups.push(() => a.close());
  return a;
}

describe.skipIf(!pgUp && !CI)('PostgreSQL checker (real server)', () => {
  beforeAll(() => requireService(pgUp, 'PostgreSQL at 127.0.0.1:5432'));

  it('a Pool is healthy, reports its sizes in /healthz and as pool metrics', async () => {
    const pool = new pg.Pool({ ...PG, max: 3 });
    cleanups.push(() => pool.end());
    const a = await app();
    a.obs.health.register('postgres', postgresCheck(pool));
    const res = await get(`${a.base}/healthz`);
    expect(res.status).toBe(200);
    const check = (JSON.parse(res.body) as { checks: Record<string, { status: string; details: unknown }> }).checks.postgres!;
    expect(check.status).toBe('healthy');
    expect(check.details).toEqual({ total: 1, idle: 1, waiting: 0, max: 3 });
    const text = (await get(`${a.base}/metrics`)).body;
    // The pool gauges pass promtool too (a gauge named *_count did not).
    if (promtoolPath() !== null || CI) expect(promtoolCheck(text)).toBe('');
    const metrics = text.split('\n');
    expect(metrics).toContain('db_client_connections{pool_name="postgres",state="idle"} 1');
    expect(metrics).toContain('db_client_connections{pool_name="postgres",state="used"} 0');
    expect(metrics).toContain('db_client_connection_pending_requests{pool_name="postgres"} 0');
    expect(metrics).toContain('db_client_connection_max{pool_name="postgres"} 3');
    expect(metrics).toContain('health_check_status{check="postgres"} 1');
  });

  it('an exhausted Pool: the check times out and the metrics show every connection used and one waiting', async () => {
    const pool = new pg.Pool({ ...PG, max: 1 });
    cleanups.push(() => pool.end());
    const held = await pool.connect();
    const a = await app();
    a.obs.health.register('postgres', postgresCheck(pool), { timeoutMs: 200 });
    const res = await get(`${a.base}/readyz`);
    expect(res).toMatchObject({ status: 503, body: '[+]lifecycle ok\n[-]postgres failed: timed out after 200 ms\nreadyz check failed\n' });
    const metrics = (await get(`${a.base}/metrics`)).body.split('\n');
    expect(metrics).toContain('db_client_connections{pool_name="postgres",state="used"} 1');
    expect(metrics).toContain('db_client_connection_pending_requests{pool_name="postgres"} 1');
    held.release();
    await vi.waitFor(() => expect(pool.waitingCount).toBe(0));
    expect((await get(`${a.base}/readyz`)).status).toBe(200);
  });

  it('a Client is healthy while connected and unhealthy once it has ended', async () => {
    const client = new pg.Client(PG);
    await client.connect();
    const a = await app();
    a.obs.health.register('pg_client', postgresCheck(client));
    expect(await get(`${a.base}/readyz/pg_client`)).toMatchObject({ status: 200, body: 'ok\n' });
    await client.end();
    const res = await get(`${a.base}/readyz/pg_client`);
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/^\[-\]pg_client failed: .*(not queryable|ended|terminated)/i);
  });

  it('a Pool pointed at a closed port is unhealthy with the driver error', async () => {
    const pool = new pg.Pool({ ...PG, port: await closedPort() });
    cleanups.push(() => pool.end());
    const a = await app();
    a.obs.health.register('postgres', postgresCheck(pool));
    const res = await get(`${a.base}/readyz/postgres`);
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/^\[-\]postgres failed: connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/);
  });
});

describe.skipIf(!redisUp && !CI)('Redis checkers on the shared server', () => {
  beforeAll(() => requireService(redisUp, 'Redis at 127.0.0.1:6379'));

  it('ioredis and node-redis clients are healthy', async () => {
    const io = new Redis({ host: '127.0.0.1', port: 6379 });
    cleanups.push(() => io.quit());
    const nr = createClient({ url: 'redis://127.0.0.1:6379' });
    nr.on('error', () => {});
    await nr.connect();
    cleanups.push(() => nr.close());
    await new Promise<void>((r) => (io.status === 'ready' ? r() : io.once('ready', () => r())));
    const a = await app();
    a.obs.health.register('ioredis', redisCheck(io));
    a.obs.health.register('node_redis', redisCheck(nr));
    expect(await get(`${a.base}/readyz?verbose`)).toMatchObject({
      status: 200,
      body: '[+]lifecycle ok\n[+]ioredis ok\n[+]node_redis ok\nreadyz check passed\n',
    });
  });
});

describe.skipIf(!redisServerBinary && !CI)('Redis fault test on a private redis-server', () => {
  let server: PrivateRedis;
  beforeAll(async () => {
    requireService(redisServerBinary, 'redis-server');
    server = new PrivateRedis(await closedPort());
    await server.start();
  });
  afterAll(() => server?.kill());

  it('/readyz goes 503 when the server is killed and back to 200 when it restarts', async () => {
    const io = new Redis({ host: '127.0.0.1', port: server.port, retryStrategy: () => 50, maxRetriesPerRequest: 1 });
    io.on('error', () => {});
    cleanups.push(() => io.disconnect());
    const nr = createClient({ socket: { host: '127.0.0.1', port: server.port, reconnectStrategy: () => 50 } });
    nr.on('error', () => {});
    await nr.connect();
    cleanups.push(() => nr.destroy());
    await vi.waitFor(() => expect(io.status).toBe('ready'), { timeout: 5000, interval: 20 });
    const a = await app();
    a.obs.health.register('ioredis', redisCheck(io));
    a.obs.health.register('node_redis', redisCheck(nr));
    expect((await get(`${a.base}/readyz`)).status).toBe(200);

    await server.kill();
    await vi.waitFor(
      () => {
        expect(io.status).not.toBe('ready');
        expect(nr.isReady).toBe(false);
      },
      { timeout: 5000, interval: 20 },
    );
    const down = await get(`${a.base}/readyz`);
    expect(down.status).toBe(503);
    const lines = down.body.split('\n');
    expect(lines[1]).toMatch(/^\[-\]ioredis failed: connection (reconnecting|connecting|close)$/);
    expect(lines[2]).toBe('[-]node_redis failed: client not connected');
    expect(lines[3]).toBe('readyz check failed');
    expect((await get(`${a.base}/metrics`)).body).toContain('health_check_status{check="ioredis"} 0');

    await server.start();
    await vi.waitFor(
      () => {
        expect(io.status).toBe('ready');
        expect(nr.isReady).toBe(true);
      },
      { timeout: 5000, interval: 20 },
    );
    expect(await get(`${a.base}/readyz`)).toMatchObject({ status: 200, body: 'ok\n' });
  });
});

describe('HTTP, event loop and heap checkers', () => {
  it('HTTP: 2xx healthy, other codes degraded, connection errors unhealthy', async () => {
    const dep = createServer((req, res) => {
      res.writeHead(req.url === '/ok' ? 204 : 502).end();
    });
    await new Promise<void>((r) => dep.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => dep.close(r)));
    const depBase = `http://127.0.0.1:${(dep.address() as AddressInfo).port}`;
    const a = await app();
    a.obs.health.register('up', httpCheck(`${depBase}/ok`));
    a.obs.health.register('bad_gateway', httpCheck(`${depBase}/fail`));
    const gonePort = await closedPort();
    a.obs.health.register('gone', httpCheck(`http://127.0.0.1:${gonePort}/`), { critical: false });
    const res = await get(`${a.base}/readyz?verbose`);
    expect(res.status).toBe(200);
    expect(res.body).toBe(
      `[+]lifecycle ok\n[+]up ok\n[~]bad_gateway degraded: HTTP 502\n[-]gone failed (non-critical): connect ECONNREFUSED 127.0.0.1:${gonePort}\nreadyz check passed (degraded)\n`,
    );
  });

  it('event loop: a real 300 ms block fails a 100 ms limit', async () => {
    const check = eventLoopCheck({ maxDelayMs: 100 });
    cleanups.push(() => check.close?.());
    await new Promise((r) => setTimeout(r, 30));
    const end = Date.now() + 300;
    while (Date.now() < end) {
      // Block the event loop on purpose.
    }
    // Let the late tick fire and record the block before the check reads it.
    await new Promise((r) => setTimeout(r, 30));
    const blocked = (await check(new AbortController().signal)) as { status: string; message: string; details: { max_delay_ms: number } };
    expect(blocked.status).toBe('unhealthy');
    expect(blocked.details.max_delay_ms).toBeGreaterThanOrEqual(280);
    expect(blocked.message).toBe(`event loop blocked for ${blocked.details.max_delay_ms} ms (limit 100 ms)`);
  });

  it('event loop: a block seen before its tick fires is counted once, then the window resets', async () => {
    // Only the clock is fake: the check's real interval then sees no lateness of its own,
    // and moving the clock stands for a block that has just ended.
    vi.useFakeTimers({ toFake: ['performance'] });
    const check = eventLoopCheck({ maxDelayMs: 100 });
    cleanups.push(() => check.close?.());
    vi.advanceTimersByTime(300);
    const signal = new AbortController().signal;
    expect(await check(signal)).toEqual({ status: 'unhealthy', message: 'event loop blocked for 290 ms (limit 100 ms)', details: { max_delay_ms: 290 } });
    await new Promise((r) => setTimeout(r, 30));
    expect(await check(signal)).toEqual({ status: 'healthy', details: { max_delay_ms: 0 } });
    vi.advanceTimersByTime(100);
    expect(await check(signal)).toEqual({ status: 'healthy', details: { max_delay_ms: 90 } });
  });

  it('heap: degraded above the ratio, healthy under it', async () => {
    const full = (await heapCheck({ maxUsedRatio: 0 })(new AbortController().signal)) as { status: string; message: string; details: Record<string, number> };
    expect(full.status).toBe('degraded');
    expect(full.message).toBe(`heap ${Math.round(full.details.used_ratio! * 100)}% full`);
    expect(full.details.used_bytes).toBeLessThan(full.details.limit_bytes!);
    expect(((await heapCheck({ maxUsedRatio: 1 })(new AbortController().signal)) as { status: string }).status).toBe('healthy');
  });
});
