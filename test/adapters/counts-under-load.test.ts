/**
 * Correctness under load (issue 23): N requests served means exactly N in http_requests_total
 * and in the duration histogram's _count, with every status where it belongs, while requests
 * run concurrently, some fail, some stream, and some are cut off by their clients mid-flight.
 */
import { once } from 'node:events';
import { request } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { FRAMEWORKS, startApp } from '../fixtures/apps.js';
import type { TestApp } from '../fixtures/apps.js';
import { hammer, samples, scrape, value } from '../helpers.js';

const SERVED = 1200;
const ABORTED_WAITING = 40;
const ABORTED_STREAMING = 20;

/** Opens `n` requests to `path`, resolves once the server holds each at the gate. */
async function held(app: TestApp, path: string, n: number, firstChunk: boolean): Promise<ClientRequest[]> {
  let entered = 0;
  const all = new Promise<void>((resolve) => {
    const onEntered = () => {
      if (++entered === n) {
        app.gate.off('entered', onEntered);
        resolve();
      }
    };
    app.gate.on('entered', onEntered);
  });
  const reqs: ClientRequest[] = [];
  const responses: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const req = request(`${app.base}${path}`, { agent: false });
    req.on('error', () => {});
    if (firstChunk) responses.push(once(req, 'response').then(([res]) => once(res as IncomingMessage, 'data')));
    req.end();
    reqs.push(req);
  }
  await all;
  await Promise.all(responses);
  return reqs;
}

describe.each(FRAMEWORKS)('%s: counts under load', (framework) => {
  let app: TestApp | undefined;
  afterEach(async () => {
    app?.gate.release();
    await app?.close();
    app = undefined;
  });

  it(`counts ${SERVED} concurrent requests and ${ABORTED_WAITING + ABORTED_STREAMING} cut off by their clients exactly once each`, async () => {
    app = await startApp(framework);
    app.gate.arm();
    // Held at the gate before any status (they become 499) and after the first streamed chunk (200).
    const waiting = await held(app, '/gate', ABORTED_WAITING, false);
    const streaming = await held(app, '/stream?hold', ABORTED_STREAMING, true);
    let closed = 0;
    const allClosed = new Promise<void>((resolve) => {
      app!.gate.on('closed', () => {
        if (++closed === ABORTED_WAITING + ABORTED_STREAMING) resolve();
      });
    });
    // Concurrent traffic meanwhile, with the cut-offs landing in the middle of it.
    const paths = ['/hello/ada', '/fail', '/stream', '/hello/grace', '/nowhere'];
    const traffic = hammer((i) => `${app!.base}${paths[i % paths.length]}`, SERVED, 48);
    setImmediate(() => {
      for (const req of [...waiting, ...streaming]) req.destroy();
    });
    const statuses = await traffic;
    await allClosed;
    app.gate.release();
    const perPath = SERVED / paths.length;
    expect(statuses.filter((s) => s === 200).length).toBe(3 * perPath);
    expect(statuses.filter((s) => s === 500).length).toBe(perPath);
    expect(statuses.filter((s) => s === 404).length).toBe(perPath);

    const { metrics } = await scrape(app.base);
    const total = samples(metrics, 'http_requests_total').reduce((n, s) => n + (s.value ?? 0), 0);
    const counted = samples(metrics, 'http_request_duration_seconds').reduce((n, s) => n + (s.count ?? 0), 0);
    const all = SERVED + ABORTED_WAITING + ABORTED_STREAMING;
    expect(total).toBe(all);
    expect(counted).toBe(all);
    const by = (route: string, status: string) => value(metrics, 'http_requests_total', { method: 'GET', route, status_code: status });
    expect(by('/hello/:name', '200')).toBe(2 * perPath);
    expect(by('/fail', '500')).toBe(perPath);
    expect(by('unmatched', '404')).toBe(perPath);
    expect(by('/stream', '200')).toBe(perPath + ABORTED_STREAMING);
    expect(by('/gate', '499')).toBe(ABORTED_WAITING);
    expect(value(metrics, 'http_requests_in_flight', { method: 'GET' })).toBe(0);
  });
});
