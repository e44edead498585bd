import { describe, expect, it } from 'vitest';
import { identity, resolveWith, thrown } from './helpers/options.js';
import { HEALTH_DEFAULTS, SHUTDOWN_DEFAULTS, SHUTDOWN_OFF } from '../src/health/options.js';
import { TRACING_DEFAULTS } from '../src/tracing/options.js';
import { resolveSlowRequests } from '../src/resilience/options.js';

// The root options: top-level keys, and each concern's key handed to its own resolver.

const resolve = (options: Record<string, unknown>) => resolveWith(options).resolved;

describe('root options', () => {
  it('ignore: route templates, exact or ending in /*; default []', () => {
    expect(resolve({}).ignore).toEqual([]);
    const r = resolve({ ignore: ['/internal/status', '/users/:id', '/internal/*', '/*'] });
    expect(r.ignore).toEqual(['/internal/status', '/users/:id', '/internal/*', '/*']);
    expect(Object.isFrozen(r.ignore)).toBe(true);
  });

  it.each([
    ['internal/status'],
    ['/internal*'],
    ['/a/*/b'],
    ['/status?x=1'],
    ['/with space'],
    [42],
  ])('ignore: [%j] throws naming ignore', (entry) => {
    expect(thrown(() => resolve({ ignore: [entry] }))).toEqual({
      code: 'PERISCOPE_ERR_INVALID_OPTION',
      option: 'ignore',
      message: `PERISCOPE_ERR_INVALID_OPTION: Invalid option \`ignore\`: got [${typeof entry === 'string' ? JSON.stringify(entry) : entry}]; allowed: an array of route templates starting with "/", exact ("/internal/status") or ending in "/*" ("/internal/*").`,
    });
    expect(thrown(() => resolve({ ignore: '/internal/*' })).option).toBe('ignore');
  });

  it('the resolved shape keeps every top-level key the composition root reads', () => {
    expect(Object.keys(resolve({})).sort()).toEqual(
      ['cluster', 'commit', 'console', 'db', 'diagnostics', 'health', 'ignore', 'logging', 'metrics', 'onInternalError', 'overload', 'routeOf', 'routes', 'server', 'serviceName', 'shutdown', 'slowRequests', 'tracing', 'version'].sort(),
    );
  });

  it('an unknown top-level key lists the known ones, ignore among them', () => {
    const e = thrown(() => resolve({ ignored: [] }));
    expect(e.code).toBe('PERISCOPE_ERR_UNKNOWN_OPTION');
    expect(e.message).toContain('ignore, onInternalError');
  });

  it('each default is written once: the exported defaults are what `true` resolves to', () => {
    const r = resolve({});
    expect(r.health).toEqual(HEALTH_DEFAULTS);
    expect(r.shutdown).toEqual(SHUTDOWN_DEFAULTS);
    expect(SHUTDOWN_OFF).toEqual({ ...SHUTDOWN_DEFAULTS, signals: [], exit: false });
    expect(r.slowRequests).toEqual(resolveSlowRequests(undefined));
    expect(r.slowRequests).toEqual({ thresholdMs: 5000 });
    expect(r.tracing).toMatchObject({
      compression: TRACING_DEFAULTS.compression,
      propagators: TRACING_DEFAULTS.propagators,
      maxQueueSize: TRACING_DEFAULTS.maxQueueSize,
      exportTimeoutMillis: TRACING_DEFAULTS.exportTimeoutMillis,
    });
  });

  it.each([
    [{ compression: 'brotli' }, 'tracing.compression', `got "brotli"; allowed: 'gzip' or 'none'`],
    [{ propagators: ['b3'] }, 'tracing.propagators', `got ["b3"]; allowed: an array of distinct 'tracecontext' and 'baggage' ([] for none)`],
    [{ propagators: ['baggage', 'baggage'] }, 'tracing.propagators', `got ["baggage", "baggage"]; allowed: an array of distinct 'tracecontext' and 'baggage' ([] for none)`],
    [{ propagators: 'none' }, 'tracing.propagators', `got "none"; allowed: an array of distinct 'tracecontext' and 'baggage' ([] for none)`],
  ])('tracing %j throws naming %s', (tracing, option, detail) => {
    expect(thrown(() => resolve({ tracing }))).toEqual({
      code: 'PERISCOPE_ERR_INVALID_OPTION',
      option,
      message: `PERISCOPE_ERR_INVALID_OPTION: Invalid option \`${option}\`: ${detail}.`,
    });
  });

  it('tracing.propagators [] means none; tracing.compression gzip', () => {
    expect(resolve({ tracing: { propagators: [], compression: 'gzip' } }).tracing).toMatchObject({ propagators: [], compression: 'gzip' });
  });

  it('never writes to the caller object, and freezes the result', () => {
    const options = { ...identity, tracing: { propagators: ['baggage'] }, ignore: ['/x'] };
    const copy = structuredClone(options);
    const r = resolve(options);
    expect(options).toEqual(copy);
    expect(Object.isFrozen(r)).toBe(true);
    expect(Object.isFrozen(r.tracing)).toBe(true);
  });
});
