import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { FRAMEWORKS, HELLO, STREAM_CHUNKS, startApp } from '../fixtures/apps.js';
import type { TestApp } from '../fixtures/apps.js';
import { hammer, histogramCount, samples, scrape, value } from '../helpers.js';

const GET = { method: 'GET' };

describe.each(FRAMEWORKS)('%s: request metrics', (framework) => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it.each(['before', 'after'] as const)('counts requests by route template when instrument() runs %s the routes', async (when) => {
    app = await startApp(framework, {}, when);
    const names = ['ada', 'grace', 'linus'];
    await hammer((i) => `${app!.base}/hello/${names[i % 3]}`, 9, 3);
    await hammer((i) => `${app!.base}${app!.usersPath(String(i))}`, 4, 2);
    const { metrics } = await scrape(app.base);
    expect(value(metrics, 'http_requests_total', { ...GET, route: '/hello/:name', status_code: '200' })).toBe(9);
    expect(value(metrics, 'http_requests_total', { ...GET, route: app.usersRoute, status_code: '200' })).toBe(4);
    expect(histogramCount(metrics, 'http_request_duration_seconds', { ...GET, route: '/hello/:name', status_code: '200' })).toBe(9);
    // No raw paths anywhere.
    const routes = samples(metrics, 'http_requests_total').map((s) => s.labels.route);
    expect(routes.sort()).toEqual(['/hello/:name', app.usersRoute].sort());
  });

  it('records durations and exact response sizes', async () => {
    app = await startApp(framework);
    await hammer(() => `${app!.base}/hello/ada`, 3, 1);
    const { metrics } = await scrape(app.base);
    const labels = { ...GET, route: '/hello/:name', status_code: '200' };
    const size = samples(metrics, 'http_response_size_bytes', labels)[0]!;
    expect(size.count).toBe(3);
    expect(size.sum).toBe(3 * Buffer.byteLength(HELLO('ada')));
    expect(size.buckets!['100']).toBe(3);
    const duration = samples(metrics, 'http_request_duration_seconds', labels)[0]!;
    expect(duration.count).toBe(3);
    expect(duration.sum).toBeGreaterThan(0);
    expect(duration.sum).toBeLessThan(3 * 10);
    expect(duration.buckets!['+Inf']).toBe(3);
  });

  it('counts a handler failure once, with status 500', async () => {
    app = await startApp(framework);
    const statuses = await hammer(() => `${app!.base}/fail`, 2, 1);
    expect(statuses).toEqual([500, 500]);
    const { metrics } = await scrape(app.base);
    expect(samples(metrics, 'http_requests_total', { route: '/fail' }).map((s) => [s.labels.status_code, s.value])).toEqual([['500', 2]]);
  });

  it('raises the in-flight gauge while a request is served and brings it back down', async () => {
    app = await startApp(framework);
    app.gate.arm();
    const entered = once(app.gate, 'entered');
    const pending = fetch(`${app.base}/gate`).then((r) => r.text());
    await entered;
    expect(value((await scrape(app.base)).metrics, 'http_requests_in_flight', GET)).toBe(1);
    app.gate.release();
    expect(await pending).toBe('released');
    const { metrics } = await scrape(app.base);
    expect(value(metrics, 'http_requests_in_flight', GET)).toBe(0);
    expect(value(metrics, 'http_requests_total', { ...GET, route: '/gate', status_code: '200' })).toBe(1);
  });

  it('counts a client that goes away before any status as 499, once, and the gauge comes down', async () => {
    app = await startApp(framework);
    app.gate.arm();
    const entered = once(app.gate, 'entered');
    const closed = once(app.gate, 'closed');
    const abort = new AbortController();
    const pending = fetch(`${app.base}/gate`, { signal: abort.signal }).catch((e: Error) => e.name);
    await entered;
    abort.abort();
    expect(await pending).toBe('AbortError');
    await closed;
    app.gate.release();
    const { metrics } = await scrape(app.base);
    expect(samples(metrics, 'http_requests_total', { route: '/gate' }).map((s) => [s.labels.status_code, s.value])).toEqual([['499', 1]]);
    expect(value(metrics, 'http_requests_in_flight', GET)).toBe(0);
  });

  it('counts a streamed response once, with the bytes it carried', async () => {
    app = await startApp(framework);
    const body = await (await fetch(`${app.base}/stream`)).text();
    expect(body).toBe(STREAM_CHUNKS.join(''));
    const { metrics } = await scrape(app.base);
    const labels = { ...GET, route: '/stream', status_code: '200' };
    expect(value(metrics, 'http_requests_total', labels)).toBe(1);
    // Chunked transfer: each write carries "<hex length>\r\n...\r\n", and "0\r\n\r\n" ends it.
    const framing = STREAM_CHUNKS.reduce((n, c) => n + c.length.toString(16).length + 4, 0) + 5;
    expect(samples(metrics, 'http_response_size_bytes', labels)[0]!.sum).toBe(Buffer.byteLength(body) + framing);
  });

  it('counts each of several pipelined streamed responses alone, not the ones ahead of it on the connection', async () => {
    app = await startApp(framework);
    const socket = connect(Number(new URL(app.base).port), '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(3));
    while (received.split('0\r\n\r\n').length - 1 < 3) await once(socket, 'data');
    socket.destroy();
    const { metrics } = await scrape(app.base);
    const labels = { ...GET, route: '/stream', status_code: '200' };
    expect(value(metrics, 'http_requests_total', labels)).toBe(3);
    const framing = STREAM_CHUNKS.reduce((n, c) => n + c.length.toString(16).length + 4, 0) + 5;
    expect(samples(metrics, 'http_response_size_bytes', labels)[0]!.sum).toBe(3 * (STREAM_CHUNKS.join('').length + framing));
  });

  it('counts a stream cut off by the client once, with the status already sent', async () => {
    app = await startApp(framework);
    app.gate.arm();
    const entered = once(app.gate, 'entered');
    const closed = once(app.gate, 'closed');
    const req = request(`${app.base}/stream?hold`);
    req.on('error', () => {});
    const [res] = (await once(req.end(), 'response')) as [IncomingMessage];
    expect(res.statusCode).toBe(200);
    const [first] = (await once(res, 'data')) as [Buffer];
    expect(String(first)).toBe(STREAM_CHUNKS[0]);
    await entered;
    req.destroy();
    await closed;
    app.gate.release();
    const { metrics } = await scrape(app.base);
    expect(samples(metrics, 'http_requests_total', { route: '/stream' }).map((s) => [s.labels.status_code, s.value])).toEqual([['200', 1]]);
    expect(value(metrics, 'http_requests_in_flight', GET)).toBe(0);
    // What reached the socket: the first chunk and its framing ("c\r\n...\r\n").
    expect(samples(metrics, 'http_response_size_bytes', { route: '/stream' })[0]!.sum).toBe(STREAM_CHUNKS[0]!.length + 5);
  });

  it('labels 5,000 random unmatched paths with one route and adds no series', async () => {
    app = await startApp(framework);
    await hammer(() => `${app!.base}/hello/x`, 1, 1);
    const before = samples((await scrape(app.base)).metrics, 'http_requests_total').length;
    const statuses = await hammer((i) => `${app!.base}/random/${i}/${Math.random().toString(36).slice(2)}`, 5000, 32);
    expect(new Set(statuses)).toEqual(new Set([404]));
    const { metrics } = await scrape(app.base);
    expect(samples(metrics, 'http_requests_total').length).toBe(before + 1);
    expect(value(metrics, 'http_requests_total', { ...GET, route: 'unmatched', status_code: '404' })).toBe(5000);
  });

  it('labels unknown methods _OTHER', async () => {
    app = await startApp(framework);
    const res = await fetch(`${app.base}/hello/ada`, { method: 'PURGE' });
    await res.arrayBuffer();
    const { metrics } = await scrape(app.base);
    const other = samples(metrics, 'http_requests_total', { method: '_OTHER' });
    expect(other.map((s) => [s.labels.status_code, s.value])).toEqual([[String(res.status), 1]]);
    expect(samples(metrics, 'http_requests_total', { method: 'PURGE' })).toEqual([]);
  });

  it('folds label sets past the series cap into one overflow series and counts them', async () => {
    app = await startApp(framework, { metrics: { maxSeries: 2 } });
    await hammer(() => `${app!.base}/hello/a`, 2, 1);
    await hammer(() => `${app!.base}${app!.usersPath('1')}`, 1, 1);
    await hammer(() => `${app!.base}/fail`, 3, 1);
    await hammer(() => `${app!.base}/nowhere`, 4, 1);
    const { metrics } = await scrape(app.base);
    const series = samples(metrics, 'http_requests_total').map((s) => [s.labels.route, s.labels.status_code, s.value]);
    expect(series).toEqual([
      ['/hello/:name', '200', 2],
      [app.usersRoute, '200', 1],
      ['__overflow__', '__overflow__', 7],
    ]);
    expect(value(metrics, 'periscope_series_folded_total', { metric: 'http_requests_total' })).toBe(7);
    expect(histogramCount(metrics, 'http_request_duration_seconds', { route: '__overflow__' })).toBe(7);
  });

  it('does not count /metrics as traffic, and reports on its own scrapes', async () => {
    app = await startApp(framework);
    await scrape(app.base);
    await scrape(app.base);
    const { metrics } = await scrape(app.base);
    expect(samples(metrics, 'http_requests_total')).toEqual([]);
    expect(value(metrics, 'http_requests_in_flight', GET)).toBe(0);
    expect(value(metrics, 'periscope_scrapes_total', { result: 'success' })).toBe(2);
    expect(value(metrics, 'periscope_scrapes_total', { result: 'error' })).toBe(0);
    expect(samples(metrics, 'periscope_scrape_duration_seconds')[0]!.count).toBe(2);
  });

  it('counts open connections to the app', async () => {
    app = await startApp(framework);
    await fetch(`${app.base}/hello/a`).then((r) => r.text());
    const { metrics } = await scrape(app.base);
    // fetch keeps both connections alive: the one above and the scrape's own.
    expect(value(metrics, 'http_server_active_connections')).toBeGreaterThanOrEqual(1);
    expect(value(metrics, 'http_server_active_connections')).toBe(await new Promise<number>((r) => app!.server.getConnections((_e, n) => r(n))));
  });
});
