import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { instrument } from '../../src/index.js';
import type { Periscope } from '../../src/index.js';
import { get } from './helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function probeAll(obs: Periscope, base: string): Promise<void> {
  obs.health.register('db', () => ({ status: 'unhealthy', message: 'down' }), { critical: false });
  expect(await get(`${base}/readyz`)).toMatchObject({ status: 200, body: 'degraded\n' });
  expect(await get(`${base}/readyz?exclude=db`)).toMatchObject({ status: 200, body: 'ok\n' });
  expect(await get(`${base}/readyz/db`)).toMatchObject({ status: 503, body: '[-]db failed (non-critical): down\n' });
  expect(await get(`${base}/livez/event_loop`)).toMatchObject({ status: 200, body: 'ok\n' });
  // A readiness check is not a liveness check.
  expect((await get(`${base}/livez/db`)).status).toBe(404);
  expect((await get(`${base}/healthz`)).status).toBe(200);
  const metrics = (await get(`${base}/metrics`)).body;
  expect(metrics).toContain('health_check_status{check="db"} 0');
  // Probes are served before the request scope starts: they add no request series.
  expect(metrics).not.toMatch(/http_requests_total\{[^}]*\} [1-9]/);
  expect((await get(`${base}/app`)).body).toBe('app\n');
  expect((await get(`${base}/metrics`)).body).toMatch(/http_requests_total\{method="GET",route="\/app",status_code="200"\} 1/);
}

describe('probes in-band on each framework', () => {
  it('Fastify: per-check paths are a wildcard route', async () => {
    const app = Fastify();
    const obs = instrument(app, { shutdown: false });
    app.get('/app', async () => 'app\n');
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close(), () => obs.shutdown());
    await probeAll(obs, `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
  });

  it('Express: the server is learnt at the first request (a probe is one)', async () => {
    const app = express();
    const obs = instrument(app, { shutdown: false });
    app.get('/app', (_q, s) => void s.send('app\n'));
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    cleanups.push(() => new Promise((r) => server.close(r)), () => obs.shutdown());
    await probeAll(obs, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
});

describe('circuit breakers are health-reported', () => {
  it('a breaker is a non-critical check: open makes the service degraded, not unready', async () => {
    const server = (await import('node:http')).createServer((_q, s) => s.end('app\n'));
    const obs = instrument(server, { routes: ['/'], metrics: false, logging: false, shutdown: false, health: { cacheMs: 0, eventLoop: false } });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => obs.shutdown());
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const breaker = obs.breaker('payments api', { consecutiveFailures: 1 });
    expect(await get(`${base}/readyz?verbose`)).toMatchObject({
      status: 200,
      body: '[+]lifecycle ok\n[+]circuit_breaker.payments_api ok\nreadyz check passed\n',
    });
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    const res = await get(`${base}/readyz?verbose`);
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^\[\+\]lifecycle ok\n\[~\]circuit_breaker\.payments_api degraded: circuit breaker "payments api" is open: calls are rejected; a trial call is admitted in \d+ ms\nreadyz check passed \(degraded\)\n$/);
  });
});
