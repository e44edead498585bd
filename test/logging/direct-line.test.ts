/**
 * The request line written straight from the scope must be the very bytes pino writes for the
 * same line: every case below is written both ways and compared as strings.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestScope } from '../../src/core/index.js';
import { createLogging } from '../../src/logging/index.js';
import { bindingChildren, DirectLineWriter, directLineWriter, millis, quoteJson } from '../../src/logging/direct-line.js';
import pino from 'pino';
import { isoTime } from '../../src/logging/logger.js';
import { requestIdOf } from '../../src/logging/request-id.js';
import { REQUEST_LINE_MESSAGE, RequestLog } from '../../src/logging/request-log.js';
import { readEnv, resolveOptions } from '../../src/options.js';
import type { LoggingOptions, ResolvedLoggingOptions } from '../../src/logging/options.js';
import { Capture } from './helpers.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

function scopeOf(over: Partial<Omit<RequestScope, 'method'>> & { url?: string; httpMethod?: string; headers?: Record<string, string>; remoteAddress?: string | undefined } = {}): RequestScope {
  const clientAddress = 'remoteAddress' in over ? over.remoteAddress : '127.0.0.1';
  const req = {
    method: over.httpMethod ?? 'GET',
    url: over.url ?? '/users/42?x=1',
    headers: over.headers ?? { 'user-agent': 'curl/8.0' },
    socket: { remoteAddress: clientAddress },
  } as unknown as IncomingMessage;
  return {
    req,
    res: {} as ServerResponse,
    method: 0,
    startTime: 0,
    route: '/users/:id',
    status: 200,
    duration: 0.0123456,
    bytes: 17,
    requestId: 'req-1',
    context: undefined,
    traceId: undefined,
    spanId: undefined,
    sampled: false,
    span: undefined,
    error: undefined,
    addressSource: undefined,
    keptClientAddress: clientAddress,
    ...over,
  } as RequestScope;
}

function both(logging: LoggingOptions = {}) {
  const capture = new Capture();
  const resolved = resolveOptions({ serviceName: 'svc', version: '1.2.3', metrics: false, logging: { destination: capture, ...logging } }, readEnv({}));
  const options = resolved.logging as ResolvedLoggingOptions;
  const { logger } = createLogging({ options, service: 'svc', version: '1.2.3', report: (e) => { throw e; } });
  return {
    capture,
    logger,
    direct: new RequestLog(logger, options),
    viaPino: new RequestLog(logger, options, { direct: false }),
  };
}

const CASES: [string, Partial<Omit<RequestScope, 'method'>> & { url?: string; httpMethod?: string; headers?: Record<string, string>; remoteAddress?: string | undefined }][] = [
  ['a plain 200', {}],
  ['a sampled trace', { traceId: TRACE, spanId: SPAN, sampled: true }],
  ['an unsampled trace', { traceId: TRACE, spanId: SPAN, sampled: false }],
  ['a 404 (warn)', { status: 404, route: 'unmatched' }],
  ['a 503 without an error (error level)', { status: 503 }],
  ['quotes, backslashes and control characters', { url: '/a"b\\c\td?q', requestId: 'id"with\\quotes', headers: { 'user-agent': 'ua "x" \\ \u0001' } }],
  ['non-ASCII and long strings', { url: `/caf\u00e9/${'x'.repeat(150)}`, headers: { 'user-agent': 'Mozilla/5.0 \u4e2d\u6587 '.repeat(12) } }],
  ['no user agent, no client address, no request ID', { headers: {}, remoteAddress: undefined, requestId: undefined }],
  ['an unknown method and zero bytes', { httpMethod: 'PURGE', bytes: 0, duration: 0 }],
  ['a client that left (499)', { status: 499, bytes: 0 }],
  ['an emoji (a surrogate pair) and DEL', { url: '/\u{1F600}/\u007f', headers: { 'user-agent': 'ua \u{1F600}' } }],
  ['a string just over the quoting scan', { url: `/${'y'.repeat(300)}` }],
  ['a request ID that is the trace ID', { traceId: TRACE, spanId: SPAN, requestId: TRACE }],
  ['a request ID that is another trace ID', { traceId: TRACE, spanId: SPAN, requestId: '5bf92f3577b34da6a3ce929d0e0e4736' }],
];

describe('the request line written from the scope equals pino’s', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 10, 24, 6, 7, 8, 9));
  });
  afterEach(() => vi.useRealTimers());

  for (const [format, logging] of [
    ['label levels', {}],
    ['number levels', { levelFormat: 'number' }],
    ['some fields only', { requests: { fields: ['method', 'route', 'status_code'] } }],
  ] as [string, LoggingOptions][]) {
    it.each(CASES)(`${format}: %s`, (_name, over) => {
      const { capture, direct, viaPino } = both(logging);
      const scope = scopeOf(over);
      viaPino.onEnd(scope);
      direct.onEnd(scope);
      expect(capture.raw).toHaveLength(2);
      expect(capture.raw[1]).toBe(capture.raw[0]);
    });
  }

  it('a request ID periscope made (a UUID), and one that only looks like it, as pino writes them', () => {
    const { capture, direct, viaPino } = both();
    const made = requestIdOf({ headers: {} } as IncomingMessage, 'x-request-id', 128);
    expect(made).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    for (const requestId of [made, `${made}"`, 'a\\b']) {
      viaPino.onEnd(scopeOf({ requestId }));
      direct.onEnd(scopeOf({ requestId }));
    }
    expect(capture.raw).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) expect(capture.raw[i + 1]).toBe(capture.raw[i]);
    expect(JSON.parse(capture.raw[1]!).request_id).toBe(made);
  });

  it('method and route, quoted once per route and method, as pino writes them: many routes and methods, past the caches’ bounds', () => {
    const { capture, direct, viaPino } = both();
    const methods = ['GET', 'POST', 'PURGE', 'M"X', ...Array.from({ length: 20 }, (_, i) => `X${i}`)];
    const routes = ['/users/:id', '/a"b\\c', '/caf\u00e9', ...Array.from({ length: 2100 }, (_, i) => `/r${i}`)];
    let lines = 0;
    for (let round = 0; round < 2; round++) {
      for (const route of routes.slice(0, round === 0 ? routes.length : 50)) {
        for (const httpMethod of route.startsWith('/r') ? methods.slice(0, 2) : methods) {
          viaPino.onEnd(scopeOf({ route, httpMethod }));
          direct.onEnd(scopeOf({ route, httpMethod }));
          const [a, b] = capture.raw.splice(0);
          expect(b).toBe(a);
          lines++;
        }
      }
    }
    expect(lines).toBe(3 * 24 + 2100 * 2 + (3 * 24 + 47 * 2));
  });

  it('the line of the plain case, whole', () => {
    const { capture, direct } = both();
    direct.onEnd(scopeOf({ traceId: TRACE, spanId: SPAN, sampled: true }));
    expect(capture.raw).toEqual([
      '{"level":"info","time":"2026-11-24T06:07:08.009Z","service":"svc","version":"1.2.3",' +
        `"trace_id":"${TRACE}","span_id":"${SPAN}","trace_flags":"01","request_id":"req-1","method":"GET","route":"/users/:id",` +
        '"path":"/users/42","status_code":200,"duration_ms":12.346,"bytes":17,"client_address":"127.0.0.1","user_agent":"curl/8.0","msg":"request completed"}\n',
    ]);
  });
});

describe('when the line goes through pino', () => {
  it('a redact path on one of the line’s keys is honoured (the direct writer stands aside)', () => {
    const { capture, logger, direct } = both({ redact: ['path'] });
    expect(directLineWriter(logger, REQUEST_LINE_MESSAGE)).toBeUndefined();
    direct.onEnd(scopeOf());
    expect(capture.lines[0]!.path).toBe('[REDACTED]');
    expect(capture.lines[0]!.route).toBe('/users/:id');
  });

  it('a redact path elsewhere leaves the direct writer on', () => {
    const { logger } = both({ redact: ['body.password'] });
    expect(directLineWriter(logger, REQUEST_LINE_MESSAGE)).toBeInstanceOf(DirectLineWriter);
  });

  it('several destinations (pino.multistream needs per-line metadata): pino writes, every destination gets the line', () => {
    const other = new Capture();
    const { capture, logger, direct } = both({ destination: [new Capture(), other] });
    expect(directLineWriter(logger, REQUEST_LINE_MESSAGE)).toBeUndefined();
    direct.onEnd(scopeOf());
    expect(capture.raw).toHaveLength(0);
    expect(other.lines.map((l) => [l.msg, l.status_code])).toEqual([['request completed', 200]]);
  });

  it('a line with an error is serialized by pino’s err serializer', () => {
    const { capture, direct } = both();
    direct.onEnd(scopeOf({ status: 500, error: new TypeError('kaboom') }));
    const line = capture.lines[0]!;
    expect(line.level).toBe('error');
    expect(line.err).toMatchObject({ type: 'TypeError', message: 'kaboom' });
  });

  it('a level turned down at runtime is honoured', () => {
    const { capture, logger, direct } = both();
    logger.level = 'warn';
    direct.onEnd(scopeOf());
    direct.onEnd(scopeOf({ status: 404 }));
    expect(capture.lines.map((l) => [l.level, l.status_code])).toEqual([['warn', 404]]);
  });
});

describe('the pieces of the direct line', () => {
  afterEach(() => vi.useRealTimers());

  it('isoTime is pino\'s isoTime to the millisecond, across seconds, days and years', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const starts = [Date.UTC(2026, 11, 31, 23, 59, 58, 990), Date.UTC(2024, 1, 28, 23, 59, 59, 0), Date.UTC(1970, 0, 1, 0, 0, 0, 0), Date.UTC(2026, 5, 1, 12, 0, 0, 500)];
    let checked = 0;
    for (const start of starts) {
      // Forwards a millisecond at a time over more than two seconds, then a jump back and forth.
      for (let t = start; t < start + 2100; t += 1) {
        vi.setSystemTime(t);
        expect(isoTime()).toBe(`,"time":"${new Date(t).toISOString()}"`);
        checked++;
      }
      for (const t of [start + 5, start - 1000, start + 86_400_000, start]) {
        vi.setSystemTime(t);
        expect(isoTime()).toBe(`,"time":"${new Date(t).toISOString()}"`);
        checked++;
      }
    }
    // A year after 9999 has another shape: still toISOString's.
    vi.setSystemTime(Date.UTC(10000, 0, 1));
    expect(isoTime()).toBe(',"time":"+010000-01-01T00:00:00.000Z"');
    expect(checked).toBe(4 * 2104);
  });
});

describe('request children made without pino\'s child()', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 11, 3, 10, 0, 0, 1));
  });
  afterEach(() => vi.useRealTimers());

  it('write what pino\'s children write, also their own children, bindings and level changes', () => {
    const { capture, logger } = both();
    const make = bindingChildren(logger, 'request_id')!;
    for (const id of ['req-1', '4bf92f3577b34da6a3ce929d0e0e4736', 'a"b\\c', 'caf\u00e9']) {
      const ours = make(id);
      const theirs = logger.child({ request_id: id });
      for (const l of [theirs, ours]) {
        l.info({ user: 7 }, 'hello');
        l.child({ step: 'db' }).warn('nested');
        l.error(new Error('boom'));
      }
      expect(ours.bindings()).toEqual(theirs.bindings());
      const lines = capture.raw.splice(0).map((line) => line.replace(/"stack":"[^"]*"/, '"stack":""'));
      expect(lines).toHaveLength(6);
      expect(lines.slice(3)).toEqual(lines.slice(0, 3));
      expect(JSON.parse(lines[0]!).request_id).toBe(id);
      // The level of one request's child is its own.
      ours.level = 'error';
      ours.info('not written');
      make('other').info('written');
      expect(capture.raw.splice(0).map((line) => JSON.parse(line).request_id)).toEqual(['other']);
    }
  });

  it('are not made where pino\'s child would differ: a serializer or stringifier for the key, an onChild hook', () => {
    const sink = { write() {} };
    expect(bindingChildren(pino({ serializers: { request_id: (v: string) => v.toUpperCase() } }, sink), 'request_id')).toBe(undefined);
    expect(bindingChildren(pino({ redact: ['request_id'] }, sink), 'request_id')).toBe(undefined);
    expect(bindingChildren(pino({ redact: ['*.secret'] }, sink), 'request_id')).toBe(undefined);
    expect(bindingChildren(pino({ onChild: () => {} }, sink), 'request_id')).toBe(undefined);
    expect(typeof bindingChildren(pino({ redact: ['password'] }, sink), 'request_id')).toBe('function');
  });
});

describe('durations written without a double-to-string conversion', () => {
  it('are the digits JSON.stringify writes, for every microsecond of the first two seconds and far beyond', () => {
    for (let us = 0; us <= 2_000_000; us++) {
      const ms = us / 1000;
      if (millis(ms) !== JSON.stringify(ms)) expect(millis(ms)).toBe(JSON.stringify(ms));
    }
    for (const ms of [12.346, 0.001, 999_999_999.999, 1e9, 123456789.5, 1e12 / 1000 - 0.001, 0.0001, 1.0005, -1, -0, 1e21, 5e-7, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(millis(ms)).toBe(JSON.stringify(ms));
    }
    for (let i = 0; i < 100_000; i++) {
      const ms = Math.round(Math.random() * 1e6 * 1e6) / 1e3;
      expect(millis(ms)).toBe(JSON.stringify(ms));
    }
  });
});

describe('strings quoted without JSON.stringify where nothing needs escaping', () => {
  it('are what JSON.stringify writes, for every UTF-16 code unit alone and inside printable text', () => {
    for (let c = 0; c <= 0xffff; c++) {
      const one = String.fromCharCode(c);
      const inside = `/users/${one}/x`;
      if (quoteJson(one) !== JSON.stringify(one)) expect(quoteJson(one)).toBe(JSON.stringify(one));
      if (quoteJson(inside) !== JSON.stringify(inside)) expect(quoteJson(inside)).toBe(JSON.stringify(inside));
    }
    const samples = ['', '/hello/n1', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)', 'a"b', 'a\\b', 'tab\there', 'line\nbreak', '</script>', 'café', '😀', '\ud800', 'x\ud83d', '::ffff:127.0.0.1', ' ~'];
    for (const text of samples) expect(quoteJson(text)).toBe(JSON.stringify(text));
    // The quoted-as-is case really is as is.
    expect(quoteJson('/hello/n1')).toBe('"/hello/n1"');
  });
});
