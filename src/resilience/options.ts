import { createError, describeValue } from '../errors.js';
import { checkInt, checkKeys, invalid as invalidOption, isPlainObject } from '../core/validate.js';
import type { CircuitOpenError } from './errors.js';

/**
 * Where the failure rate is measured. `count`: the last `size` calls. `time`: the calls of
 * the last `ms` milliseconds, kept in `buckets` slices that expire whole, so the window
 * really covers between `ms - ms / buckets` and `ms`. Either way the memory is fixed
 * when the breaker is made, whatever the call rate.
 */
export type WindowOptions = { type: 'count'; size: number } | { type: 'time'; ms: number; buckets?: number };

/** Options of a {@link CircuitBreaker}. Every field is optional. */
export interface CircuitBreakerOptions<F = never> {
  /**
   * Failure rate (0 < rate <= 1) over the window at or above which the breaker opens.
   * Default `0.5`: a dependency that fails every other call is not worth waiting on,
   * while ordinary error noise (a few percent) stays far below it.
   */
  failureThreshold?: number;
  /**
   * Calls the window must hold before a rate can open the breaker. Default `10`: with
   * fewer, one or two unlucky calls after a quiet spell would read as a 50-100% rate.
   */
  minimumCalls?: number;
  /**
   * The sliding window. Default `{ type: 'time', ms: 10_000, buckets: 10 }`: a time window
   * forgets old failures even when traffic stops (a count window would keep an hour-old
   * failure), and 10 s reacts within seconds yet smooths one bad second. 10 buckets
   * expire 1 s at a time. Count windows take `size` 1..10000; time windows `ms`
   * 100..3600000 and `buckets` 1..100 (default 10).
   */
  window?: WindowOptions;
  /**
   * How long the breaker stays open before admitting trial calls. Default `10_000` ms:
   * long enough for a restarting dependency (a rolling pod, a failover) to come back,
   * short enough that a recovered dependency is not shunned for long; one trial per
   * 10 s costs the dependency nothing.
   */
  openMs?: number;
  /**
   * Trial calls admitted at once while half open; every other call is rejected, not
   * queued. That many trials must succeed to close the breaker; any failure reopens it.
   * Default `1`: one probe is enough to learn whether the dependency is back and
   * spares a struggling one a burst.
   */
  halfOpenMaxCalls?: number;
  /**
   * Longest a trial call may run while half open, in ms, even with `timeoutMs: false`:
   * past it the trial times out like any call (its signal is aborted with a
   * `CircuitTimeoutError`, its promise rejects with it) and counts as a failed trial, so
   * the breaker reopens. Whichever of `timeoutMs` and this is shorter applies to a trial.
   * Default: `openMs`, since a trial slower than the pause the breaker just took tells
   * nothing better than a failure; without a bound, one hung trial would hold the breaker
   * half open forever.
   */
  halfOpenTimeoutMs?: number;
  /**
   * Per-call timeout in ms: the call's own signal is aborted with a `CircuitTimeoutError`
   * and the call counts as a `timeout` (a failure). `false` turns it off. Default
   * `10_000`: above any healthy synchronous dependency call, below the 30-60 s at which
   * proxies and clients give up. Trial calls are bounded by `halfOpenTimeoutMs` too.
   */
  timeoutMs?: number | false;
  /**
   * A call that takes at least this many ms is slow; slow calls open the breaker when
   * their rate reaches `slowCallThreshold`, and a slow trial call reopens it.
   * Default `false` (off): what is slow depends on the dependency, and `timeoutMs`
   * already bounds a hung one.
   */
  slowCallMs?: number | false;
  /**
   * Slow-call rate (0 < rate <= 1) over the window at or above which the breaker opens,
   * when `slowCallMs` is set. Default `0.5`, like `failureThreshold`: a dependency that is
   * slow half the time hurts callers as much as one that fails half the time.
   */
  slowCallThreshold?: number;
  /**
   * Open after this many failures in a row, whatever `minimumCalls` says; `0` turns it
   * off. Default `0`: at high call rates a streak says little (at 30% errors and 1000
   * calls/s, 5-failure streaks happen every second), so it is opt-in, for dependencies
   * called too rarely to fill `minimumCalls`.
   */
  consecutiveFailures?: number;
  /**
   * Decides whether an error the call threw counts as the dependency failing. An error
   * that does not count is still thrown to the caller, and counts as a success (the
   * dependency answered). Timeouts always count. Default: every error counts.
   */
  isFailure?: (error: unknown) => boolean;
  /**
   * Answers a call the breaker rejects (open, or half open and full), instead of throwing
   * the `CircuitOpenError` it receives. If the fallback throws, the call rejects with a
   * `CircuitFallbackError` carrying both errors. Default: none (the call rejects).
   */
  fallback?: (error: CircuitOpenError) => F | PromiseLike<F>;
}

export interface ResolvedBreakerOptions<F> {
  readonly failureThreshold: number;
  readonly minimumCalls: number;
  readonly window: Readonly<{ type: 'count'; size: number } | { type: 'time'; ms: number; buckets: number }>;
  readonly openMs: number;
  readonly halfOpenMaxCalls: number;
  readonly halfOpenTimeoutMs: number;
  readonly timeoutMs: number | false;
  readonly slowCallMs: number | false;
  readonly slowCallThreshold: number;
  readonly consecutiveFailures: number;
  readonly isFailure: ((error: unknown) => boolean) | undefined;
  readonly fallback: ((error: CircuitOpenError) => F | PromiseLike<F>) | undefined;
}

/** Longest delay setTimeout honours (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

const KEYS = [
  'failureThreshold',
  'minimumCalls',
  'window',
  'openMs',
  'halfOpenMaxCalls',
  'halfOpenTimeoutMs',
  'timeoutMs',
  'slowCallMs',
  'slowCallThreshold',
  'consecutiveFailures',
  'isFailure',
  'fallback',
];

/** Validates a breaker name: it becomes a metric label value and a health check name. */
export function checkBreakerName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > 128) {
    throw createError('PERISCOPE_ERR_INVALID_ARGUMENT', ['breaker()', 'the name', 'a non-empty string of at most 128 characters', describeValue(name)]);
  }
  return name;
}

/** Merges defaults into a breaker's options and validates them; never writes to `options`. */
export function resolveBreakerOptions<F>(name: string, options: unknown): ResolvedBreakerOptions<F> {
  const prefix = `breaker(${JSON.stringify(name)}).`;
  const invalid = (key: string, value: unknown, allowed: string) =>
    createError('PERISCOPE_ERR_INVALID_OPTION', [prefix + key, describeValue(value), allowed], prefix + key);
  if (options === undefined) options = {};
  if (!isPlainObject(options)) throw invalid('options', options, 'an object of circuit breaker options');
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key)) throw createError('PERISCOPE_ERR_UNKNOWN_OPTION', [prefix + key, KEYS.join(', ')], prefix + key);
  }
  const o = options;
  const integer = (key: string, min: number, max: number, fallback: number): number => {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(key, v, `an integer from ${min} to ${max}`);
    return v;
  };
  const rate = (key: string, fallback: number): number => {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !(v > 0 && v <= 1)) throw invalid(key, v, 'a number above 0 and at most 1 (a rate: 0.5 is 50%)');
    return v;
  };
  const fn = <T>(key: string): T | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'function') throw invalid(key, v, 'a function');
    return v as T;
  };
  const msOrFalse = (key: string, fallback: number | false): number | false => {
    const v = o[key];
    if (v === undefined) return fallback;
    if (v === false) return false;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_TIMER_MS) throw invalid(key, v, `false or an integer from 1 to ${MAX_TIMER_MS}`);
    return v;
  };

  const window = resolveWindow(
    o.window,
    (key, value, allowed) => invalid(key, value, allowed),
    (key, known) => createError('PERISCOPE_ERR_UNKNOWN_OPTION', [prefix + key, known.join(', ')], prefix + key),
  );
  const minimumCalls = integer('minimumCalls', 1, 1_000_000, 10);
  if (window.type === 'count' && minimumCalls > window.size) {
    throw invalid('minimumCalls', minimumCalls, `at most window.size (${window.size}), or the failure rate could never open the breaker`);
  }
  const openMs = integer('openMs', 1, MAX_TIMER_MS, 10_000);
  return Object.freeze({
    failureThreshold: rate('failureThreshold', 0.5),
    minimumCalls,
    window,
    openMs,
    halfOpenMaxCalls: integer('halfOpenMaxCalls', 1, 1000, 1),
    halfOpenTimeoutMs: integer('halfOpenTimeoutMs', 1, MAX_TIMER_MS, openMs),
    timeoutMs: msOrFalse('timeoutMs', 10_000),
    slowCallMs: msOrFalse('slowCallMs', false),
    slowCallThreshold: rate('slowCallThreshold', 0.5),
    consecutiveFailures: integer('consecutiveFailures', 0, 1_000_000, 0),
    isFailure: fn<(error: unknown) => boolean>('isFailure'),
    fallback: fn<(error: CircuitOpenError) => F | PromiseLike<F>>('fallback'),
  });
}

function resolveWindow(
  value: unknown,
  invalid: (key: string, value: unknown, allowed: string) => Error,
  unknown: (key: string, known: readonly string[]) => Error,
): ResolvedBreakerOptions<unknown>['window'] {
  if (value === undefined) return Object.freeze({ type: 'time', ms: 10_000, buckets: 10 });
  const shape = "{ type: 'count', size } or { type: 'time', ms, buckets? }";
  if (!isPlainObject(value)) throw invalid('window', value, shape);
  const int = (key: string, min: number, max: number, fallback?: number): number => {
    const v = value[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(`window.${key}`, value[key], `an integer from ${min} to ${max}`);
    return v;
  };
  if (value.type === 'count') {
    for (const key of Object.keys(value)) if (key !== 'type' && key !== 'size') throw unknown(`window.${key}`, ['type', 'size']);
    return Object.freeze({ type: 'count', size: int('size', 1, 10_000) });
  }
  if (value.type === 'time') {
    for (const key of Object.keys(value)) {
      if (key !== 'type' && key !== 'ms' && key !== 'buckets') throw unknown(`window.${key}`, ['type', 'ms', 'buckets']);
    }
    const ms = int('ms', 100, 3_600_000);
    const buckets = int('buckets', 1, 100, 10);
    if (ms < buckets) throw invalid('window.buckets', buckets, `at most window.ms (${ms})`);
    return Object.freeze({ type: 'time', ms, buckets });
  }
  throw invalid('window.type', value.type, "'count' or 'time'");
}

/** `slowRequests` after defaults. */
export interface ResolvedSlowRequestsOptions {
  readonly thresholdMs: number;
}

/** The default slow-request threshold, in ms: see `PeriscopeOptions.slowRequests`. */
export const DEFAULT_SLOW_REQUEST_MS = 5000;

/** `slowRequests` over its default (no environment variable applies); `false` stays false. */
export function resolveSlowRequests(value: unknown): ResolvedSlowRequestsOptions | false {
  if (value === false) return false;
  if (value !== undefined && !isPlainObject(value)) throw invalidOption('slowRequests', value, 'false or an object { thresholdMs }');
  const o: Record<string, unknown> = value ?? {};
  checkKeys(o, ['thresholdMs'], 'slowRequests.');
  return Object.freeze({ thresholdMs: checkInt(o.thresholdMs, 'slowRequests.thresholdMs', 1, MAX_TIMER_MS, DEFAULT_SLOW_REQUEST_MS, 'milliseconds') });
}
