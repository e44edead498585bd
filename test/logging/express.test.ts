import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { instrument } from '../../src/index.js';
import type { Periscope, LoggingOptions } from '../../src/index.js';
import { Capture, settle, track } from './helpers.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

let server: Server | undefined;
let obs: Periscope | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await obs?.shutdown();
  server = undefined;
  obs = undefined;
});

async function start(build: (app: express.Express) => void, logging: LoggingOptions = {}, before?: (app: express.Express) => void) {
  const capture = new Capture();
  const app = express();
  before?.(app);
  obs = instrument(app, { logging: { destination: capture, ...logging } });
  build(app);
  server = app.listen(0, '127.0.0.1');
  track(server);
  await new Promise<void>((r) => server!.once('listening', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { capture, base };
}

describe('Express request line', () => {
  it('logs one line per request with every field, at info, warn and error by status', async () => {
    const { capture, base } = await start((app) => {
      app.get('/users/:id', (_req, res) => {
        res.json({ id: 1 });
      });
      app.get('/missing', (_req, res) => {
        res.status(404).send('no');
      });
      app.get('/bad', (_req, res) => {
        res.status(503).end();
      });
    });
    const r = await fetch(`${base}/users/7?q=1`, { headers: { 'user-agent': 'test-agent/1.0', 'x-request-id': 'req-42' } });
    expect(r.headers.get('x-request-id')).toBe('req-42');
    expect(await r.text()).toBe('{"id":1}');
    await (await fetch(`${base}/missing`)).text();
    await (await fetch(`${base}/bad`)).text();
    await (await fetch(`${base}/metrics`)).text();
    await settle(server!);
    const lines = capture.withMsg('request completed');
    expect(lines).toHaveLength(3);
    const [ok, missing, bad] = lines;
    expect(ok).toMatchObject({
      level: 'info',
      request_id: 'req-42',
      method: 'GET',
      route: '/users/:id',
      path: '/users/7',
      status_code: 200,
      bytes: 8,
      client_address: '127.0.0.1',
      user_agent: 'test-agent/1.0',
    });
    expect(typeof ok!.duration_ms).toBe('number');
    expect(ok!.duration_ms as number).toBeGreaterThan(0);
    expect(ok!.duration_ms as number).toBeLessThan(5000);
    expect([missing!.level, missing!.status_code, missing!.route]).toEqual(['warn', 404, '/missing']);
    expect([bad!.level, bad!.status_code]).toEqual(['error', 503]);
    expect(capture.lines).toHaveLength(3); // /metrics is not logged
  });

  it('honours configured levels and fields', async () => {
    const { capture, base } = await start(
      (app) => {
        app.get('/a', (_req, res) => {
          res.send('a');
        });
        app.get('/b', (_req, res) => {
          res.status(400).send('b');
        });
      },
      { requests: { levels: { success: 'silent', clientError: 'error' }, fields: ['route', 'status_code'] } },
    );
    await (await fetch(`${base}/a`)).text();
    await (await fetch(`${base}/b`)).text();
    await settle(server!);
    const lines = capture.lines;
    expect(lines).toHaveLength(1);
    // Trace fields appear when tracing is on; the configured fields are the only others.
    const keys = Object.keys(lines[0]!).filter((k) => !['trace_id', 'span_id', 'trace_flags'].includes(k));
    expect(keys).toEqual(['level', 'time', 'service', 'version', 'route', 'status_code', 'msg']);
    expect(lines[0]).toMatchObject({ level: 'error', route: '/b', status_code: 400 });
  });

  it('redacts default headers in the request line and in a user log of the request', async () => {
    const { capture, base } = await start(
      (app) => {
        app.get('/h', (req, res) => {
          req.log.info({ headers: req.headers }, 'headers');
          req.log.info({ req }, 'request');
          res.send('ok');
        });
      },
      { requests: { fields: ['route', 'headers'] } },
    );
    await (
      await fetch(`${base}/h`, {
        headers: { authorization: 'Bearer s3cret', cookie: 'sid=s3cret', 'x-api-key': 's3cret', 'proxy-authorization': 'Basic s3cret', accept: 'text/html' },
      })
    ).text();
    await settle(server!);
    const lines = capture.lines;
    expect(lines.map((l) => l.msg)).toEqual(['headers', 'request', 'request completed']);
    const fromHeaders = lines[0]!.headers as Record<string, string>;
    const fromReq = (lines[1]!.req as { headers: Record<string, string> }).headers;
    const fromLine = lines[2]!.headers as Record<string, string>;
    for (const h of [fromHeaders, fromReq, fromLine]) {
      expect(h.authorization).toBe('[REDACTED]');
      expect(h.cookie).toBe('[REDACTED]');
      expect(h['x-api-key']).toBe('[REDACTED]');
      expect(h['proxy-authorization']).toBe('[REDACTED]');
      expect(h.accept).toBe('text/html');
    }
    expect(capture.raw.join('').includes('s3cret')).toBe(false);
  });

  it('logs set-cookie redacted when the user logs the response', async () => {
    const { capture, base } = await start((app) => {
      app.get('/c', (req, res) => {
        res.setHeader('set-cookie', 'sid=s3cret');
        req.log.info({ res }, 'response');
        res.send('ok');
      });
    });
    await (await fetch(`${base}/c`)).text();
    await settle(server!);
    const res = capture.withMsg('response')[0]!.res as { headers: Record<string, unknown> };
    expect(res.headers['set-cookie']).toBe('[REDACTED]');
    expect(capture.raw.join('').includes('s3cret')).toBe(false);
  });
});

describe('Express request IDs and req.log', () => {
  it('gives req.log the request ID and echoes it; insane incoming IDs are replaced', async () => {
    const { capture, base } = await start((app) => {
      app.get('/x', (req, res) => {
        req.log.info('inside');
        res.send('x');
      });
    });
    const sane = await fetch(`${base}/x`, { headers: { 'x-request-id': 'abc-DEF_123' } });
    await sane.text();
    const tooLong = await fetch(`${base}/x`, { headers: { 'x-request-id': 'a'.repeat(129) } });
    await tooLong.text();
    const spaced = await fetch(`${base}/x`, { headers: { 'x-request-id': 'a b' } });
    await spaced.text();
    const fromTrace = await fetch(`${base}/x`, { headers: { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` } });
    await fromTrace.text();
    await settle(server!);
    expect(sane.headers.get('x-request-id')).toBe('abc-DEF_123');
    // Refused IDs are replaced by the request's trace ID when tracing made one, else a UUID.
    const lines = capture.withMsg('request completed');
    const replacement = (i: number) => (lines[i]!.trace_id as string | undefined) ?? /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(tooLong.headers.get('x-request-id')).toMatch(replacement(1));
    expect(spaced.headers.get('x-request-id')).toMatch(replacement(2));
    expect(tooLong.headers.get('x-request-id')).not.toBe(spaced.headers.get('x-request-id'));
    expect(fromTrace.headers.get('x-request-id')).toBe(TRACE_ID);
    const inside = capture.withMsg('inside').map((l) => l.request_id);
    const done = capture.withMsg('request completed').map((l) => l.request_id);
    expect(inside).toEqual([sane.headers.get('x-request-id'), tooLong.headers.get('x-request-id'), spaced.headers.get('x-request-id'), TRACE_ID]);
    expect(done).toEqual(inside);
  });

  it('turns request IDs off with requestId: false', async () => {
    const { capture, base } = await start((app) => {
      app.get('/x', (_req, res) => {
        res.send('x');
      });
    }, { requestId: false });
    const r = await fetch(`${base}/x`, { headers: { 'x-request-id': 'abc' } });
    await r.text();
    await settle(server!);
    expect(r.headers.get('x-request-id')).toBe(null);
    expect('request_id' in capture.lines[0]!).toBe(false);
  });
});

describe('Express errors', () => {
  it('logs a thrown error once with type, message and stack, and answers 500 without details', async () => {
    const { capture, base } = await start((app) => {
      app.get('/boom', () => {
        throw new TypeError('db password is hunter2');
      });
      app.get('/async', async () => {
        await Promise.resolve();
        throw Object.assign(new Error('teapot'), { status: 418 });
      });
    });
    const r = await fetch(`${base}/boom`);
    expect(r.status).toBe(500);
    const body = await r.text();
    expect(body).toBe('{"error":"Internal Server Error","status":500}');
    const t = await fetch(`${base}/async`);
    expect(t.status).toBe(418);
    expect(await t.text()).toBe(`{"error":"I'm a Teapot","status":418}`);
    await settle(server!);
    expect(capture.lines).toHaveLength(2);
    const [boom, teapot] = capture.lines;
    expect(boom).toMatchObject({ level: 'error', route: '/boom', status_code: 500, msg: 'request completed' });
    const err = boom!.err as { type: string; message: string; stack: string };
    expect(err.type).toBe('TypeError');
    expect(err.message).toBe('db password is hunter2');
    expect(err.stack.startsWith('TypeError: db password is hunter2\n    at ')).toBe(true);
    expect(teapot).toMatchObject({ level: 'warn', route: '/async', status_code: 418 });
    expect((teapot!.err as { message: string }).message).toBe('teapot');
  });

  it('lets the user\'s own error handler, declared after instrument(), run first', async () => {
    const { capture, base } = await start((app) => {
      app.get('/boom', () => {
        throw new Error('mine');
      });
      app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(502).send(`handled ${err.message}`);
      });
    });
    const r = await fetch(`${base}/boom`);
    expect([r.status, await r.text()]).toEqual([502, 'handled mine']);
    await settle(server!);
    expect(capture.lines).toHaveLength(1);
    expect(capture.lines[0]).toMatchObject({ level: 'error', status_code: 502 });
  });
});

describe('Express trace IDs on the request line and req.log', () => {
  const manager = new AsyncLocalStorageContextManager();
  // periscope's tracing registers the global context manager when instrument() runs; this
  // one is only registered (and removed) when none is there yet.
  let registered = false;
  beforeAll(() => {
    registered = context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    if (registered) context.disable();
    manager.disable();
  });

  it('req.log lines carry the span the code runs in (a user\'s own span too); the request line the request\'s span', async () => {
    const { capture, base } = await start((app) => {
      app.get('/t', async (req, res) => {
        req.log.info('in the request span');
        const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
        await context.with(trace.setSpan(context.active(), span), async () => {
          await new Promise<void>((r) => setImmediate(r));
          req.log.info('in my span, after an await');
        });
        // Ended from a timer: the request line is still written in the request's context.
        setTimeout(() => res.send('t'), 1);
      });
    });
    await (await fetch(`${base}/t`, { headers: { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` } })).text();
    await settle(server!);
    const lines = capture.lines;
    const requestSpan = lines[0]!.span_id;
    expect(requestSpan).toMatch(/^[0-9a-f]{16}$/);
    expect(lines.map((l) => [l.msg, l.trace_id, l.span_id])).toEqual([
      ['in the request span', '1'.repeat(32), requestSpan],
      ['in my span, after an await', TRACE_ID, SPAN_ID],
      ['request completed', '1'.repeat(32), requestSpan],
    ]);
  });
});
