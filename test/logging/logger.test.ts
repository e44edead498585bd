import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createLogging } from '../../src/logging/index.js';
import { readEnv, resolveOptions } from '../../src/options.js';
import type { LoggingOptions, ResolvedLoggingOptions } from '../../src/logging/options.js';
import { Capture } from './helpers.js';

const noReport = (error: unknown) => {
  throw error;
};

function makeLogger(logging: LoggingOptions = {}, env = readEnv({})) {
  const capture = new Capture();
  const resolved = resolveOptions({ serviceName: 'svc', version: '1.2.3', metrics: false, logging: { destination: capture, ...logging } }, env);
  const logging_ = createLogging({ options: resolved.logging as ResolvedLoggingOptions, service: 'svc', version: '1.2.3', report: noReport });
  return { logger: logging_.logger, capture };
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

describe('logger line shape', () => {
  it('writes service, version, level name and ISO time on one JSON line', () => {
    const { logger, capture } = makeLogger();
    logger.info({ order: 42 }, 'placed');
    expect(capture.raw).toHaveLength(1);
    expect(capture.raw[0]!.endsWith('\n')).toBe(true);
    expect(capture.raw[0]!.indexOf('\n')).toBe(capture.raw[0]!.length - 1);
    const line = capture.lines[0]!;
    expect(Object.keys(line)).toEqual(['level', 'time', 'service', 'version', 'order', 'msg']);
    expect(line.level).toBe('info');
    expect(line.service).toBe('svc');
    expect(line.version).toBe('1.2.3');
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
    expect(line.order).toBe(42);
    expect(line.msg).toBe('placed');
  });

  it('writes the clock time of each line, to the millisecond (formatted once per millisecond)', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.UTC(2026, 10, 24, 5, 6, 7, 8));
      const { logger, capture } = makeLogger();
      logger.info('a');
      logger.info('b');
      vi.setSystemTime(Date.UTC(2026, 10, 24, 5, 6, 7, 9));
      logger.info('c');
      vi.setSystemTime(Date.UTC(2027, 0, 1));
      logger.info('d');
      expect(capture.lines.map((l) => l.time)).toEqual([
        '2026-11-24T05:06:07.008Z',
        '2026-11-24T05:06:07.008Z',
        '2026-11-24T05:06:07.009Z',
        '2027-01-01T00:00:00.000Z',
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes numeric levels when levelFormat is "number"', () => {
    const { logger, capture } = makeLogger({ levelFormat: 'number' });
    logger.warn('w');
    expect(capture.lines[0]!.level).toBe(40);
  });

  it('takes the level from LOG_LEVEL, and the option wins over it', () => {
    const fromEnv = makeLogger({}, readEnv({ LOG_LEVEL: 'warn' }));
    fromEnv.logger.info('dropped');
    fromEnv.logger.warn('kept');
    expect(fromEnv.capture.lines.map((l) => l.msg)).toEqual(['kept']);
    const fromOption = makeLogger({ level: 'debug' }, readEnv({ LOG_LEVEL: 'error' }));
    fromOption.logger.debug('kept');
    expect(fromOption.capture.lines.map((l) => l.msg)).toEqual(['kept']);
  });
});

describe('trace IDs from the active span', () => {
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

  function inSpan<T>(flags: number, fn: () => T): T {
    const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: flags });
    return context.with(trace.setSpan(context.active(), span), fn);
  }

  it('puts trace_id, span_id and trace_flags on lines written in the span, after an await and in a timer', async () => {
    const { logger, capture } = makeLogger();
    logger.info('before');
    await inSpan(TraceFlags.SAMPLED, async () => {
      logger.info('sync');
      await new Promise<void>((r) => setImmediate(r));
      logger.child({ part: 'db' }).info('after await');
      await new Promise<void>((resolve) => {
        setTimeout(() => {
          logger.info('in timer');
          resolve();
        }, 0);
      });
    });
    logger.info('after');
    const lines = capture.lines;
    expect(lines.map((l) => l.msg)).toEqual(['before', 'sync', 'after await', 'in timer', 'after']);
    for (const l of lines.slice(1, 4)) {
      expect(l.trace_id).toBe(TRACE_ID);
      expect(l.span_id).toBe(SPAN_ID);
      expect(l.trace_flags).toBe('01');
    }
    expect(lines[2]!.part).toBe('db');
    expect('trace_id' in lines[0]!).toBe(false);
    expect('trace_id' in lines[4]!).toBe(false);
  });

  it('writes trace_flags "00" for an unsampled span and nothing for an invalid one', () => {
    const { logger, capture } = makeLogger();
    inSpan(TraceFlags.NONE, () => logger.info('unsampled'));
    const invalid = trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 });
    context.with(trace.setSpan(context.active(), invalid), () => logger.info('invalid'));
    expect(capture.lines[0]!.trace_flags).toBe('00');
    expect('trace_id' in capture.lines[1]!).toBe(false);
  });

  it('keeps the real trace_id, level and time when the user logs fields of those names', () => {
    const { logger, capture } = makeLogger();
    const userFields = { level: 'fatal', time: 'yesterday', trace_id: 'forged', span_id: 'x', trace_flags: 'y', ok: true };
    inSpan(TraceFlags.SAMPLED, () => logger.info(userFields, 'hello'));
    inSpan(TraceFlags.SAMPLED, () => logger.child({ trace_id: 'bound' }).warn('child'));
    expect(userFields.level).toBe('fatal'); // the caller's object is untouched
    const [first, second] = capture.lines;
    expect(first!.level).toBe('info');
    expect(first!.trace_id).toBe(TRACE_ID);
    expect(first!.span_id).toBe(SPAN_ID);
    expect(first!.trace_flags).toBe('01');
    expect(first!.user_level).toBe('fatal');
    expect(first!.user_time).toBe('yesterday');
    expect(first!.user_trace_id).toBe('forged');
    expect(first!.ok).toBe(true);
    expect(new Date(first!.time as string).toISOString()).toBe(first!.time);
    expect(second!.level).toBe('warn');
    expect(second!.trace_id).toBe(TRACE_ID);
  });
});

describe('log injection', () => {
  it('keeps one valid JSON object per line whatever the values and keys hold', () => {
    const { logger, capture } = makeLogger();
    const evil = 'a\nb\r\n{"level":"fatal","msg":"forged"}\u0000\u001b[31m"quoted"\\';
    logger.info({ value: evil, [evil]: 1, nested: { [evil]: evil } }, evil);
    logger.warn(evil);
    expect(capture.raw).toHaveLength(2);
    for (const raw of capture.raw) expect(raw.slice(0, -1).includes('\n')).toBe(false);
    const [a, b] = capture.lines;
    expect(a!.level).toBe('info');
    expect(a!.value).toBe(evil);
    expect(a![evil]).toBe(1);
    expect((a!.nested as Record<string, string>)[evil]).toBe(evil);
    expect(a!.msg).toBe(evil);
    expect(b!.level).toBe('warn');
    expect(b!.msg).toBe(evil);
  });
});

describe('redaction', () => {
  const headers = {
    authorization: 'Bearer secret',
    'proxy-authorization': 'Basic secret',
    cookie: 'session=secret',
    'set-cookie': ['a=secret'],
    'x-api-key': 'secret',
    accept: 'text/plain',
  };
  const redacted = {
    authorization: '[REDACTED]',
    'proxy-authorization': '[REDACTED]',
    cookie: '[REDACTED]',
    'set-cookie': '[REDACTED]',
    'x-api-key': '[REDACTED]',
    accept: 'text/plain',
  };

  it('redacts each default header in headers, request and response objects and at top level', () => {
    const { logger, capture } = makeLogger();
    logger.info({ headers });
    logger.info({ request: { method: 'GET', headers } });
    logger.info({ response: { statusCode: 200, headers } });
    logger.info({ ...headers });
    const [a, b, c, d] = capture.lines;
    expect(a!.headers).toEqual(redacted);
    expect((b!.request as { headers: unknown }).headers).toEqual(redacted);
    expect((c!.response as { headers: unknown }).headers).toEqual(redacted);
    expect(d!.authorization).toBe('[REDACTED]');
    expect(d!['x-api-key']).toBe('[REDACTED]');
    expect(d!.accept).toBe('text/plain');
    // Redaction never edits the caller's object.
    expect(headers.authorization).toBe('Bearer secret');
    expect(capture.raw.join('').includes('secret')).toBe(false);
  });

  it('redacts the request headers of an HTTP client error (axios-style err.config.headers)', () => {
    const { logger, capture } = makeLogger();
    const err = Object.assign(new Error('Request failed with status code 502'), { config: { url: 'http://upstream', headers } });
    logger.error({ err }, 'upstream failed');
    const logged = capture.lines[0]!.err as { message: string; config: { url: string; headers: unknown } };
    expect(logged.message).toBe('Request failed with status code 502');
    expect(logged.config.url).toBe('http://upstream');
    expect(logged.config.headers).toEqual(redacted);
    expect(err.config.headers.authorization).toBe('Bearer secret');
  });

  it('redacts configured paths as well', () => {
    const { logger, capture } = makeLogger({ redact: ['body.password', '*.token'] });
    logger.info({ body: { user: 'ann', password: 'hunter2' }, auth: { token: 't0k' } });
    expect(capture.lines[0]!.body).toEqual({ user: 'ann', password: '[REDACTED]' });
    expect(capture.lines[0]!.auth).toEqual({ token: '[REDACTED]' });
  });
});
