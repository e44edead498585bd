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

it('writes one warn line for a request still in flight past the threshold, with its request and trace IDs', async () => {
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
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const pending = fetch(`${base}/slow/1?q=x`, { headers: { 'x-request-id': 'slow-1', traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
  await arrival;
  vi.advanceTimersByTime(999);
  expect(capture.lines).toEqual([]);
  vi.advanceTimersByTime(1);
  expect(capture.lines).toHaveLength(1);
  const { time, span_id, ...warn } = capture.lines[0]!;
  expect(typeof time).toBe('string');
  expect(span_id).toMatch(/^[0-9a-f]{16}$/);
  expect(warn).toEqual({
    trace_id: traceId,
    trace_flags: '01',
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
  // The warn line, written from a timer, carries the same trace and span as the request line.
  expect(capture.lines.map((l) => [l.level, l.msg, l.request_id, l.trace_id, l.span_id])).toEqual([
    ['warn', 'request still in flight past the slow-request threshold', 'slow-1', traceId, span_id],
    ['info', 'request completed', 'slow-1', traceId, span_id],
  ]);
  await new Promise<void>((r) => server.close(() => r()));
  await obs.shutdown();
});
