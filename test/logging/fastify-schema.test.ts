import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { instrument } from '../../src/index.js';
import type { Periscope } from '../../src/index.js';
import { createLogger } from '../../src/logging/index.js';
import { Capture, settle, track } from './helpers.js';

/*
 * One request to an app in each of the three ways a Fastify app meets periscope's logger, and
 * every line it writes: the same schema (level label, ISO time, service and version, trace
 * fields) from periscope, from request.log and from app.log, and exactly one request line.
 */

let app: FastifyInstance | undefined;
let obs: Periscope | undefined;
afterEach(async () => {
  await app?.close();
  await obs?.shutdown();
  app = undefined;
  obs = undefined;
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

function routes(a: FastifyInstance): void {
  a.get('/users/:id', async (request) => {
    request.log.info({ user: Number((request.params as { id: string }).id) }, 'loading user');
    a.log.info('cache warm');
    return { ok: true };
  });
}

async function oneRequest(a: FastifyInstance, logs: Capture): Promise<Record<string, unknown>[]> {
  app = a;
  routes(a);
  track(a.server);
  await a.listen({ port: 0, host: '127.0.0.1' });
  const listening = logs.raw.length; // lines written before the request (Fastify's "Server listening")
  const r = await fetch(`http://127.0.0.1:${(a.server.address() as AddressInfo).port}/users/7`, { headers: { 'x-request-id': 'req-7', 'user-agent': 'ua/1' } });
  expect(await r.text()).toBe('{"ok":true}');
  await settle(a.server);
  return logs.lines.slice(listening);
}

/** Every line's clock and trace fields checked for shape and for being the request's own; the rest returned for an exact comparison. */
function stable(lines: Record<string, unknown>[]): Record<string, unknown>[] {
  const traceId = lines.find((l) => l.msg === 'request completed')!.trace_id;
  expect(traceId).toMatch(HEX32);
  return lines.map((line) => {
    const { time, trace_id, span_id, trace_flags, duration_ms, ...rest } = line;
    expect(time).toMatch(ISO);
    expect([trace_id, trace_flags]).toEqual([traceId, '01']);
    expect(span_id).toMatch(HEX16);
    if (duration_ms !== undefined) expect(typeof duration_ms).toBe('number');
    return rest;
  });
}

const requestLine = {
  level: 'info',
  service: 'shop',
  version: '1.2.3',
  request_id: 'req-7',
  method: 'GET',
  route: '/users/:id',
  path: '/users/7',
  status_code: 200,
  bytes: 11,
  client_address: '127.0.0.1',
  user_agent: 'ua/1',
  msg: 'request completed',
};
const handlerLine = { level: 'info', service: 'shop', version: '1.2.3', request_id: 'req-7', user: 7, msg: 'loading user' };
const appLogLine = { level: 'info', service: 'shop', version: '1.2.3', msg: 'cache warm' };

describe('one schema for every line of a Fastify request', () => {
  it('Fastify({ logger: { ... } }): the app\'s own pino logger writes in periscope\'s schema, and periscope owns the request line', async () => {
    const logs = new Capture();
    const a = Fastify({ logger: { level: 'info', stream: logs } });
    obs = instrument(a, { serviceName: 'shop', version: '1.2.3', logging: { destination: logs } });
    const lines = await oneRequest(a, logs);
    // Before: {"level":30,"time":1733150000000,"pid":..,"hostname":..,"reqId":"req-1","req":{..},"msg":"incoming request"},
    // the handler's lines without trace fields, and Fastify's "request completed" next to periscope's.
    expect(stable(lines)).toEqual([handlerLine, appLogLine, requestLine]);
    // Fastify's own startup line, in the same schema.
    const listening = logs.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening at '))!;
    expect(Object.keys(listening)).toEqual(['level', 'time', 'service', 'version', 'msg']);
    expect([listening.level, listening.service]).toEqual(['info', 'shop']);
    expect(listening.time).toMatch(ISO);
  });

  it('Fastify({ logger: true }), the configuration of the report: every stdout line of one request, from the built package', async () => {
    const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    expect(existsSync(dist), 'run `npm run build` first (npm test does)').toBe(true);
    const fixture = fileURLToPath(new URL('./fixtures/fastify-logger-true.mjs', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [fixture], { env: { ...process.env, LOG_LEVEL: 'info' }, timeout: 20_000 });
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const [listening, ...request] = lines;
    expect(Object.keys(listening!)).toEqual(['level', 'time', 'service', 'version', 'msg']);
    expect((listening!.msg as string).startsWith('Server listening at http://127.0.0.1:')).toBe(true);
    // One request line (no Fastify "incoming request" / "request completed"), every line alike.
    // Fastify's stream and periscope's are two writers on stdout: compare in message order.
    const byMsg = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.msg).localeCompare(String(b.msg));
    expect(stable(request).sort(byMsg)).toEqual([appLogLine, handlerLine, requestLine]);
  });

  it('Fastify({ loggerInstance: pino(...) }): other bindings of the app\'s logger stay, pid and hostname go', async () => {
    const logs = new Capture();
    const a = Fastify({ loggerInstance: pino({ base: { pid: 1, hostname: 'h', region: 'eu' } }, logs) }) as unknown as FastifyInstance;
    obs = instrument(a, { serviceName: 'shop', version: '1.2.3', logging: { destination: logs } });
    const lines = await oneRequest(a, logs);
    expect(stable(lines)).toEqual([{ ...handlerLine, region: 'eu' }, { ...appLogLine, region: 'eu' }, requestLine]);
  });

  it('Fastify({ loggerInstance: createLogger() }): periscope\'s own logger, adopted', async () => {
    const logs = new Capture();
    const a = Fastify({ loggerInstance: createLogger({ serviceName: 'shop', version: '1.2.3', destination: logs }) }) as unknown as FastifyInstance;
    obs = instrument(a);
    const lines = await oneRequest(a, logs);
    expect(stable(lines)).toEqual([handlerLine, appLogLine, requestLine]);
  });

  it('Fastify() without a logger: request.log is periscope\'s; app.log stays Fastify\'s silent logger', async () => {
    const logs = new Capture();
    const a = Fastify();
    obs = instrument(a, { serviceName: 'shop', version: '1.2.3', logging: { destination: logs } });
    const lines = await oneRequest(a, logs);
    expect(stable(lines)).toEqual([handlerLine, requestLine]);
  });

  it('logging.levelFormat "number" applies to the app\'s own logger too', async () => {
    const logs = new Capture();
    const a = Fastify({ logger: { stream: logs } });
    obs = instrument(a, { serviceName: 'shop', version: '1.2.3', logging: { destination: logs, levelFormat: 'number' } });
    const lines = await oneRequest(a, logs);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [30, 'loading user'],
      [30, 'cache warm'],
      [30, 'request completed'],
    ]);
  });

  it('a route\'s own logLevel still governs its request.log', async () => {
    const logs = new Capture();
    const a = Fastify({ logger: { level: 'info', stream: logs } });
    obs = instrument(a, { serviceName: 'shop', version: '1.2.3', logging: { destination: logs, level: 'debug' } });
    app = a;
    a.get('/quiet', { logLevel: 'warn' }, async (request) => {
      request.log.info('dropped');
      request.log.warn('kept');
      return 'q';
    });
    a.get('/loud', { logLevel: 'debug' }, async (request) => {
      request.log.debug('details');
      return 'l';
    });
    track(a.server);
    await a.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`;
    await (await fetch(`${base}/quiet`)).text();
    await (await fetch(`${base}/loud`)).text();
    await settle(a.server);
    expect(logs.lines.filter((l) => l.request_id !== undefined).map((l) => [l.level, l.msg, l.route])).toEqual([
      ['warn', 'kept', undefined],
      ['info', 'request completed', '/quiet'],
      ['debug', 'details', undefined],
      ['info', 'request completed', '/loud'],
    ]);
  });
});

describe('redaction of a Fastify app\'s own logger', () => {
  it('Fastify({ logger: { ... } }) without redact: request.log and app.log lines carry no credential', async () => {
    const logs = new Capture();
    const a = Fastify({ logger: { level: 'info', stream: logs } });
    obs = instrument(a, { serviceName: 'shop', version: '1.2.3', logging: { destination: logs, redact: ['body.password'] } });
    app = a;
    a.get('/secret', async (request) => {
      request.log.info({ authorization: 'Bearer top', headers: request.headers, body: { password: 'p', user: 'u' } }, 'handler');
      request.log.child({ step: 'db' }).info({ cookie: 'sid=2' }, 'nested');
      a.log.info({ 'x-api-key': 'k' }, 'app');
      return 'ok';
    });
    track(a.server);
    await a.listen({ port: 0, host: '127.0.0.1' });
    await (await fetch(`http://127.0.0.1:${(a.server.address() as AddressInfo).port}/secret`, { headers: { authorization: 'Bearer hdr', cookie: 'sid=1' } })).text();
    await settle(a.server);
    const raw = logs.raw.join('');
    for (const secret of ['Bearer top', 'Bearer hdr', 'sid=1', 'sid=2', '"k"', '"p"']) expect(raw).not.toContain(secret);
    const handler = logs.lines.find((l) => l.msg === 'handler')!;
    expect([handler.authorization, (handler.headers as Record<string, unknown>).authorization, (handler.headers as Record<string, unknown>).cookie, handler.body]).toEqual([
      '[REDACTED]',
      '[REDACTED]',
      '[REDACTED]',
      { password: '[REDACTED]', user: 'u' },
    ]);
    expect(logs.lines.find((l) => l.msg === 'nested')!.cookie).toBe('[REDACTED]');
    expect(logs.lines.find((l) => l.msg === 'app')!['x-api-key']).toBe('[REDACTED]');
  });

  it('an app logger with redaction of its own keeps it', async () => {
    const logs = new Capture();
    const a = Fastify({ loggerInstance: pino({ redact: { paths: ['token'], censor: '***' } }, logs) }) as unknown as FastifyInstance;
    obs = instrument(a, { serviceName: 'shop', version: '1.2.3', logging: { destination: logs } });
    app = a;
    a.log.info({ token: 't', authorization: 'a' }, 'own');
    await a.ready();
    const line = logs.lines.find((l) => l.msg === 'own')!;
    expect([line.token, line.authorization]).toEqual(['***', 'a']);
  });
});

it('createLogger() as a Fastify logger without instrument(): Fastify\'s own request lines show the status and the request', async () => {
  const logs = new Capture();
  const a = Fastify({ loggerInstance: createLogger({ serviceName: 'shop', version: '1.2.3', destination: logs }) }) as unknown as FastifyInstance;
  app = a;
  a.get('/ok', async () => 'ok');
  track(a.server);
  await a.listen({ port: 0, host: '127.0.0.1' });
  await (await fetch(`http://127.0.0.1:${(a.server.address() as AddressInfo).port}/ok?x=1`)).text();
  await settle(a.server);
  const incoming = logs.lines.find((l) => l.msg === 'incoming request')!;
  const completed = logs.lines.find((l) => l.msg === 'request completed')!;
  expect([(incoming.req as Record<string, unknown>).method, (incoming.req as Record<string, unknown>).url]).toEqual(['GET', '/ok?x=1']);
  expect((completed.res as Record<string, unknown>).statusCode).toBe(200);
});
