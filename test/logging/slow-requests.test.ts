import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { instrument } from '../../src/index.js';
import { Capture, settle, track } from './helpers.js';

// Only the clock and setTimeout are faked: sockets and fetch run for real.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

it('writes one warn line for a request still in flight past the threshold, with its request ID', async () => {
  const capture = new Capture();
  let held: ServerResponse | undefined;
  let arrived!: () => void;
  const arrival = new Promise<void>((r) => (arrived = r));
  const server = createServer((req, res) => {
    if (req.url!.startsWith('/slow')) {
      held = res;
      arrived();
    } else res.end('fast');
  });
  const obs = instrument(server, { routes: ['/slow/:id'], metrics: false, slowRequests: { thresholdMs: 1000 }, logging: { destination: capture } });
  track(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pending = fetch(`${base}/slow/1?q=x`, { headers: { 'x-request-id': 'slow-1' } });
  await arrival;
  vi.advanceTimersByTime(999);
  expect(capture.lines).toEqual([]);
  vi.advanceTimersByTime(1);
  expect(capture.lines).toHaveLength(1);
  const { time, ...warn } = capture.lines[0]!;
  expect(typeof time).toBe('string');
  expect(warn).toEqual({
    level: 'warn',
    service: warn.service,
    version: warn.version,
    request_id: 'slow-1',
    method: 'GET',
    path: '/slow/1',
    elapsed_ms: 1000,
    threshold_ms: 1000,
    msg: 'request still in flight past the slow-request threshold',
  });
  held!.end('done');
  await (await pending).text();
  await settle(server);
  expect(capture.lines.map((l) => [l.level, l.msg, l.request_id])).toEqual([
    ['warn', 'request still in flight past the slow-request threshold', 'slow-1'],
    ['info', 'request completed', 'slow-1'],
  ]);
  await new Promise<void>((r) => server.close(() => r()));
  await obs.shutdown();
});
