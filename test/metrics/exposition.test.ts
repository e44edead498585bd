import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Gauge } from '@prometheus-io/client';
import { instrument } from '../../src/index.js';
import { FRAMEWORKS, startApp } from '../fixtures/apps.js';
import type { TestApp } from '../fixtures/apps.js';
import { hammer, listen, parseExposition, promtoolCheck, promtoolPath, samples, scrape, value } from '../helpers.js';
import { parseText } from '../support-parser.js';

const onCI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

describe('exposition', () => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('has promtool where CI runs (.ci/run installs it)', () => {
    if (onCI) expect(promtoolPath()).not.toBeNull();
    else if (promtoolPath() === null) console.warn('promtool not installed: `promtool check metrics` assertions are skipped (apt-get install prometheus)');
  });

  it.each(FRAMEWORKS)('%s: passes `promtool check metrics` with no complaint, runtime metrics included', async (framework) => {
    app = await startApp(framework);
    await hammer((i) => `${app!.base}/${['hello/x', 'fail', 'nowhere', 'stream'][i % 4]}`, 20, 4);
    const { text, metrics } = await scrape(app.base);
    expect(Object.keys(metrics)).toEqual(
      expect.arrayContaining([
        'http_requests_total',
        'http_request_duration_seconds',
        'http_requests_in_flight',
        'http_server_active_connections',
        'http_response_size_bytes',
        'app_build_info',
        'process_cpu_user_seconds_total',
        'nodejs_eventloop_lag_seconds',
        'nodejs_heap_size_used_bytes',
        'nodejs_active_handles_all',
        'nodejs_active_requests_all',
        'nodejs_active_resources_all',
        'periscope_scrapes_total',
        'periscope_scrape_duration_seconds',
        'periscope_series_folded_total',
      ]),
    );
    const elu = value(metrics, 'nodejs_eventloop_utilization');
    expect(elu).toBeGreaterThan(0);
    expect(elu).toBeLessThanOrEqual(1);
    for (const bad of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      expect(metrics[bad]).toBeUndefined();
    }
    expect(value(metrics, 'nodejs_active_handles_all')).toBeGreaterThan(0);
    if (promtoolPath() !== null) expect(promtoolCheck(text)).toBe('');
  });

  it('serves OpenMetrics when the Accept header asks for it, and 0.0.4 text otherwise', async () => {
    app = await startApp('fastify');
    await hammer(() => `${app!.base}/hello/x`, 2, 1);
    const plain = await fetch(`${app.base}/metrics`);
    expect(plain.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const plainText = await plain.text();
    expect(plainText.endsWith('# EOF\n')).toBe(false);
    const om = await fetch(`${app.base}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5' } });
    expect(om.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const omText = await om.text();
    expect(omText.endsWith('# EOF\n')).toBe(true);
    const families = parseText(omText);
    // OpenMetrics names the counter family without _total and its sample with it.
    expect(families.get('http_requests')?.type).toBe('counter');
    expect(families.get('http_requests')?.samples.map((s) => [s.name, s.labels.route, s.value])).toEqual([['http_requests_total', '/hello/:name', 2]]);
    expect(families.get('periscope_scrapes')?.type).toBe('counter');
    // Serving OpenMetrics must not rename the shared metric objects for the next 0.0.4 scrape.
    const again = await scrape(app.base);
    expect(value(again.metrics, 'http_requests_total', { route: '/hello/:name' })).toBe(2);
    if (promtoolPath() !== null) expect(promtoolCheck(again.text)).toBe('');
  });

  it('escapes label values a route template could carry', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    const obs = instrument(server, { routeOf: () => 'we"ird\\route\nname' });
    const base = await listen(server);
    await fetch(`${base}/x`).then((r) => r.text());
    const { text, metrics } = await scrape(base);
    expect(samples(metrics, 'http_requests_total').map((s) => s.labels.route)).toEqual(['we"ird\\route\nname']);
    if (promtoolPath() !== null) expect(promtoolCheck(text)).toBe('');
    expect(obs.framework).toBe('node-http');
    server.closeAllConnections();
    server.close();
  });

  it("serves the user's own metrics and default labels from obs.registry", async () => {
    app = await startApp('express');
    const orders = new Counter({ name: 'orders_placed_total', help: 'Orders placed.', labelNames: ['kind'], registers: [app.obs.registry] });
    orders.inc({ kind: 'book' }, 3);
    app.obs.registry.setDefaultLabels({ region: 'eu-west' });
    await hammer(() => `${app!.base}/hello/x`, 1, 1);
    const { text, metrics } = await scrape(app.base);
    expect(value(metrics, 'orders_placed_total', { kind: 'book', region: 'eu-west' })).toBe(3);
    expect(value(metrics, 'http_requests_total', { route: '/hello/:name', region: 'eu-west' })).toBe(1);
    expect(samples(metrics, 'http_request_duration_seconds', { route: '/hello/:name', region: 'eu-west' })[0]!.count).toBe(1);
    if (promtoolPath() !== null) expect(promtoolCheck(text)).toBe('');
  });

  it('serves every other metric when one fails to collect, and counts a scrape error', async () => {
    const reported: string[] = [];
    const server = createServer((_req, res) => res.end('ok'));
    const obs = instrument(server, { routes: ['/x'], onInternalError: (_e, where) => reported.push(where) });
    new Gauge({
      name: 'broken_gauge',
      help: 'Throws on collect.',
      registers: [obs.registry],
      collect() {
        throw new Error('collector failed');
      },
    });
    const base = await listen(server);
    const first = await fetch(`${base}/metrics`);
    expect(first.status).toBe(200);
    const metrics = await parseExposition(await first.text());
    expect(metrics.broken_gauge).toBeUndefined();
    expect(metrics.app_build_info?.type).toBe('gauge');
    expect(samples(metrics, 'app_build_info').map((s) => s.value)).toEqual([1]);
    const second = await scrape(base);
    expect(value(second.metrics, 'periscope_scrapes_total', { result: 'error' })).toBe(1);
    // Each scrape counts its own failure after writing the body, so the second shows the first.
    expect(value(second.metrics, 'periscope_internal_errors_total', { where: 'collect:broken_gauge' })).toBe(1);
    expect(reported).toEqual(['collect:broken_gauge', 'collect:broken_gauge']);
    server.closeAllConnections();
    server.close();
  });

  it.each(FRAMEWORKS)('%s: answers 405 to methods other than GET and HEAD, and HEAD without a body, none of it counted as traffic', async (framework) => {
    app = await startApp(framework);
    for (const method of ['POST', 'DELETE']) {
      const res = await fetch(`${app.base}/metrics`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(await res.text()).toBe('Method Not Allowed\n');
    }
    const head = await fetch(`${app.base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const { metrics } = await scrape(app.base);
    expect(samples(metrics, 'http_requests_total')).toEqual([]);
  });

  it.each(FRAMEWORKS)('%s: a scrape during heavy traffic is complete and parseable', async (framework) => {
    app = await startApp(framework);
    const traffic = hammer((i) => `${app!.base}/hello/${i}`, 3000, 48);
    const scrapes: string[] = [];
    for (let i = 0; i < 10; i++) scrapes.push(await (await fetch(`${app.base}/metrics`)).text());
    await traffic;
    for (const text of scrapes) {
      const metrics = await parseExposition(text);
      const total = value(metrics, 'http_requests_total', { route: '/hello/:name', status_code: '200' });
      const hist = samples(metrics, 'http_request_duration_seconds', { route: '/hello/:name' })[0];
      // Counter, histogram count and +Inf bucket are read in one pass: they always agree.
      expect(hist?.count ?? 0).toBe(total);
      expect(hist?.buckets?.['+Inf'] ?? 0).toBe(total);
    }
    if (promtoolPath() !== null) expect(promtoolCheck(scrapes.at(-1)!)).toBe('');
    const { metrics } = await scrape(app.base);
    expect(value(metrics, 'http_requests_total', { route: '/hello/:name', status_code: '200' })).toBe(3000);
  });
});
