import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningChild } from '../child-process.js';
import { hammer, parseExposition, promtoolCheck, promtoolPath, samples, value } from '../helpers.js';
import type { Exposition } from '../helpers.js';

// Real Node clusters of test/fixtures/cluster-app.mjs (run from dist/: `npm run build` first).
const FIXTURE = new URL('../fixtures/cluster-app.mjs', import.meta.url).pathname;

interface Event {
  event: string;
  port?: number;
  pid?: number;
  code?: number;
  signal?: string | null;
  chosen?: boolean;
}

function events(child: RunningChild): Event[] {
  return child.stdout
    .split('\n')
    .filter((l) => l.startsWith('{"event"'))
    .map((l) => JSON.parse(l) as Event);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

function start(env: Record<string, string>): RunningChild {
  return new RunningChild(process.execPath, [FIXTURE], { env: { ...process.env, ...env } });
}

/** The slot the primary gave the worker of `pid` (from /healthz). */
async function slotOf(base: string, pid: number): Promise<string> {
  const body = (await (await fetch(`${base}/healthz`)).json()) as { workers: { worker: number; pid: number }[] };
  const w = body.workers.find((x) => x.pid === pid);
  if (w === undefined) throw new Error(`no worker with pid ${pid} in ${JSON.stringify(body)}`);
  return String(w.worker);
}

async function merged(base: string): Promise<{ status: number; text: string; metrics: Exposition }> {
  const res = await fetch(`${base}/metrics`);
  const text = await res.text();
  if (res.status === 200 && promtoolPath() !== null) expect(promtoolCheck(text)).toBe('');
  return { status: res.status, text, metrics: res.status === 200 ? await parseExposition(text) : {} };
}

/** Sum of a counter's series matching `labels`, over every worker. */
function total(metrics: Exposition, name: string, labels: Record<string, string> = {}): number {
  return samples(metrics, name, labels).reduce((a, s) => a + (s.value ?? 0), 0);
}

/** Per worker slot and label set, the counter's values: what must never decrease. */
function perSeries(metrics: Exposition, name: string): Map<string, number> {
  return new Map(samples(metrics, name).map((s) => [JSON.stringify(s.labels), s.value ?? 0]));
}

/**
 * The primary's collectTimeoutMs: a worker that answers later is served as down. Generous (the
 * default), since a busy machine must not turn a live worker into a missing one; the blocked
 * worker below is blocked for well beyond it.
 */
const COLLECT_MS = 2000;

describe('Node cluster with instrumentPrimary()', () => {
  let child: RunningChild;
  let primary: string;
  let app: string;

  beforeAll(async () => {
    child = start({ WORKERS: '2', COLLECT_MS: String(COLLECT_MS) });
    await child.until('"event":"metrics"');
    primary = `http://127.0.0.1:${events(child).find((e) => e.event === 'metrics')!.port}`;
    await waitFor('2 workers listening', () => (events(child).filter((e) => e.event === 'listening').length === 2 ? true : undefined));
    app = `http://127.0.0.1:${events(child).find((e) => e.event === 'listening')!.port}`;
    await waitFor('readiness', async () => ((await fetch(`${primary}/readyz`)).status === 200 ? true : undefined));
  });

  afterAll(async () => {
    await child?.stop('SIGKILL');
  });

  it('sums 100 + 250 requests exactly, per-worker series with worker labels, app_build_info 1, valid for promtool', async () => {
    expect(await hammer(() => `${app}/hello`, 100, 8)).toEqual(new Array(100).fill(200));
    expect(await hammer(() => `${app}/hello`, 250, 8)).toEqual(new Array(250).fill(200));
    const { metrics } = await merged(primary);
    const hello = { method: 'GET', route: '/hello', status_code: '200' };
    expect(total(metrics, 'http_requests_total', hello)).toBe(350);
    expect(new Set(samples(metrics, 'http_requests_total', hello).map((s) => s.labels.worker))).toEqual(new Set(['0', '1']));
    // Every body is 2 bytes: every response falls in the first size bucket (100).
    const sizes = samples(metrics, 'http_response_size_bytes', hello);
    expect(sizes.reduce((a, s) => a + s.buckets!['100']!, 0)).toBe(350);
    expect(sizes.reduce((a, s) => a + s.buckets!['+Inf']!, 0)).toBe(350);
    expect(sizes.reduce((a, s) => a + s.sum!, 0)).toBe(700);
    const durations = samples(metrics, 'http_request_duration_seconds', hello);
    expect(durations.reduce((a, s) => a + s.count!, 0)).toBe(350);
    expect(total(metrics, 'fixture_jobs_total')).toBe(350);
    expect(samples(metrics, 'app_build_info').map((s) => [s.labels.service, s.value])).toEqual([['cluster-fixture', 1]]);
    expect(samples(metrics, 'process_start_time_seconds')).toHaveLength(1);
    // A summary cannot be merged: one per worker.
    expect(new Set(samples(metrics, 'fixture_latency_seconds').map((s) => s.labels.worker))).toEqual(new Set(['0', '1']));
    expect(value(metrics, 'periscope_cluster_workers_expected')).toBe(2);
    expect(value(metrics, 'periscope_cluster_workers_responded')).toBe(2);
    // Never on the app port: each scrape there would reach whichever worker the OS picked.
    expect((await fetch(`${app}/metrics`)).status).toBe(404);
  });

  it('shows held requests in flight, summed over the workers, then 0', async () => {
    let answered = 0;
    const held = Array.from({ length: 3 }, () =>
      fetch(`${app}/hold`)
        .then((r) => r.text())
        .finally(() => answered++),
    );
    await waitFor('3 in flight', async () => (value((await merged(primary)).metrics, 'http_requests_in_flight', { method: 'GET' }) === 3 ? true : undefined));
    // Held until released; each /release ends what the worker it reaches holds.
    await waitFor('the held requests answered', async () => {
      await (await fetch(`${app}/release`)).text();
      return answered === 3 ? true : undefined;
    });
    expect(await Promise.all(held)).toEqual(['held', 'held', 'held']);
    expect(value((await merged(primary)).metrics, 'http_requests_in_flight', { method: 'GET' })).toBe(0);
  });

  it('/healthz lists the workers with their slots', async () => {
    const body = (await (await fetch(`${primary}/healthz`)).json()) as { status: string; ready_workers: number; workers: { worker: number; state: string }[] };
    expect(body.status).toBe('healthy');
    expect(body.ready_workers).toBe(2);
    expect(body.workers.map((w) => [w.worker, w.state])).toEqual([
      [0, 'ready'],
      [1, 'ready'],
    ]);
  });

  it('a blocked worker never fails the scrape: worker_up 0, its counters flat, its gauges left out', async () => {
    const before = (await merged(primary)).metrics;
    // Blocked for three collect timeouts: the scrape below starts well within the block.
    const res = await fetch(`${app}/block?ms=${3 * COLLECT_MS}`);
    const slot = await slotOf(primary, Number(res.headers.get('x-pid')));
    await res.text();
    const { status, metrics } = await merged(primary);
    expect(status).toBe(200);
    expect(value(metrics, 'periscope_cluster_worker_up', { worker: slot })).toBe(0);
    expect(value(metrics, 'periscope_cluster_worker_up', { worker: slot === '0' ? '1' : '0' })).toBe(1);
    expect(value(metrics, 'periscope_cluster_workers_responded')).toBe(1);
    const hello = { worker: slot, route: '/hello' };
    expect(value(metrics, 'http_requests_total', hello)).toBe(value(before, 'http_requests_total', hello));
    expect(samples(metrics, 'nodejs_heap_size_used_bytes', { worker: slot })).toEqual([]);
    // Back once it unblocks.
    await waitFor('the worker back', async () => (value((await merged(primary)).metrics, 'periscope_cluster_worker_up', { worker: slot }) === 1 ? true : undefined));
  });

  it('SIGKILL of a worker: over 20 scrapes no counter decreases; its slot goes down, then up again with the replacement', async () => {
    const res = await fetch(`${app}/hello`);
    const pid = Number(res.headers.get('x-pid'));
    await res.text();
    const slot = await slotOf(primary, pid);
    let last = perSeries((await merged(primary)).metrics, 'http_requests_total');
    process.kill(pid, 'SIGKILL');
    const up: number[] = [];
    for (let i = 0; i < 20 || up.at(-1) !== 1; i++) {
      if (i > 200) throw new Error('the replacement never answered');
      const { metrics } = await merged(primary);
      const now = perSeries(metrics, 'http_requests_total');
      for (const [key, v] of last) expect(now.get(key) ?? -1, key).toBeGreaterThanOrEqual(v);
      last = now;
      up.push(value(metrics, 'periscope_cluster_worker_up', { worker: slot }));
      expect(new Set(samples(metrics, 'periscope_cluster_worker_up').map((s) => s.labels.worker))).toEqual(new Set(['0', '1']));
      // Requests that reach the killed worker fail: only the counters are under test.
      // A connection handed to the worker as it died may never be answered: bounded.
      await Promise.all(Array.from({ length: 5 }, () => fetch(`${app}/hello`, { signal: AbortSignal.timeout(1000) }).then((r) => r.text(), () => '')));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(up).toContain(0);
    expect(up.at(-1)).toBe(1);
    expect(events(child).some((e) => e.event === 'exit' && e.pid === pid && e.signal === 'SIGKILL')).toBe(true);
  });

  it('SIGTERM to the primary: readiness off, the workers drain and exit, then the primary', async () => {
    child.process.kill('SIGTERM');
    const [code] = (await once(child.process, 'exit')) as [number | null];
    expect(code).toBe(0);
    const exits = events(child).filter((e) => e.event === 'exit' && e.chosen === true);
    expect(exits.map((e) => e.code)).toEqual([0, 0]);
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('a cluster whose primary is not periscope (PM2 cluster mode)', () => {
  it('the worker serves its own metrics on fallbackPort + NODE_APP_INSTANCE and warns once', async () => {
    const port = await freePort();
    const child = start({ PRIMARY: 'plain', WORKERS: '1', PRIMARY_TIMEOUT_MS: '300', FALLBACK_PORT: String(port - 1) });
    try {
      await child.until('"event":"listening"');
      const app = `http://127.0.0.1:${events(child).find((e) => e.event === 'listening')!.port}`;
      await waitFor('the fallback warning', () => (child.stderr.includes('PERISCOPE_CLUSTER_FALLBACK') ? true : undefined));
      await hammer(() => `${app}/hello`, 3, 1);
      const { status, metrics } = await waitFor('the fallback server', async () => {
        const r = await merged(`http://127.0.0.1:${port}`).catch(() => undefined);
        return r;
      });
      expect(status).toBe(200);
      expect(value(metrics, 'http_requests_total', { route: '/hello', method: 'GET', status_code: '200' })).toBe(3);
      expect(child.stderr.split('PERISCOPE_CLUSTER_FALLBACK').length - 1).toBe(1);
      expect(child.stderr).toContain(`slot 1`);
    } finally {
      await child.stop('SIGKILL');
    }
  });
});
