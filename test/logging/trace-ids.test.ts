/**
 * With periscope's own tracing (on by default): a SERVER span per request from the
 * `traceparent` header, the handler run in its context, and the logging mixin reading it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { instrument } from '../../src/index.js';
import type { Periscope } from '../../src/index.js';
import { Capture, settle, track } from './helpers.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

let close: (() => Promise<void>) | undefined;
let obs: Periscope | undefined;
afterEach(async () => {
  await close?.();
  await obs?.shutdown();
  close = undefined;
  obs = undefined;
});

function expectTraced(capture: Capture): void {
  const lines = capture.lines;
  expect(lines.map((l) => l.msg)).toEqual(['after await', 'request completed']);
  for (const l of lines) {
    expect(l.trace_id).toBe(TRACE_ID);
    expect(typeof l.span_id).toBe('string');
    expect(l.span_id).toMatch(/^[0-9a-f]{16}$/);
    // The server span is a child of the caller's span, never the caller's span itself.
    expect(l.span_id).not.toBe('00f067aa0ba902b7');
    expect(l.trace_flags).toBe('01');
    expect(l.request_id).toBe(TRACE_ID);
  }
  expect(lines[0]!.span_id).toBe(lines[1]!.span_id);
  // The request line carries the scope's trace fields where the mixin puts them on other lines.
  expect(Object.keys(lines[1]!)).toEqual([
    'level', 'time', 'service', 'version', 'trace_id', 'span_id', 'trace_flags', 'request_id', 'method', 'route', 'path',
    'status_code', 'duration_ms', 'bytes', 'client_address', 'user_agent', 'msg',
  ]);
}

describe('trace IDs from a traceparent header', () => {
  it('Fastify: request.log after an await and the request line carry the header\'s trace ID', async () => {
    const capture = new Capture();
    const app = Fastify();
    obs = instrument(app, { logging: { destination: capture } });
    app.get('/work', async (request) => {
      await new Promise<void>((r) => setTimeout(r, 1));
      request.log.info('after await');
      return 'done';
    });
    track(app.server);
    await app.listen({ port: 0, host: '127.0.0.1' });
    close = () => app.close();
    const r = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/work`, { headers: { traceparent: TRACEPARENT } });
    await r.text();
    await settle(app.server);
    expect(r.headers.get('x-request-id')).toBe(TRACE_ID);
    expectTraced(capture);
  });

  it('Express: req.log after an await and the request line carry the header\'s trace ID', async () => {
    const capture = new Capture();
    const app = express();
    obs = instrument(app, { logging: { destination: capture } });
    app.get('/work', async (req, res) => {
      await new Promise<void>((r) => setTimeout(r, 1));
      req.log.info('after await');
      res.send('done');
    });
    const server: Server = app.listen(0, '127.0.0.1');
    track(server);
    await new Promise<void>((r) => server.once('listening', () => r()));
    close = () => new Promise<void>((r) => server.close(() => r()));
    const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/work`, { headers: { traceparent: TRACEPARENT } });
    await r.text();
    await settle(server);
    expect(r.headers.get('x-request-id')).toBe(TRACE_ID);
    expectTraced(capture);
  });

  it('without any header, the request ID is the trace ID tracing made (Fastify and Express)', async () => {
    const capture = new Capture();
    const app = Fastify();
    obs = instrument(app, { logging: { destination: capture } });
    app.get('/id', async (request) => {
      request.log.info('inside');
      return { id: request.id };
    });
    track(app.server);
    await app.listen({ port: 0, host: '127.0.0.1' });
    close = () => app.close();
    const r = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/id`);
    const body = (await r.json()) as { id: string };
    await settle(app.server);
    const lines = capture.lines;
    expect(lines.map((l) => l.msg)).toEqual(['inside', 'request completed']);
    expect(lines[0]!.trace_id).toMatch(/^[0-9a-f]{32}$/);
    for (const l of lines) expect([l.request_id, l.trace_id]).toEqual([lines[0]!.trace_id, lines[0]!.trace_id]);
    expect(r.headers.get('x-request-id')).toBe(lines[0]!.trace_id);
    expect(body.id).toBe(lines[0]!.trace_id);
  });
});
