import { describe, expect, it } from 'vitest';
import { eventLoopCheck, heapCheck, httpCheck, isPeriscopeError, postgresCheck, redisCheck } from '../../src/index.js';
import { createLogger } from '../../src/logging/index.js';

const pool = { query: async () => ({ rows: [] }) };
const redis = { ping: async () => 'PONG' };

function thrown(fn: () => unknown): { code: string; option: string | undefined; message: string } {
  try {
    fn();
  } catch (error) {
    expect(isPeriscopeError(error)).toBe(true);
    return error as { code: string; option: string | undefined; message: string };
  }
  throw new Error('expected a PeriscopeError');
}

describe('every options object periscope takes refuses a key it does not know', () => {
  it.each([
    ['postgresCheck', () => postgresCheck(pool, { qurey: 'SELECT 2' } as never), 'postgresCheck().qurey', 'query'],
    ['httpCheck', () => httpCheck('http://127.0.0.1:1/', { header: { a: 'b' } } as never), 'httpCheck().header', 'headers'],
    ['eventLoopCheck', () => eventLoopCheck({ maxDelay: 100 } as never), 'eventLoopCheck().maxDelay', 'maxDelayMs'],
    ['heapCheck', () => heapCheck({ ratio: 0.5 } as never), 'heapCheck().ratio', 'maxUsedRatio'],
    [
      'createLogger',
      () => createLogger({ levle: 'debug' } as never),
      'createLogger().levle',
      'serviceName, version, level, destination, sync, onBackpressure, maxBufferBytes, redact, levelFormat, requests, requestId',
    ],
  ])('%s', (_name, fn, option, known) => {
    const e = thrown(fn);
    expect(e).toMatchObject({ code: 'PERISCOPE_ERR_UNKNOWN_OPTION', option });
    expect(e.message).toBe(`PERISCOPE_ERR_UNKNOWN_OPTION: Unknown option \`${option}\`; known options here: ${known}.`);
  });

  it('the known keys are still taken', () => {
    expect(typeof postgresCheck(pool, { query: 'SELECT 2' })).toBe('function');
    expect(typeof httpCheck('http://127.0.0.1:1/', { headers: { a: 'b' } })).toBe('function');
    const loop = eventLoopCheck({ maxDelayMs: 100 });
    loop.close!();
    expect(typeof heapCheck({ maxUsedRatio: 0.5 })).toBe('function');
    expect(createLogger({ level: 'debug', serviceName: 's', version: '1', destination: { write: () => undefined } }).level).toBe('debug');
  });
});

describe('wrong values and wrong arguments name the call', () => {
  it.each([
    [() => postgresCheck('SELECT 1' as never), 'PERISCOPE_ERR_INVALID_ARGUMENT: postgresCheck(): the client must be a pg Pool or Client (an object with query()), got "SELECT 1".'],
    [() => postgresCheck(pool, 'SELECT 2' as never), 'PERISCOPE_ERR_INVALID_ARGUMENT: postgresCheck(): options must be an object with query (each optional), got "SELECT 2".'],
    [() => postgresCheck(pool, { query: '' }), 'PERISCOPE_ERR_INVALID_OPTION: Invalid option `postgresCheck().query`: got ""; allowed: a non-empty SQL statement.'],
    [() => redisCheck(undefined as never), 'PERISCOPE_ERR_INVALID_ARGUMENT: redisCheck(): the client must be an ioredis or node-redis client (an object with ping()), got undefined.'],
    [() => httpCheck('search:9200/health'), 'PERISCOPE_ERR_INVALID_ARGUMENT: httpCheck(): the url must be an absolute http:// or https:// URL, got "search:9200/health".'],
    [() => httpCheck('/health'), 'PERISCOPE_ERR_INVALID_ARGUMENT: httpCheck(): the url must be an absolute http:// or https:// URL, got "/health".'],
    [() => httpCheck('http://a/', { headers: { n: 1 } } as never), 'PERISCOPE_ERR_INVALID_OPTION: Invalid option `httpCheck().headers`: got an object; allowed: an object of header names to string values.'],
    [() => eventLoopCheck({ maxDelayMs: 0 }), 'PERISCOPE_ERR_INVALID_OPTION: Invalid option `eventLoopCheck().maxDelayMs`: got 0; allowed: an integer from 1 to 600000 (milliseconds).'],
    [() => heapCheck({ maxUsedRatio: 90 }), 'PERISCOPE_ERR_INVALID_OPTION: Invalid option `heapCheck().maxUsedRatio`: got 90; allowed: a number from 0 to 1 (0.9 is 90%).'],
    [() => createLogger('debug' as never), 'PERISCOPE_ERR_INVALID_ARGUMENT: createLogger(): options must be an object with serviceName, version, level, destination, sync, onBackpressure, maxBufferBytes, redact, levelFormat, requests, requestId (each optional), got "debug".'],
  ])('%#: %s', (fn, message) => {
    expect(() => fn()).toThrow(message);
  });

  it('an argument error carries no option name', () => {
    expect(thrown(() => redisCheck(null as never))).toMatchObject({ code: 'PERISCOPE_ERR_INVALID_ARGUMENT', option: undefined });
  });

  it('redisCheck takes ioredis and node-redis clients', async () => {
    expect(await redisCheck(redis)(new AbortController().signal)).toEqual({ status: 'healthy' });
  });
});
