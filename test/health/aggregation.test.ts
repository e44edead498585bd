import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { HealthCheck } from '../../src/index.js';
import { deferred, get, startNodeApp } from './helpers.js';
import type { Started } from './helpers.js';

type Outcome = 'healthy' | 'degraded' | 'unhealthy' | 'timeout' | 'throws';
const OUTCOMES: Outcome[] = ['healthy', 'degraded', 'unhealthy', 'timeout', 'throws'];
const TIMEOUT_MS = 40;

/** Each timeout check announces that it started, so the test advances fake time only then. */
const started = new Map<string, ReturnType<typeof deferred<void>>>();

function makeCheck(name: string, outcome: Outcome): HealthCheck {
  switch (outcome) {
    case 'healthy':
      return async () => ({ status: 'healthy' });
    case 'degraded':
      return async () => ({ status: 'degraded', message: 'slow replica' });
    case 'unhealthy':
      return async () => ({ status: 'unhealthy', message: 'connection refused' });
    case 'throws':
      return async () => {
        throw new Error('boom');
      };
    case 'timeout':
      return () => {
        started.get(name)?.resolve();
        return new Promise(() => {});
      };
  }
}

const rows = [true, false].flatMap((critical) => OUTCOMES.map((outcome) => ({ critical, outcome, name: `${critical ? 'crit' : 'opt'}_${outcome}` })));
const allNames = rows.map((r) => r.name);

function line(name: string, critical: boolean, outcome: Outcome): string {
  const failed = critical ? 'failed' : 'failed (non-critical)';
  switch (outcome) {
    case 'healthy':
      return `[+]${name} ok`;
    case 'degraded':
      return `[~]${name} degraded: slow replica`;
    case 'unhealthy':
      return `[-]${name} ${failed}: connection refused`;
    case 'timeout':
      return `[-]${name} ${failed}: timed out after ${TIMEOUT_MS} ms`;
    case 'throws':
      return `[-]${name} ${failed}: boom`;
  }
}

function expected(critical: boolean, outcome: Outcome): { status: 'healthy' | 'degraded' | 'unhealthy'; code: number } {
  if (outcome === 'healthy') return { status: 'healthy', code: 200 };
  if (outcome === 'degraded') return { status: 'degraded', code: 200 };
  return critical ? { status: 'unhealthy', code: 503 } : { status: 'degraded', code: 200 };
}

/** Runs `fn` and, when it involves a hanging check, moves fake time past the timeout once it started. */
async function probe(url: string, hanging: string[]): Promise<Awaited<ReturnType<typeof get>>> {
  for (const n of hanging) started.set(n, deferred());
  const pending = get(url);
  if (hanging.length > 0) {
    await Promise.all(hanging.map((n) => started.get(n)!.promise));
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
  }
  return pending;
}

describe('aggregation table', () => {
  let app: Started;
  beforeAll(async () => {
    // The clock is fake too, so latencies are exact: 0 for a prompt check, the timeout for a hanging one.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
    app = await startNodeApp({ metrics: false, health: { cacheMs: 0, eventLoop: false } });
    for (const r of rows) app.obs.health.register(r.name, makeCheck(r.name, r.outcome), { critical: r.critical, timeoutMs: TIMEOUT_MS });
  });
  afterAll(async () => {
    vi.useRealTimers();
    await app.close();
  });

  const only = (name: string) => allNames.filter((n) => n !== name).join(',');

  it.each(rows)('$name: /readyz, /readyz?verbose and /healthz', async ({ name, critical, outcome }) => {
    const hanging = outcome === 'timeout' ? [name] : [];
    const want = expected(critical, outcome);

    const plain = await probe(`${app.base}/readyz?exclude=${only(name)}`, hanging);
    expect(plain.status).toBe(want.code);
    const verboseBody = [
      '[+]lifecycle ok',
      line(name, critical, outcome),
      ...allNames.filter((n) => n !== name).map((n) => `[x]${n} excluded`),
      `readyz check ${want.status === 'unhealthy' ? 'failed' : want.status === 'degraded' ? 'passed (degraded)' : 'passed'}`,
      '',
    ].join('\n');
    // Passing probes answer tersely; a failing one lists every check, as the Kubernetes API server does.
    expect(plain.body).toBe(want.status === 'healthy' ? 'ok\n' : want.status === 'degraded' ? 'degraded\n' : verboseBody);

    const verbose = await probe(`${app.base}/readyz?verbose&exclude=${only(name)}`, hanging);
    expect(verbose.status).toBe(want.code);
    expect(verbose.body).toBe(verboseBody);

    const healthz = await probe(`${app.base}/healthz?exclude=${only(name)}`, hanging);
    expect(healthz.status).toBe(want.code);
    expect(healthz.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = JSON.parse(healthz.body) as { status: string; state: string; version: string; checks: Record<string, Record<string, unknown>> };
    expect(body.status).toBe(want.status);
    expect(body.state).toBe('ready');
    expect(Object.keys(body.checks)).toEqual([name]);
    const check = body.checks[name]!;
    const message = { healthy: null, degraded: 'slow replica', unhealthy: 'connection refused', timeout: `timed out after ${TIMEOUT_MS} ms`, throws: 'boom' }[outcome];
    expect(check).toEqual({
      status: outcome === 'timeout' || outcome === 'throws' ? 'unhealthy' : outcome,
      latency_ms: outcome === 'timeout' ? TIMEOUT_MS : 0,
      message,
      critical,
      kind: 'readiness',
      timed_out: outcome === 'timeout',
    });

    const single = await probe(`${app.base}/readyz/${name}`, hanging);
    // A check asked for by name answers for itself: unhealthy is 503 even when it is not critical.
    const singleUnhealthy = outcome === 'unhealthy' || outcome === 'timeout' || outcome === 'throws';
    expect(single.status).toBe(singleUnhealthy ? 503 : 200);
    expect(single.body).toBe(outcome === 'healthy' ? 'ok\n' : `${line(name, critical, outcome)}\n`);
  });

  it.each([
    { checks: ['crit_healthy', 'opt_unhealthy'], code: 200, status: 'degraded' },
    { checks: ['crit_degraded', 'opt_healthy'], code: 200, status: 'degraded' },
    { checks: ['crit_healthy', 'opt_healthy'], code: 200, status: 'healthy' },
    { checks: ['crit_throws', 'opt_healthy', 'opt_degraded'], code: 503, status: 'unhealthy' },
    { checks: ['crit_timeout', 'crit_healthy', 'opt_throws'], code: 503, status: 'unhealthy' },
  ])('several checks $checks -> $code $status', async ({ checks, code, status }) => {
    const exclude = allNames.filter((n) => !checks.includes(n)).join(',');
    const hanging = checks.filter((n) => n.endsWith('_timeout'));
    const res = await probe(`${app.base}/healthz?exclude=${exclude}`, hanging);
    expect(res.status).toBe(code);
    const body = JSON.parse(res.body) as { status: string; checks: Record<string, unknown> };
    expect(body.status).toBe(status);
    expect(Object.keys(body.checks)).toEqual(allNames.filter((n) => checks.includes(n)));
  });

  it('all ten checks together: a critical failure wins', async () => {
    const res = await probe(`${app.base}/readyz`, ['crit_timeout', 'opt_timeout']);
    expect(res.status).toBe(503);
    expect(res.body.split('\n')).toEqual([
      '[+]lifecycle ok',
      ...rows.map((r) => line(r.name, r.critical, r.outcome)),
      'readyz check failed',
      '',
    ]);
  });

  it('HEAD answers without a body and other methods get 405', async () => {
    const head = await fetch(`${app.base}/livez`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(`${app.base}/readyz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});
