import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import pino from 'pino';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { instrument } from '../../src/index.js';
import type { Periscope, LoggingOptions } from '../../src/index.js';
import { createLogger } from '../../src/logging/index.js';
import { Capture, settle, track } from './helpers.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

let app: FastifyInstance | undefined;
let obs: Periscope | undefined;
afterEach(async () => {
  await app?.close();
  await obs?.shutdown();
  app = undefined;
  obs = undefined;
});

async function start(build: (app: FastifyInstance) => void, logging: LoggingOptions | undefined = {}, fastifyOptions: FastifyServerOptions = {}) {
  const capture = new Capture();
  app = Fastify(fastifyOptions);
  obs = instrument(app, logging === undefined ? {} : { logging: { destination: capture, ...logging } });
  build(app);
  track(app.server);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { capture, base };
}

describe('Fastify request line and request.log', () => {
  it('writes only periscope\'s lines: request.log as a child of obs.logger with the request ID, and one request line', async () => {
    const { capture, base } = await start((a) => {
      a.get('/users/:id', async (request) => {
        request.log.info({ id: (request.params as { id: string }).id }, 'inside');
        return { ok: true };
      });
    });
    const r = await fetch(`${base}/users/7?x=1`, { headers: { 'x-request-id': 'abc-123', 'user-agent': 'ua/1' } });
    expect(await r.text()).toBe('{"ok":true}');
    expect(r.headers.get('x-request-id')).toBe('abc-123');
    await (await fetch(`${base}/metrics`)).text();
    await (await fetch(`${base}/nowhere`)).text();
    await settle(app!.server);
    const lines = capture.lines;
    expect(lines.map((l) => [l.msg, l.request_id])).toEqual([
      ['inside', 'abc-123'],
      ['request completed', 'abc-123'],
      ['request completed', lines[2]!.request_id],
    ]);
    expect(lines[0]).toMatchObject({ level: 'info', service: lines[1]!.service, id: '7' });
    expect(lines[1]).toMatchObject({
      level: 'info', method: 'GET', route: '/users/:id', path: '/users/7', status_code: 200, bytes: 11, client_address: '127.0.0.1', user_agent: 'ua/1',
    });
    expect(lines[2]).toMatchObject({ level: 'warn', route: 'unmatched', path: '/nowhere', status_code: 404 });
  });

  it('gives request.log to routes declared before instrument() and in plugins too', async () => {
    const capture = new Capture();
    app = Fastify();
    app.get('/early', async (request) => {
      request.log.info('early');
      return 'e';
    });
    app.register(async (child) => {
      child.get('/plugin', async (request) => {
        request.log.info('plugin');
        return 'p';
      });
    });
    obs = instrument(app, { logging: { destination: capture } });
    track(app.server);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await (await fetch(`${base}/early`, { headers: { 'x-request-id': 'e-1' } })).text();
    await (await fetch(`${base}/plugin`, { headers: { 'x-request-id': 'p-1' } })).text();
    await settle(app.server);
    expect(capture.lines.map((l) => [l.msg, l.request_id])).toEqual([
      ['early', 'e-1'],
      ['request completed', 'e-1'],
      ['plugin', 'p-1'],
      ['request completed', 'p-1'],
    ]);
  });

  it('makes Fastify\'s own request.id the same request ID', async () => {
    const { capture, base } = await start((a) => {
      a.get('/id', async (request) => ({ id: request.id }));
    });
    const sent = await (await fetch(`${base}/id`, { headers: { 'x-request-id': 'given-1' } })).json();
    const r = await fetch(`${base}/id`, { headers: { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` } });
    const fromTrace = await r.json();
    await settle(app!.server);
    expect(sent).toEqual({ id: 'given-1' });
    expect(fromTrace).toEqual({ id: TRACE_ID });
    expect(r.headers.get('x-request-id')).toBe(TRACE_ID);
    expect(capture.withMsg('request completed').map((l) => l.request_id)).toEqual(['given-1', TRACE_ID]);
  });

  it('leaves Fastify\'s request IDs alone with requestId: false', async () => {
    const { capture, base } = await start((a) => {
      a.get('/id', async (request) => {
        request.log.info('inside');
        return { id: request.id };
      });
    }, { requestId: false });
    const r = await fetch(`${base}/id`, { headers: { 'x-request-id': 'ignored' } });
    expect(await r.json()).toEqual({ id: 'req-1' });
    expect(r.headers.get('x-request-id')).toBe(null);
    await settle(app!.server);
    expect(capture.lines.map((l) => [l.msg, l.reqId, l.request_id])).toEqual([
      ['inside', undefined, undefined],
      ['request completed', undefined, undefined],
    ]);
  });

  it('logs a thrown error once, with type, message and stack, and hides it from the client', async () => {
    const { capture, base } = await start((a) => {
      a.get('/boom', async () => {
        throw new RangeError('secret internals');
      });
    });
    const r = await fetch(`${base}/boom`);
    expect(r.status).toBe(500);
    expect(await r.text()).toBe('{"statusCode":500,"error":"Internal Server Error","message":"Internal Server Error"}');
    await settle(app!.server);
    expect(capture.lines).toHaveLength(1);
    const line = capture.lines[0]!;
    expect(line).toMatchObject({ level: 'error', route: '/boom', status_code: 500 });
    const err = line.err as { type: string; message: string; stack: string };
    expect([err.type, err.message]).toEqual(['RangeError', 'secret internals']);
    expect(err.stack.startsWith('RangeError: secret internals\n    at ')).toBe(true);
  });

  it('leaves an app\'s own error handler and 4xx error messages alone', async () => {
    const { capture, base } = await start((a) => {
      a.setErrorHandler(async (error, _request, reply) => reply.code(503).send({ mine: (error as Error).message }));
      a.get('/boom', async () => {
        throw new Error('visible');
      });
    });
    const r = await fetch(`${base}/boom`);
    expect([r.status, await r.text()]).toEqual([503, '{"mine":"visible"}']);
    await settle(app!.server);
    expect(capture.lines).toHaveLength(1);
    expect(capture.lines[0]).toMatchObject({ level: 'error', status_code: 503 });
  });

  it('adopts a logger made by createLogger() and given to Fastify as loggerInstance', async () => {
    const capture = new Capture();
    const logger = createLogger({ destination: capture, serviceName: 'adopted' });
    const adopted = Fastify({ loggerInstance: logger });
    app = adopted as unknown as FastifyInstance;
    obs = instrument(adopted);
    expect(obs.logger).toBe(logger);
    adopted.get('/a', async (request) => {
      request.log.info('inside');
      adopted.log.info('app log');
      return 'a';
    });
    track(adopted.server);
    await adopted.listen({ port: 0, host: '127.0.0.1' });
    await (await fetch(`http://127.0.0.1:${(adopted.server.address() as AddressInfo).port}/a`, { headers: { 'x-request-id': 'r1' } })).text();
    await settle(app!.server);
    const lines = capture.lines.filter((l) => typeof l.msg !== 'string' || !l.msg.startsWith('Server listening'));
    expect(lines.map((l) => [l.msg, l.request_id, l.service])).toEqual([
      ['inside', 'r1', 'adopted'],
      ['app log', undefined, 'adopted'],
      ['request completed', 'r1', 'adopted'],
    ]);
  });

  it('keeps an app\'s own pino logger working, in periscope\'s schema and with periscope\'s request ID, and owns the request line', async () => {
    const own = new Capture();
    const { capture, base } = await start(
      (a) => {
        a.get('/own', async (request) => {
          request.log.info('mine');
          return 'own';
        });
      },
      {},
      { loggerInstance: pino({}, own) },
    );
    await (await fetch(`${base}/own`, { headers: { 'x-request-id': 'own-1' } })).text();
    await settle(app!.server);
    // Fastify's "incoming request" and "request completed" are gone: periscope's line is the one.
    expect(own.lines.filter((l) => l.request_id !== undefined || l.reqId !== undefined).map((l) => [l.level, l.msg, l.request_id, l.reqId])).toEqual([
      ['info', 'mine', 'own-1', undefined],
    ]);
    expect(capture.lines.map((l) => [l.msg, l.request_id])).toEqual([['request completed', 'own-1']]);
  });
});

describe('Fastify injection', () => {
  it('keeps every line valid JSON with the true level when headers and fields try to forge lines', async () => {
    const { capture, base } = await start(
      (a) => {
        a.get('/inj', async (request) => {
          request.log.info({ level: 'fatal', ua: request.headers['user-agent'] }, 'user fields');
          return 'ok';
        });
      },
      { requests: { fields: ['user_agent', 'headers', 'path'] } },
    );
    // fetch refuses raw newlines in headers; tabs, quotes, backslashes and JSON are allowed.
    const ua = 'x"}\t{"level":"fatal","msg":"forged\\';
    await (await fetch(`${base}/inj?%0A%7B%22level%22%3A%22fatal%22%7D`, { headers: { 'user-agent': ua, 'x-request-id': 'a"b' } })).text();
    await settle(app!.server);
    expect(capture.raw).toHaveLength(2);
    for (const raw of capture.raw) expect(raw.slice(0, -1).includes('\n')).toBe(false);
    const [user, line] = capture.lines;
    expect([user!.level, user!.user_level, user!.ua]).toEqual(['info', 'fatal', ua]);
    expect([line!.level, line!.user_agent, line!.path]).toEqual(['info', ua, '/inj']);
    expect((line!.headers as Record<string, string>)['x-request-id']).toBe('a"b');
  });
});

describe('Fastify injection over a raw socket', () => {
  function raw(base: string, payload: string): Promise<string> {
    const { hostname, port } = new URL(base);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.end(Buffer.from(payload, 'latin1')));
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(data.slice(0, data.indexOf('\r\n'))));
    });
  }

  it('never lets a newline, carriage return or NUL in a header reach a log line, and escapes the rest', async () => {
    const { capture, base } = await start(
      (a) => {
        a.get('/inj', async (request) => {
          request.log.info({ ua: request.headers['user-agent'] }, 'user fields');
          return 'ok';
        });
      },
      { requests: { fields: ['user_agent', 'request_id'] } },
    );
    const forged = '{"level":"fatal","msg":"forged"}';
    // Node's HTTP parser refuses these before any application code runs.
    expect(await raw(base, `GET /inj HTTP/1.1\r\nHost: x\r\nUser-Agent: a\n${forged}\r\nConnection: close\r\n\r\n`)).toBe('HTTP/1.1 400 Bad Request');
    expect(await raw(base, `GET /inj HTTP/1.1\r\nHost: x\r\nUser-Agent: a\r${forged}\r\nConnection: close\r\n\r\n`)).toBe('HTTP/1.1 400 Bad Request');
    expect(await raw(base, `GET /inj HTTP/1.1\r\nHost: x\r\nUser-Agent: a\u0000b\r\nConnection: close\r\n\r\n`)).toBe('HTTP/1.1 400 Bad Request');
    // Bytes above 0x7f and quotes are allowed in values: escaped in the line; not a sane request ID.
    expect(await raw(base, `GET /inj HTTP/1.1\r\nHost: x\r\nUser-Agent: \u00ff"}${forged}\r\nX-Request-Id: \u00e9\r\nConnection: close\r\n\r\n`)).toBe('HTTP/1.1 200 OK');
    await settle(app!.server);
    expect(capture.raw).toHaveLength(2);
    for (const line of capture.raw) expect(line.indexOf('\n')).toBe(line.length - 1);
    const [user, request] = capture.lines;
    expect([user!.level, user!.msg, user!.ua]).toEqual(['info', 'user fields', `\u00ff"}${forged}`]);
    expect([request!.level, request!.msg, request!.user_agent]).toEqual(['info', 'request completed', `\u00ff"}${forged}`]);
    expect(request!.request_id).not.toBe('\u00e9');
    expect(request!.request_id).toBe(user!.request_id);
  });
});

describe('Fastify trace IDs', () => {
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

  it('puts the active span\'s IDs on request.log lines, after an await', async () => {
    const { capture, base } = await start((a) => {
      a.get('/t', async (request) => {
        const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
        await context.with(trace.setSpan(context.active(), span), async () => {
          await new Promise<void>((r) => setImmediate(r));
          request.log.info('after await');
        });
        return 't';
      });
    });
    await (await fetch(`${base}/t`)).text();
    await settle(app!.server);
    expect(capture.withMsg('after await').map((l) => [l.trace_id, l.span_id, l.trace_flags])).toEqual([[TRACE_ID, SPAN_ID, '01']]);
  });

  it('puts them on request.log lines of an app that keeps its own pino logger (and its own mixin)', async () => {
    const own = new Capture();
    const { base, capture } = await start(
      (a) => {
        a.get('/t', async (request) => {
          const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
          await context.with(trace.setSpan(context.active(), span), async () => {
            await new Promise<void>((r) => setImmediate(r));
            request.log.info({ level: 'fatal' }, 'own after await');
          });
          request.log.info('own outside');
          return 't';
        });
      },
      {},
      { loggerInstance: pino({ mixin: () => ({ tenant: 'acme' }) }, own) },
    );
    await (await fetch(`${base}/t`)).text();
    await settle(app!.server);
    const inside = own.lines.find((l) => l.msg === 'own after await')!;
    expect([inside.trace_id, inside.span_id, inside.trace_flags, inside.tenant, inside.level, inside.user_level]).toEqual([TRACE_ID, SPAN_ID, '01', 'acme', 'info', 'fatal']);
    // Outside the test's span: the request's own trace (when tracing is on) or none.
    const outside = own.lines.find((l) => l.msg === 'own outside')!;
    expect([outside.trace_id, outside.tenant]).toEqual([capture.withMsg('request completed')[0]!.trace_id, 'acme']);
    expect(outside.trace_id).not.toBe(TRACE_ID);
  });
});
