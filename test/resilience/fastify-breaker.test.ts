import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { instrument, isCircuitOpenError, isCircuitTimeoutError } from '../../src/index.js';
import type { Periscope, StateChangeEvent } from '../../src/index.js';
import { histogram, sample, scrape } from './prom.js';

/** A real dependency: answers `status`, or never answers on /hang. Counts what it got. */
class Dependency {
  status = 500;
  hits = 0;
  readonly server: Server;
  readonly hung: { req: IncomingMessage; res: ServerResponse; closedBeforeAnswer?: boolean }[] = [];
  #hungArrived: (() => void) | undefined;
  constructor() {
    this.server = createServer((req, res) => {
      this.hits++;
      if (req.url === '/hang') {
        const entry: (typeof this.hung)[number] = { req, res };
        res.on('close', () => (entry.closedBeforeAnswer = !res.writableFinished));
        this.hung.push(entry);
        this.#hungArrived?.();
        return;
      }
      res.writeHead(this.status, { 'content-type': 'text/plain' }).end(`status ${this.status}`);
    });
  }
  nextHang(): Promise<void> {
    return new Promise((resolve) => (this.#hungArrived = resolve));
  }
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

let dep: Dependency;
let depUrl: string;
let app: FastifyInstance;
let obs: Periscope;
let base: string;
let changes: StateChangeEvent[];

beforeEach(async () => {
  // The clock and setTimeout are fake (openMs and timeoutMs pass at will); sockets are real.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  dep = new Dependency();
  depUrl = await dep.listen();
  app = Fastify();
  obs = instrument(app, { metrics: { defaultMetrics: false } });
  const payments = obs.breaker('payments', { window: { type: 'count', size: 10 }, minimumCalls: 5, openMs: 30_000 });
  const inventory = obs.breaker('inventory', { timeoutMs: 1000 });
  changes = [];
  payments.on('stateChange', (e) => changes.push(e));
  const call = async (signal: AbortSignal, path: string) => {
    const res = await fetch(`${depUrl}${path}`, { signal });
    const text = await res.text();
    if (res.status >= 500) throw new Error(`dependency answered ${res.status}`);
    return text;
  };
  app.get('/checkout', async (_request, reply) => {
    try {
      return { paid: await payments.execute((signal) => call(signal, '/pay')) };
    } catch (error) {
      if (isCircuitOpenError(error)) return reply.code(503).send({ error: 'payments unavailable' });
      return reply.code(502).send({ error: (error as Error).message });
    }
  });
  app.get('/stock', async (_request, reply) => {
    try {
      return { stock: await inventory.execute((signal) => call(signal, '/hang')) };
    } catch (error) {
      return reply.code(isCircuitTimeoutError(error) ? 504 : 502).send({ error: (error as Error).message });
    }
  });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterEach(async () => {
  vi.useRealTimers();
  await obs.shutdown();
  await app.close();
  dep.server.closeAllConnections();
  await new Promise((resolve) => dep.server.close(resolve));
});

const oneHot = (m: Awaited<ReturnType<typeof scrape>>, name: string) =>
  ['closed', 'open', 'half_open'].map((state) => sample(m, 'circuit_breaker_state', { name, state }));
const outcomes = (m: Awaited<ReturnType<typeof scrape>>, name: string) =>
  Object.fromEntries(['success', 'failure', 'timeout', 'rejected', 'fallback'].map((o) => [o, sample(m, 'circuit_breaker_calls_total', { name, outcome: o })]));

test('a failing dependency trips the breaker: metrics, the state-change event and health tell it', async () => {
  let m = await scrape(`${base}/metrics`);
  expect(oneHot(m, 'payments')).toEqual([1, 0, 0]);
  expect(outcomes(m, 'payments')).toEqual({ success: 0, failure: 0, timeout: 0, rejected: 0, fallback: 0 });

  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await fetch(`${base}/checkout`)).status);
  expect(statuses).toEqual([502, 502, 502, 502, 502, 503, 503, 503]);
  // Open rejects without calling: the dependency saw only the 5 calls that tripped it.
  expect(dep.hits).toBe(5);

  m = await scrape(`${base}/metrics`);
  expect(oneHot(m, 'payments')).toEqual([0, 1, 0]);
  expect(outcomes(m, 'payments')).toEqual({ success: 0, failure: 5, timeout: 0, rejected: 3, fallback: 0 });
  expect(m.get('circuit_breaker_call_duration_seconds')?.type).toBe('histogram');
  expect((await histogram(obs.registry, 'circuit_breaker_call_duration_seconds', { name: 'payments' }))?.count).toBe(5);
  expect(oneHot(m, 'inventory')).toEqual([1, 0, 0]);

  // What logging (warn on open, with the rate) and health (open => degraded) will read.
  expect(changes).toEqual([
    { name: 'payments', from: 'closed', to: 'open', reason: 'failure_rate', failureRate: 1, slowCallRate: 0, calls: 5, consecutiveFailures: 0 },
  ]);
  // No breaker timer runs while open, so no time has to pass for these numbers to hold.
  expect((await fetch(`${base}/checkout`)).status).toBe(503);
});

test('after openMs a scrape shows half_open, and a successful trial closes it', async () => {
  for (let i = 0; i < 5; i++) await fetch(`${base}/checkout`);
  dep.status = 200;
  vi.advanceTimersByTime(30_000);
  let m = await scrape(`${base}/metrics`);
  // The state move is lazy; the scrape itself applies it.
  expect(oneHot(m, 'payments')).toEqual([0, 0, 1]);
  const res = await fetch(`${base}/checkout`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ paid: 'status 200' });
  m = await scrape(`${base}/metrics`);
  expect(oneHot(m, 'payments')).toEqual([1, 0, 0]);
  expect(outcomes(m, 'payments')).toEqual({ success: 1, failure: 5, timeout: 0, rejected: 0, fallback: 0 });
  expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
});

test('a timeout aborts the request to the dependency and counts as a timeout', async () => {
  const hung = dep.nextHang();
  const pending = fetch(`${base}/stock`);
  await hung;
  vi.advanceTimersByTime(999);
  expect(dep.hung[0]!.closedBeforeAnswer).toBe(undefined);
  vi.advanceTimersByTime(1);
  const res = await pending;
  expect(res.status).toBe(504);
  expect(await res.json()).toEqual({
    error: 'PERISCOPE_ERR_CIRCUIT_TIMEOUT: Call through circuit breaker "inventory" timed out after 1000 ms; its signal was aborted.',
  });
  // The aborted fetch closed its connection: the dependency's work was cut off, not left running.
  await new Promise<void>((resolve) => (dep.hung[0]!.closedBeforeAnswer !== undefined ? resolve() : dep.hung[0]!.res.on('close', () => resolve())));
  expect(dep.hung[0]!.closedBeforeAnswer).toBe(true);
  const m = await scrape(`${base}/metrics`);
  expect(outcomes(m, 'inventory')).toEqual({ success: 0, failure: 0, timeout: 1, rejected: 0, fallback: 0 });
  const duration = await histogram(obs.registry, 'circuit_breaker_call_duration_seconds', { name: 'inventory' });
  expect([duration?.count, duration?.sum, duration?.buckets['0.5'], duration?.buckets['1'], duration?.buckets['+Inf']]).toEqual([1, 1, 0, 1, 1]);
});

test('breaker names are unique per handle; without metrics a breaker still works', async () => {
  expect(() => obs.breaker('payments')).toThrow(
    'PERISCOPE_ERR_DUPLICATE_BREAKER: A circuit breaker named "payments" already exists on this handle; create it once and keep the breaker obs.breaker() returned.',
  );
  const bare = Fastify();
  const quiet = instrument(bare, { metrics: false });
  const b = quiet.breaker('payments', { window: { type: 'count', size: 2 }, minimumCalls: 2 });
  await b.execute(() => Promise.reject(new Error('x'))).catch(() => {});
  await b.execute(() => Promise.reject(new Error('x'))).catch(() => {});
  expect(b.health()).toMatchObject({ status: 'degraded', state: 'open' });
  expect(quiet.registry.getMetricsAsArray()).toEqual([]);
  await bare.close();
});
