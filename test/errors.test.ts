import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { ERRORS, createError, isPeriscopeError } from '../src/errors.js';
import type { ErrorArgs, PeriscopeError, PeriscopeErrorCode } from '../src/errors.js';

/**
 * One set of arguments per code, with the message it must produce. The mapped type makes a
 * new code without a row here a type error, and each row's tuple is checked against the
 * code's own template.
 */
const ROWS: { [C in PeriscopeErrorCode]: readonly [ErrorArgs<C>, string] } = {
  PERISCOPE_ERR_INVALID_OPTION: [['metrics.port', '-1', 'an integer from 0 to 65535'], 'Invalid option `metrics.port`: got -1; allowed: an integer from 0 to 65535.'],
  PERISCOPE_ERR_UNKNOWN_OPTION: [['metrcs', 'metrics, logging'], 'Unknown option `metrcs`; known options here: metrics, logging.'],
  PERISCOPE_ERR_INVALID_ARGUMENT: [['health.register()', 'check "db"', 'a function (signal) => result', '"SELECT 1"'], 'health.register(): check "db" must be a function (signal) => result, got "SELECT 1".'],
  PERISCOPE_ERR_UNSUPPORTED_APP: [['a Map'], 'instrument() takes a Fastify instance, an Express app or a node:http Server; got a Map.'],
  PERISCOPE_ERR_ALREADY_INSTRUMENTED: [[], 'This app is already instrumented; call instrument() once per app and keep the handle it returns.'],
  PERISCOPE_ERR_DUPLICATE_CHECK: [['db'], 'A health check named "db" is already registered; each check needs its own name.'],
  PERISCOPE_ERR_TOO_LATE: [['Fastify', 'the server is already listening'], 'instrument() was called too late for this Fastify app: the server is already listening. Call it before the app starts listening.'],
  PERISCOPE_ERR_CIRCUIT_OPEN: [['pay', 'half_open'], 'Circuit breaker "pay" is half open with every trial call in flight; the call was rejected without running.'],
  PERISCOPE_ERR_CIRCUIT_TIMEOUT: [['pay', 250], 'Call through circuit breaker "pay" timed out after 250 ms; its signal was aborted.'],
  PERISCOPE_ERR_CIRCUIT_FALLBACK: [['pay', 'no cache'], 'Circuit breaker "pay" rejected the call and its fallback threw: no cache.'],
  PERISCOPE_ERR_UNGUARDED_DIAGNOSTICS: [
    ['diagnostics', 'on the app port without diagnostics.auth'],
    'Refusing to serve diagnostics (CPU and heap profiles, heap snapshots) on the app port without diagnostics.auth: `diagnostics` exposes the process\'s memory. Set diagnostics.auth ({ bearerToken } or { username, password }), or serve them on diagnostics.port with diagnostics.host "127.0.0.1".',
  ],
  PERISCOPE_ERR_SECRET_FILE: [
    ['PERISCOPE_METRICS_TOKEN_FILE', 'names a file that cannot be read (ENOENT: /run/secrets/metrics)'],
    'Cannot take the credential of PERISCOPE_METRICS_TOKEN_FILE: it names a file that cannot be read (ENOENT: /run/secrets/metrics). The credential is required as set, so periscope does not start without it.',
  ],
  PERISCOPE_ERR_CONSOLE_IN_PRODUCTION: [
    [],
    'Refusing to start the developer console under NODE_ENV=production: it shows every request, span and log line of this process. Set console: { allowProduction: true } to serve it there anyway.',
  ],
  PERISCOPE_ERR_CONSOLE_OFF: [[], 'obs.consoleUrl(): the developer console is off; turn it on with console: true (or PERISCOPE_CONSOLE=1).'],
  PERISCOPE_ERR_DUPLICATE_BREAKER: [['pay'], 'A circuit breaker named "pay" already exists on this handle; create it once and keep the breaker obs.breaker() returned.'],
};

function build<C extends PeriscopeErrorCode>(code: C): PeriscopeError {
  return createError(code, ROWS[code][0], 'some.option');
}

describe('the error catalogue', () => {
  const codes = Object.keys(ERRORS) as PeriscopeErrorCode[];
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  test('has exactly the codes the test table knows', () => {
    expect(codes.toSorted()).toEqual(Object.keys(ROWS).toSorted());
  });

  test.each(codes)('%s: its key is its code, its message is exact, the README documents it', (code) => {
    expect(code).toMatch(/^PERISCOPE_ERR_[A-Z_]+$/);
    const error = build(code);
    expect(error.code).toBe(code);
    expect(error.message).toBe(`${code}: ${ROWS[code][1]}`);
    expect(error.option).toBe('some.option');
    expect(error.name).toBe('PeriscopeError');
    expect(isPeriscopeError(error)).toBe(true);
    // Listed in the README's table of codes (a row starting with the code, alone or with its siblings).
    expect(readme).toMatch(new RegExp(`^\\| [^|]*\`${code}\``, 'm'));
  });
});

describe('createError is typed per code', () => {
  test('each code takes its own argument tuple', () => {
    expectTypeOf<ErrorArgs<'PERISCOPE_ERR_INVALID_OPTION'>>().toEqualTypeOf<[option: string, value: string, allowed: string]>();
    expectTypeOf<ErrorArgs<'PERISCOPE_ERR_ALREADY_INSTRUMENTED'>>().toEqualTypeOf<[]>();
    expectTypeOf<ErrorArgs<'PERISCOPE_ERR_CIRCUIT_OPEN'>>().toEqualTypeOf<[name: string, state: 'open' | 'half_open']>();
    expectTypeOf<ErrorArgs<'PERISCOPE_ERR_CIRCUIT_TIMEOUT'>>().toEqualTypeOf<[name: string, ms: number]>();
  });

  test('a wrong tuple does not type-check (npm run typecheck enforces each @ts-expect-error)', () => {
    const wrong = () => {
      // @ts-expect-error: INVALID_OPTION takes three arguments, not two
      createError('PERISCOPE_ERR_INVALID_OPTION', ['metrics.port', '-1']);
      // @ts-expect-error: and not four
      createError('PERISCOPE_ERR_INVALID_OPTION', ['metrics.port', '-1', 'a port', 'extra']);
      // @ts-expect-error: ALREADY_INSTRUMENTED takes none
      createError('PERISCOPE_ERR_ALREADY_INSTRUMENTED', ['x']);
      // @ts-expect-error: a breaker state is 'open' or 'half_open'
      createError('PERISCOPE_ERR_CIRCUIT_OPEN', ['pay', 'closed']);
      // @ts-expect-error: the timeout is a number of milliseconds
      createError('PERISCOPE_ERR_CIRCUIT_TIMEOUT', ['pay', '250']);
      // @ts-expect-error: no such code
      createError('PERISCOPE_ERR_NOPE', []);
    };
    expect(typeof wrong).toBe('function');
    expectTypeOf(createError<'PERISCOPE_ERR_DUPLICATE_CHECK'>).parameter(1).toEqualTypeOf<[name: string]>();
  });
});
