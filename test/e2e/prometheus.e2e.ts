/**
 * End to end with a real Prometheus (Debian's `prometheus` package): the demo services are
 * scraped every second and every claim is checked through Prometheus' HTTP API, the way an
 * operator's dashboards and alerts will see it. Everything started here is stopped by PID,
 * also when an assertion fails.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningChild } from '../child-process.js';
import { promtoolCheck } from '../helpers.js';

const root = new URL('../../', import.meta.url).pathname;
const prometheusBin = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).stdout.trim();
if (prometheusBin === '') {
  throw new Error('The end-to-end test needs a Prometheus server: `apt-get install prometheus` (.ci/run installs it).');
}

const TOKEN = 'e2e-scrape-token';
const children: ChildProcess[] = [];
/** The services, whose stdout is read until they exit (see RunningChild: no EPIPE on their log lines). */
const services: RunningChild[] = [];
const dirs: string[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  return port;
}

/** Starts a node script that prints its URL ("service: http://...") and returns the origin. */
async function startService(script: string, env: Record<string, string> = {}): Promise<string> {
  const child = new RunningChild(process.execPath, [join(root, script)], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
  });
  services.push(child);
  const out = await child.until('metrics:');
  const origin = /service:\s+(http:\/\/[^/\s]+)\//.exec(out)?.[1];
  if (origin === undefined) throw new Error(`${script} printed no URL: ${out}`);
  return origin.replace('localhost', '127.0.0.1');
}

async function startPrometheus(targets: { demo: string; protectedApp: string }): Promise<string> {
  const host = (u: string) => new URL(u).host;
  return runPrometheus(`
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - ${join(root, 'deploy/prometheus/alerts.yml')}
  - ${join(root, 'deploy/prometheus/recording.yml')}
scrape_configs:
  - job_name: demo
    static_configs: [{ targets: ['${host(targets.demo)}'] }]
  - job_name: protected
    authorization: { type: Bearer, credentials: '${TOKEN}' }
    static_configs: [{ targets: ['${host(targets.protectedApp)}'] }]
  - job_name: protected-wrong-token
    authorization: { type: Bearer, credentials: 'not-the-token' }
    static_configs: [{ targets: ['${host(targets.protectedApp)}'] }]
`);
}

/** Starts a Prometheus with `config` (and feature flags) on a free port; returns its API origin. */
async function runPrometheus(config: string, features: string[] = ['exemplar-storage']): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'periscope-e2e-'));
  dirs.push(dir);
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const child = spawn(
    prometheusBin,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--enable-feature=${features.join(',')}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += String(c)));
  const api = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${api}/-/ready`).catch(() => undefined))?.status === 200, `Prometheus ready (stderr: ${stderr})`);
  return api;
}

/** Polls `check` every 250 ms until it holds; bounded, since Prometheus runs on its own clock. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface QueryResult {
  status: string;
  error?: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function query(api: string, promql: string): Promise<QueryResult> {
  const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
  return (await res.json()) as QueryResult;
}

async function vector(api: string, promql: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const r = await query(api, promql);
  if (r.status !== 'success') throw new Error(`${promql}: ${r.error}`);
  return r.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
}

/** Bounded traffic on loopback: a fixed number of requests, a few at a time. */
async function traffic(origin: string, paths: string[], total: number): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (i < total) {
        const path = paths[i++ % paths.length]!.replace('{n}', String(i));
        await (await fetch(origin + path)).arrayBuffer();
      }
    }),
  );
}

afterAll(async () => {
  for (const service of services) await service.stop();
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['fastify', 'examples/fastify.mjs'],
  ['express', 'examples/express.mjs'],
])('%s demo scraped by a real Prometheus', (framework, script) => {
  let api = '';
  let demo = '';

  beforeAll(async () => {
    demo = await startService(script);
    const protectedApp = await startService('test/e2e/protected-app.mjs', { METRICS_TOKEN: TOKEN });
    api = await startPrometheus({ demo, protectedApp });
    const paths = ['/hello/{n}', '/slow?ms=5', '/fail', '/random/{n}'];
    if (framework === 'express') paths.push('/api/v1/users/{n}');
    // Traffic in two bursts a few scrapes apart, so rate() has something to compare. The tests
    // read rates over 2 minutes: a 30 s window that no longer holds the second burst gives 0 (and
    // NaN for the p95 and the ratio) if they run late on a busy machine.
    await traffic(demo, paths, 200);
    await until(async () => (await vector(api, 'up{job="demo"}'))[0]?.value === 1, 'the demo scraped');
    await until(async () => (await vector(api, 'count_over_time(up{job="demo"}[1m])'))[0]!.value >= 3, 'three scrapes');
    await traffic(demo, paths, 200);
    await until(async () => (await vector(api, 'sum(rate(http_requests_total{job="demo"}[30s]))'))[0]!.value > 0, 'a request rate');
  });

  it('scrapes the target: up == 1', async () => {
    expect(await vector(api, 'up{job="demo"}')).toEqual([{ metric: expect.objectContaining({ job: 'demo' }), value: 1 }]);
  });

  it('sees route templates, never raw paths', async () => {
    const routes = (await vector(api, 'sum by (route) (rate(http_requests_total{job="demo"}[2m]))')).map((s) => s.metric.route).sort();
    const expected = ['/fail', '/hello/:name', '/slow', 'unmatched'];
    if (framework === 'express') expected.unshift('/api/v1/users/:id');
    expect(routes).toEqual(expected.sort());
  });

  it('computes p95 latency for /hello/:name and a 5xx ratio of 1 for /fail', async () => {
    const p95 = await vector(api, 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="demo",route="/hello/:name"}[2m])))');
    expect(p95).toHaveLength(1);
    expect(p95[0]!.value).toBeGreaterThan(0);
    expect(p95[0]!.value).toBeLessThan(10);
    const ratio = await vector(api, 'sum(rate(http_requests_total{job="demo",route="/fail",status_code=~"5.."}[2m])) / sum(rate(http_requests_total{job="demo",route="/fail"}[2m]))');
    expect(ratio).toEqual([{ metric: {}, value: 1 }]);
  });

  it('has app_build_info for the demo service', async () => {
    const info = await vector(api, 'app_build_info{job="demo"}');
    expect(info).toHaveLength(1);
    expect(info[0]!.metric).toMatchObject({ service: `periscope-demo-${framework}`, node_version: process.version });
    expect(info[0]!.value).toBe(1);
  });

  it('evaluates every expression of the Grafana dashboard without error', async () => {
    const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana/dashboard.json'), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => [p.title, t.expr] as const));
    expect(exprs.length).toBeGreaterThanOrEqual(15);
    for (const [title, expr] of exprs) {
      const promql = expr.replaceAll('$__rate_interval', '30s').replaceAll('$job', 'demo').replaceAll('$instance', '.+');
      const r = await query(api, promql);
      expect({ title, status: r.status, error: r.error }).toEqual({ title, status: 'success', error: undefined });
    }
    // And the RED panels return data for this service.
    const red = exprs.filter(([title]) => title === 'Request rate by route')[0]![1];
    expect((await vector(api, red.replaceAll('$__rate_interval', '30s').replaceAll('$job', 'demo').replaceAll('$instance', '.+'))).length).toBeGreaterThan(0);
  });

  it('loads and evaluates every alerting and recording rule without error', async () => {
    await until(async () => {
      const r = (await (await fetch(`${api}/api/v1/rules`)).json()) as { data: { groups: { rules: { lastEvaluation: string }[] }[] } };
      return r.data.groups.every((g) => g.rules.every((rule) => !rule.lastEvaluation.startsWith('0001')));
    }, 'every rule evaluated once');
    const r = (await (await fetch(`${api}/api/v1/rules`)).json()) as {
      data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const rules = r.data.groups.flatMap((g) => g.rules.map((rule) => [rule.name, rule.health, rule.lastError ?? ''] as const));
    // Every rule in the shipped files, alerting and recording.
    const declared = ['alerts.yml', 'recording.yml'].flatMap((f) => readFileSync(join(root, 'deploy/prometheus', f), 'utf8').match(/^\s*- (alert|record):/gm) ?? []);
    expect(declared).toHaveLength(16);
    expect(rules).toHaveLength(declared.length);
    for (const rule of rules) expect(rule).toEqual([rule[0], 'ok', '']);
    // The first evaluations can see fewer than two samples in the window (0/0 = NaN); the rule
    // settles on 1 once Prometheus has a rate, on its own clock.
    const recorded = 'job_route:http_requests_error_ratio:rate5m{job="demo",route="/fail"}';
    await until(async () => (await vector(api, recorded))[0]?.value === 1, 'the recorded /fail error ratio');
    expect((await vector(api, recorded)).map((s) => s.value)).toEqual([1]);
  });

  it('stores exemplars that link the duration histogram to trace IDs', async () => {
    const now = Date.now() / 1000;
    const url = `${api}/api/v1/query_exemplars?query=${encodeURIComponent('http_request_duration_seconds_bucket{job="demo"}')}&start=${now - 600}&end=${now + 60}`;
    const r = (await (await fetch(url)).json()) as { status: string; data: { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string }[] }[] };
    expect(r.status).toBe('success');
    const exemplars = r.data.flatMap((d) => d.exemplars.map((e) => ({ route: d.seriesLabels.route, traceId: e.labels.trace_id })));
    expect(exemplars.length).toBeGreaterThan(0);
    for (const e of exemplars) expect(e.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(exemplars.map((e) => e.route))).toContain('/hello/:name');
  });

  it('passes promtool check metrics on a live scrape', async () => {
    const text = await (await fetch(`${demo}/metrics`)).text();
    expect(promtoolCheck(text)).toBe('');
  });

  it("scrapes a protected /metrics with Prometheus' authorization config, and not with a wrong token", async () => {
    await until(async () => (await vector(api, 'up{job=~"protected.*"}')).length === 2, 'both protected jobs scraped');
    const up = Object.fromEntries((await vector(api, 'up{job=~"protected.*"}')).map((s) => [s.metric.job, s.value]));
    expect(up).toEqual({ protected: 1, 'protected-wrong-token': 0 });
    expect((await vector(api, 'app_build_info{job="protected"}'))[0]!.metric.service).toBe('protected');
  });
});

describe('native histograms scraped by a real Prometheus', () => {
  // Prometheus 2.42 asks for the protobuf exposition once native histograms are enabled, and then
  // ingests a histogram with native buckets as native only (the classic buckets it carries too are
  // read from 2.45 on with scrape_classic_histograms); a second Prometheus without the flag
  // scrapes the text format and sees the classic buckets of the same service.
  let native = '';
  let classic = '';
  const REQUESTS = 24;
  /** The durations the service measured for the /sleep requests, in seconds, from its request lines. */
  let durations: number[] = [];

  beforeAll(async () => {
    const service = await startService('test/e2e/native-app.mjs');
    const target = new URL(service).host;
    const config = `
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: native
    static_configs: [{ targets: ['${target}'] }]
`;
    native = await runPrometheus(config, ['native-histograms']);
    classic = await runPrometheus(config, []);
    await until(async () => (await vector(native, 'up{job="native"}'))[0]?.value === 1, 'the native scrape');
    await until(async () => (await vector(classic, 'up{job="native"}'))[0]?.value === 1, 'the classic scrape');
    await until(async () => (await vector(native, 'count_over_time(up{job="native"}[1m])'))[0]!.value >= 2, 'two scrapes');
    const count = 'sum(histogram_count(http_request_duration_seconds{job="native",route="/sleep"}))';
    const classicCount = 'sum(http_request_duration_seconds_count{route="/sleep"})';
    // One request first, so the series exist before the rest: rate() needs two samples of them.
    await traffic(service, ['/sleep'], 1);
    await until(async () => (await vector(native, count))[0]?.value === 1, 'the first request in the native histogram');
    await until(async () => (await vector(classic, classicCount))[0]?.value === 1, 'the first request in the classic count');
    await traffic(service, ['/sleep'], REQUESTS - 1);
    await until(async () => (await vector(native, count))[0]?.value === REQUESTS, 'the requests in the native histogram');
    await until(async () => (await vector(classic, classicCount))[0]?.value === REQUESTS, 'the requests in the classic count');
    const child = services.at(-1)!;
    const sleepLines = () => child.stdout.split('\n').filter((l) => l.includes('"route":"/sleep"'));
    await until(async () => sleepLines().length === REQUESTS, 'the request lines');
    durations = sleepLines()
      .map((l) => (JSON.parse(l) as { duration_ms: number }).duration_ms / 1000)
      .sort((x, y) => x - y);
  });

  it('gives histogram_quantile over the native histogram inside the buckets the 100 ms requests fell in', async () => {
    expect(durations).toHaveLength(REQUESTS);
    // Node schedules and fires timers on libuv's loop clock, in whole milliseconds (and from
    // CLOCK_MONOTONIC_COARSE where that ticks every millisecond): a 100 ms timer can end 1-2 ms
    // early against performance.now(), which times the request (99.3 ms from the handler seen
    // here). A request that did not sleep would be far below 90 ms; the bounds below are derived
    // from these durations.
    expect(durations[0]).toBeGreaterThanOrEqual(0.09);
    const p95 = await vector(native, 'histogram_quantile(0.95, sum(rate(http_request_duration_seconds{job="native",route="/sleep"}[1m])))');
    expect(p95).toHaveLength(1);
    // Schema 3: bucket i holds (2^((i-1)/8), 2^(i/8)], so a 100 ms request lands in (0.0968,
    // 0.1054]. The estimate lies between the lower bound of the fastest request's bucket and the
    // upper bound of the slowest's: on a quiet machine that one bucket; on a busy one as wide as
    // what was measured, and no wider.
    const index = (v: number) => Math.ceil(8 * Math.log2(v));
    expect(p95[0]!.value).toBeGreaterThan(2 ** ((index(durations[0]!) - 1) / 8));
    expect(p95[0]!.value).toBeLessThanOrEqual(2 ** (index(durations.at(-1)!) / 8));
    expect((await vector(native, 'sum(histogram_count(http_request_duration_seconds{job="native",route="/sleep"}))'))[0]!.value).toBe(REQUESTS);
  });

  it('still serves the classic buckets to a scraper that asks for text', async () => {
    const p95 = await vector(classic, 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="native",route="/sleep"}[1m])))');
    expect(p95).toHaveLength(1);
    // The classic layout has buckets (0.1, 0.25], (0.25, 0.5], ...: the estimate lies between the
    // lower bound of the fastest request's bucket and the upper bound of the slowest's.
    const bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    const lower = bounds.findLast((b) => b < durations[0]!)!;
    const upper = bounds.find((b) => b >= durations.at(-1)!) ?? Infinity;
    expect(p95[0]!.value).toBeGreaterThan(lower);
    expect(p95[0]!.value).toBeLessThanOrEqual(upper);
    const buckets = await vector(classic, 'http_request_duration_seconds_bucket{job="native",route="/sleep"}');
    expect(buckets.map((b) => b.metric.le).sort()).toEqual(['+Inf', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '10', '2.5', '5'].sort());
  });
});
