import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import {
  CircuitBreaker,
  CircuitFallbackError,
  CircuitOpenError,
  CircuitTimeoutError,
  isCircuitOpenError,
  isCircuitTimeoutError,
} from '../../src/resilience/index.js';
import type { CircuitBreakerEvents, CircuitBreakerOptions, StateChangeEvent } from '../../src/resilience/index.js';
import { isPeriscopeError } from '../../src/errors.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const boom = () => Promise.reject(new Error('boom'));
const ok = () => Promise.resolve('ok');

/** Runs a call and returns what it resolved or rejected with. */
function settle<T>(p: Promise<T>): Promise<T | unknown> {
  return p.then(
    (v) => v,
    (e: unknown) => e,
  );
}

function record<K extends keyof CircuitBreakerEvents>(breaker: CircuitBreaker<unknown>, event: K): CircuitBreakerEvents[K][] {
  const seen: CircuitBreakerEvents[K][] = [];
  breaker.on(event, (e) => seen.push(e));
  return seen;
}

describe('options', () => {
  test('defaults', () => {
    const b = new CircuitBreaker('dep');
    expect(b.options).toEqual({
      failureThreshold: 0.5,
      minimumCalls: 10,
      window: { type: 'time', ms: 10_000, buckets: 10 },
      openMs: 10_000,
      halfOpenMaxCalls: 1,
      halfOpenTimeoutMs: 10_000,
      timeoutMs: 10_000,
      slowCallMs: false,
      slowCallThreshold: 0.5,
      consecutiveFailures: 0,
      isFailure: undefined,
      fallback: undefined,
    });
    expect(Object.isFrozen(b.options)).toBe(true);
    expect(b.state).toBe('closed');
    // halfOpenTimeoutMs follows openMs unless given.
    expect(new CircuitBreaker('dep', { openMs: 3000 }).options.halfOpenTimeoutMs).toBe(3000);
    expect(new CircuitBreaker('dep', { openMs: 3000, halfOpenTimeoutMs: 500 }).options.halfOpenTimeoutMs).toBe(500);
  });

  test.each<[string, Record<string, unknown>, string]>([
    ['failureThreshold', { failureThreshold: 0 }, 'Invalid option `breaker("dep").failureThreshold`: got 0; allowed: a number above 0 and at most 1 (a rate: 0.5 is 50%).'],
    ['failureThreshold', { failureThreshold: 1.5 }, 'got 1.5; allowed: a number above 0 and at most 1'],
    ['minimumCalls', { minimumCalls: 0 }, 'Invalid option `breaker("dep").minimumCalls`: got 0; allowed: an integer from 1 to 1000000.'],
    ['minimumCalls', { minimumCalls: 30, window: { type: 'count', size: 20 } }, 'got 30; allowed: at most window.size (20)'],
    ['window', { window: 5 }, "Invalid option `breaker(\"dep\").window`: got 5; allowed: { type: 'count', size } or { type: 'time', ms, buckets? }."],
    ['window.type', { window: { type: 'sliding' } }, 'Invalid option `breaker("dep").window.type`: got "sliding"'],
    ['window.size', { window: { type: 'count', size: 0 } }, 'window.size`: got 0; allowed: an integer from 1 to 10000.'],
    ['window.ms', { window: { type: 'time', ms: 50 } }, 'window.ms`: got 50; allowed: an integer from 100 to 3600000.'],
    ['window.buckets', { window: { type: 'time', ms: 1000, buckets: 101 } }, 'window.buckets`: got 101; allowed: an integer from 1 to 100.'],
    ['openMs', { openMs: -1 }, 'openMs`: got -1; allowed: an integer from 1 to 2147483647.'],
    ['halfOpenMaxCalls', { halfOpenMaxCalls: 1.5 }, 'halfOpenMaxCalls`: got 1.5; allowed: an integer from 1 to 1000.'],
    ['halfOpenTimeoutMs', { halfOpenTimeoutMs: false }, 'halfOpenTimeoutMs`: got false; allowed: an integer from 1 to 2147483647.'],
    ['timeoutMs', { timeoutMs: true }, 'timeoutMs`: got true; allowed: false or an integer from 1 to 2147483647.'],
    ['slowCallMs', { slowCallMs: 0 }, 'slowCallMs`: got 0; allowed: false or an integer from 1 to 2147483647.'],
    ['slowCallThreshold', { slowCallThreshold: -0.1 }, 'slowCallThreshold`: got -0.1'],
    ['consecutiveFailures', { consecutiveFailures: -1 }, 'consecutiveFailures`: got -1; allowed: an integer from 0 to 1000000.'],
    ['isFailure', { isFailure: 'yes' }, 'isFailure`: got "yes"; allowed: a function.'],
    ['fallback', { fallback: 42 }, 'fallback`: got 42; allowed: a function.'],
  ])('rejects a bad %s', (option, options, message) => {
    let thrown: unknown;
    try {
      new CircuitBreaker('dep', options as CircuitBreakerOptions);
    } catch (error) {
      thrown = error;
    }
    expect(isPeriscopeError(thrown)).toBe(true);
    expect((thrown as { code: string }).code).toBe('PERISCOPE_ERR_INVALID_OPTION');
    expect((thrown as { option: string }).option).toBe(`breaker("dep").${option}`);
    expect((thrown as Error).message).toContain(message);
  });

  test('rejects an unknown option and a bad name', () => {
    expect(() => new CircuitBreaker('dep', { treshold: 0.5 } as CircuitBreakerOptions)).toThrow(
      'PERISCOPE_ERR_UNKNOWN_OPTION: Unknown option `breaker("dep").treshold`',
    );
    expect(() => new CircuitBreaker('dep', { window: { type: 'count', size: 5, buckets: 2 } } as CircuitBreakerOptions)).toThrow(
      'PERISCOPE_ERR_UNKNOWN_OPTION: Unknown option `breaker("dep").window.buckets`; known options here: type, size.',
    );
    expect(() => new CircuitBreaker('')).toThrow('PERISCOPE_ERR_INVALID_ARGUMENT: breaker(): the name must be a non-empty string of at most 128 characters, got "".');
  });
});

test('execute() without a function rejects with a TypeError and records nothing', async () => {
  const b = new CircuitBreaker('dep');
  await expect(b.execute('nope' as never)).rejects.toThrow(new TypeError('breaker.execute() takes a function of an AbortSignal; got string'));
  expect(b.stats()).toMatchObject({ calls: 0, inFlight: 0 });
});

describe('state machine', () => {
  const countWindow = { window: { type: 'count', size: 10 }, minimumCalls: 10, failureThreshold: 0.5 } as const;

  test('opens at the threshold over the window, and not before the minimum calls', async () => {
    const b = new CircuitBreaker('dep', { ...countWindow, window: { type: 'count', size: 10 }, minimumCalls: 5 });
    const changes = record(b, 'stateChange');
    for (let i = 0; i < 4; i++) await settle(b.execute(boom));
    expect(b.state).toBe('closed');
    expect(b.stats()).toMatchObject({ calls: 4, failures: 4, failureRate: 1 });
    await settle(b.execute(boom));
    expect(b.state).toBe('open');
    expect(changes).toEqual([
      { name: 'dep', from: 'closed', to: 'open', reason: 'failure_rate', failureRate: 1, slowCallRate: 0, calls: 5, consecutiveFailures: 0 },
    ]);
  });

  test('the rate must reach the threshold: 4 of 10 stays closed, 5 of 10 opens as the window slides', async () => {
    const b = new CircuitBreaker('dep', countWindow);
    const changes = record(b, 'stateChange');
    for (let i = 0; i < 6; i++) await b.execute(ok);
    for (let i = 0; i < 4; i++) await settle(b.execute(boom));
    expect(b.stats()).toMatchObject({ state: 'closed', calls: 10, failures: 4, failureRate: 0.4 });
    // The oldest success leaves the window: 5 failures of 10.
    await settle(b.execute(boom));
    expect(b.state).toBe('open');
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ reason: 'failure_rate', failureRate: 0.5, calls: 10 });
  });

  test('open rejects at once without calling, with a stable code and the time to wait', async () => {
    const b = new CircuitBreaker('dep', { ...countWindow, minimumCalls: 1, openMs: 5000 });
    await settle(b.execute(boom));
    vi.advanceTimersByTime(1200);
    const fn = vi.fn(ok);
    const stackTraceLimit = Error.stackTraceLimit;
    const error = await settle(b.execute(fn));
    expect(fn).toHaveBeenCalledTimes(0);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(isCircuitOpenError(error)).toBe(true);
    expect(isCircuitTimeoutError(error)).toBe(false);
    expect(error).toMatchObject({ code: 'PERISCOPE_ERR_CIRCUIT_OPEN', breaker: 'dep', state: 'open', retryAfterMs: 3800 });
    expect((error as Error).message).toBe(
      'PERISCOPE_ERR_CIRCUIT_OPEN: Circuit breaker "dep" is open; the call was rejected without running.',
    );
    // Made without a stack trace (the cost of a rejection), and the global limit is restored.
    expect((error as Error).stack).toBe(`CircuitOpenError: ${(error as Error).message}`);
    expect(Error.stackTraceLimit).toBe(stackTraceLimit);
  });

  test('half_open admits exactly halfOpenMaxCalls of 100 concurrent callers; their success closes it', async () => {
    const b = new CircuitBreaker('dep', { ...countWindow, minimumCalls: 1, openMs: 1000, halfOpenMaxCalls: 3 });
    const changes = record(b, 'stateChange');
    const rejects = record(b, 'reject');
    await settle(b.execute(boom));
    vi.advanceTimersByTime(999);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(b.state).toBe('half_open');

    const release: (() => void)[] = [];
    let started = 0;
    const trial = () =>
      new Promise<string>((resolve) => {
        started++;
        release.push(() => resolve('ok'));
      });
    const calls = Array.from({ length: 100 }, () => settle(b.execute(trial)));
    expect(started).toBe(3);
    expect(b.stats().trialsInFlight).toBe(3);
    // Rejected, not queued: the 97 others settle before any trial does.
    const early = await Promise.all(calls.slice(3));
    expect(early.filter((e) => isCircuitOpenError(e) && (e as CircuitOpenError).state === 'half_open')).toHaveLength(97);
    expect(rejects).toHaveLength(97);

    release[0]!();
    release[1]!();
    await Promise.all(calls.slice(0, 2));
    expect(b.state).toBe('half_open');
    release[2]!();
    expect(await calls[2]).toBe('ok');
    expect(b.state).toBe('closed');
    expect(changes.map((c) => `${c.from}->${c.to}:${c.reason}`)).toEqual([
      'closed->open:failure_rate',
      'open->half_open:open_elapsed',
      'half_open->closed:trial_success',
    ]);
    expect(changes[2]).toMatchObject({ calls: 3, failureRate: 0 });
    expect(b.stats()).toMatchObject({ calls: 0, inFlight: 0, trialsInFlight: 0 });
  });

  test('a failed trial reopens it for a full openMs', async () => {
    const b = new CircuitBreaker('dep', { ...countWindow, minimumCalls: 1, openMs: 1000 });
    const changes = record(b, 'stateChange');
    await settle(b.execute(boom));
    vi.advanceTimersByTime(1000);
    const fn = vi.fn(boom);
    await settle(b.execute(fn));
    expect(fn).toHaveBeenCalledTimes(1);
    expect(b.state).toBe('open');
    expect(changes[2]).toEqual({
      name: 'dep', from: 'half_open', to: 'open', reason: 'trial_failure', failureRate: 1, slowCallRate: 0, calls: 1, consecutiveFailures: 0,
    });
    vi.advanceTimersByTime(999);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(b.state).toBe('half_open');
  });

  test('consecutive failures open it before the minimum calls; a success resets the streak', async () => {
    const b = new CircuitBreaker('dep', { ...countWindow, consecutiveFailures: 3 });
    const changes = record(b, 'stateChange');
    await settle(b.execute(boom));
    await settle(b.execute(boom));
    await b.execute(ok);
    await settle(b.execute(boom));
    await settle(b.execute(boom));
    expect(b.stats()).toMatchObject({ state: 'closed', consecutiveFailures: 2 });
    await settle(b.execute(boom));
    expect(b.state).toBe('open');
    expect(changes[0]).toMatchObject({ reason: 'consecutive_failures', consecutiveFailures: 3, calls: 6, failureRate: 5 / 6 });
  });

  test('calls admitted before a trip do not decide the next state', async () => {
    const b = new CircuitBreaker('dep', { ...countWindow, minimumCalls: 1, openMs: 1000 });
    let finishLate!: () => void;
    const late = settle(b.execute(() => new Promise<void>((_, reject) => (finishLate = () => reject(new Error('late'))))));
    await settle(b.execute(boom));
    vi.advanceTimersByTime(1000);
    expect(b.state).toBe('half_open');
    finishLate();
    await late;
    // The stale failure neither reopened the breaker nor used the trial slot.
    expect(b.state).toBe('half_open');
    await b.execute(ok);
    expect(b.state).toBe('closed');
  });

  test('slow calls open it when their rate reaches slowCallThreshold; a slow trial reopens it', async () => {
    const b = new CircuitBreaker('dep', { ...countWindow, minimumCalls: 4, slowCallMs: 100, slowCallThreshold: 0.75, openMs: 1000 });
    const changes = record(b, 'stateChange');
    const successes = record(b, 'success');
    const after = (ms: number) => () => new Promise<string>((resolve) => setTimeout(() => resolve('done'), ms));
    const run = async (ms: number) => {
      const p = b.execute(after(ms));
      await vi.advanceTimersByTimeAsync(ms);
      return p;
    };
    await run(99);
    await run(100);
    await run(150);
    expect(b.stats()).toMatchObject({ state: 'closed', calls: 3, slowCalls: 2, failures: 0 });
    await run(200);
    expect(b.state).toBe('open');
    expect(changes[0]).toMatchObject({ reason: 'slow_call_rate', slowCallRate: 0.75, failureRate: 0, calls: 4 });
    expect(successes.map((s) => [s.durationMs, s.slow])).toEqual([
      [99, false],
      [100, true],
      [150, true],
      [200, true],
    ]);
    vi.advanceTimersByTime(1000);
    await run(120);
    expect(changes[2]).toMatchObject({ from: 'half_open', to: 'open', reason: 'trial_failure', failureRate: 0, slowCallRate: 1 });
  });

  test('a time window forgets failures older than its span', async () => {
    const b = new CircuitBreaker('dep', { window: { type: 'time', ms: 1000, buckets: 10 }, minimumCalls: 3 });
    await settle(b.execute(boom));
    await settle(b.execute(boom));
    expect(b.stats()).toMatchObject({ calls: 2, failures: 2 });
    vi.advanceTimersByTime(900);
    expect(b.stats()).toMatchObject({ calls: 2, failures: 2 });
    vi.advanceTimersByTime(100);
    expect(b.stats()).toMatchObject({ calls: 0, failures: 0 });
    await settle(b.execute(boom));
    expect(b.state).toBe('closed');
    await settle(b.execute(boom));
    await settle(b.execute(boom));
    expect(b.state).toBe('open');
  });

  test('reset() closes it and forgets the window', async () => {
    const b = new CircuitBreaker('dep', { ...countWindow, minimumCalls: 1 });
    const changes = record(b, 'stateChange');
    await settle(b.execute(boom));
    b.reset();
    expect(b.stats()).toMatchObject({ state: 'closed', calls: 0 });
    expect(changes[1]).toMatchObject({ from: 'open', to: 'closed', reason: 'reset' });
  });
});

describe('timeouts and signals', () => {
  const countWindow = { window: { type: 'count', size: 10 } } as const;

  test('a timeout aborts that call\'s signal, the aborted work stops, and other calls keep running', async () => {
    const b = new CircuitBreaker('dep', { timeoutMs: 1000, minimumCalls: 10, window: { type: 'count', size: 10 } });
    const timeouts = record(b, 'timeout');
    let steps = 0;
    const signals: AbortSignal[] = [];
    // Work that does a step every 100 ms until its signal aborts.
    const work = (signal: AbortSignal) =>
      new Promise<string>((_resolve, reject) => {
        signals.push(signal);
        const step = () => {
          if (signal.aborted) return reject(signal.reason as Error);
          steps++;
          setTimeout(step, 100);
        };
        step();
      });
    const first = settle(b.execute(work));
    await vi.advanceTimersByTimeAsync(500);
    const second = settle(b.execute(work));
    await vi.advanceTimersByTimeAsync(500);
    const error = await first;
    expect(error).toBeInstanceOf(CircuitTimeoutError);
    expect(isCircuitTimeoutError(error)).toBe(true);
    expect((error as Error).message).toBe('PERISCOPE_ERR_CIRCUIT_TIMEOUT: Call through circuit breaker "dep" timed out after 1000 ms; its signal was aborted.');
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBe(error);
    expect(signals[1]!.aborted).toBe(false);
    const stepsAtFirstTimeout = steps;
    await vi.advanceTimersByTimeAsync(500);
    expect(await second).toBeInstanceOf(CircuitTimeoutError);
    // The first call stepped at t=0..900 (10 steps; its timeout, armed before the step due at
    // 1000, fires first) while the second stepped at 500..1000 (6); the second then steps
    // until 1400 (4 more). Nothing runs after either timeout.
    expect(stepsAtFirstTimeout).toBe(16);
    expect(steps).toBe(20);
    await vi.advanceTimersByTimeAsync(5000);
    expect(steps).toBe(20);
    expect(timeouts.map((t) => t.durationMs)).toEqual([1000, 1000]);
    expect(b.stats()).toMatchObject({ calls: 2, failures: 2, inFlight: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  test('the caller\'s signal aborts the call, rejects with its reason and counts as neither outcome', async () => {
    const b = new CircuitBreaker('dep', { window: { type: 'count', size: 10 } });
    const cancels = record(b, 'cancel');
    const caller = new AbortController();
    let seen: AbortSignal | undefined;
    const p = settle(b.execute((signal) => ((seen = signal), new Promise(() => {})), { signal: caller.signal }));
    const reason = new Error('client went away');
    caller.abort(reason);
    expect(await p).toBe(reason);
    expect(seen!.aborted).toBe(true);
    expect(seen!.reason).toBe(reason);
    expect(cancels).toEqual([{ name: 'dep', state: 'closed', reason }]);
    expect(b.stats()).toMatchObject({ calls: 0, inFlight: 0 });
    expect(vi.getTimerCount()).toBe(0);

    const fn = vi.fn(ok);
    expect(await settle(b.execute(fn, { signal: caller.signal }))).toBe(reason);
    expect(fn).toHaveBeenCalledTimes(0);
  });

  test('with timeoutMs: false, a hung trial times out after halfOpenTimeoutMs (default openMs) and reopens the breaker', async () => {
    const b = new CircuitBreaker('dep', { ...countWindow, minimumCalls: 1, openMs: 1000, timeoutMs: false });
    const changes = record(b, 'stateChange');
    const timeouts = record(b, 'timeout');
    await settle(b.execute(boom));
    vi.advanceTimersByTime(1000);
    expect(b.state).toBe('half_open');
    let seen: AbortSignal | undefined;
    // A trial that ignores its signal and never settles.
    const trial = settle(b.execute((signal) => ((seen = signal), new Promise<never>(() => {}))));
    expect(b.stats().trialsInFlight).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(b.state).toBe('half_open');
    expect(seen!.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    // Before halfOpenTimeoutMs existed the breaker stayed half_open here, for good.
    expect(b.state).toBe('open');
    expect(seen!.aborted).toBe(true);
    const error = await trial;
    expect(error).toBeInstanceOf(CircuitTimeoutError);
    expect(error).toMatchObject({ breaker: 'dep', timeoutMs: 1000 });
    expect(seen!.aborted).toBe(true);
    expect(seen!.reason).toBe(error);
    expect(b.stats()).toMatchObject({ state: 'open', inFlight: 0, trialsInFlight: 0 });
    expect(timeouts).toEqual([{ name: 'dep', state: 'half_open', durationMs: 1000, slow: false, error }]);
    expect(changes.map((c) => `${c.from}->${c.to}:${c.reason}`)).toEqual([
      'closed->open:failure_rate',
      'open->half_open:open_elapsed',
      'half_open->open:trial_failure',
    ]);
    expect(changes[2]).toEqual({
      name: 'dep', from: 'half_open', to: 'open', reason: 'trial_failure', failureRate: 1, slowCallRate: 0, calls: 1, consecutiveFailures: 0,
    });
    expect(vi.getTimerCount()).toBe(0);
    // Reopened for a full openMs, then a healthy trial closes it.
    vi.advanceTimersByTime(1000);
    expect(await b.execute(ok)).toBe('ok');
    expect(b.state).toBe('closed');
    // Closed calls keep timeoutMs: false: no timer is armed for them.
    const hung = b.execute(() => new Promise<never>(() => {}));
    expect(vi.getTimerCount()).toBe(0);
    void hung;
  });

  test('a trial gets the shorter of timeoutMs and halfOpenTimeoutMs', async () => {
    const short = new CircuitBreaker('short', { ...countWindow, minimumCalls: 1, openMs: 1000, timeoutMs: 300, halfOpenTimeoutMs: 5000 });
    const long = new CircuitBreaker('long', { ...countWindow, minimumCalls: 1, openMs: 1000, timeoutMs: 60_000, halfOpenTimeoutMs: 200 });
    await settle(short.execute(boom));
    await settle(long.execute(boom));
    vi.advanceTimersByTime(1000);
    const hang = () => new Promise<never>(() => {});
    const a = settle(short.execute(hang));
    const b = settle(long.execute(hang));
    await vi.advanceTimersByTimeAsync(200);
    expect(await b).toMatchObject({ code: 'PERISCOPE_ERR_CIRCUIT_TIMEOUT', timeoutMs: 200 });
    expect(long.state).toBe('open');
    expect(short.state).toBe('half_open');
    await vi.advanceTimersByTimeAsync(100);
    expect(await a).toMatchObject({ code: 'PERISCOPE_ERR_CIRCUIT_TIMEOUT', timeoutMs: 300 });
    expect(short.state).toBe('open');
  });

  test('a cancelled trial frees its slot without deciding', async () => {
    const b = new CircuitBreaker('dep', { window: { type: 'count', size: 10 }, minimumCalls: 1, openMs: 1000 });
    await settle(b.execute(boom));
    vi.advanceTimersByTime(1000);
    const caller = new AbortController();
    const p = settle(b.execute(() => new Promise(() => {}), { signal: caller.signal }));
    expect(b.stats().trialsInFlight).toBe(1);
    caller.abort();
    await p;
    expect(b.stats()).toMatchObject({ state: 'half_open', trialsInFlight: 0 });
    await b.execute(ok);
    expect(b.state).toBe('closed');
  });
});

describe('isFailure and fallback', () => {
  class HttpError extends Error {
    constructor(readonly status: number) {
      super(`HTTP ${status}`);
    }
  }

  test('errors isFailure rejects still reach the caller but count as successes', async () => {
    const b = new CircuitBreaker('dep', {
      window: { type: 'count', size: 10 },
      minimumCalls: 2,
      isFailure: (e) => !(e instanceof HttpError && e.status < 500),
    });
    const successes = record(b, 'success');
    const notFound = new HttpError(404);
    for (let i = 0; i < 5; i++) expect(await settle(b.execute(() => Promise.reject(notFound)))).toBe(notFound);
    expect(b.stats()).toMatchObject({ state: 'closed', calls: 5, failures: 0 });
    expect(successes).toHaveLength(5);
    expect(successes[0]!.error).toBe(notFound);
    for (let i = 0; i < 4; i++) await settle(b.execute(() => Promise.reject(new HttpError(503))));
    expect(b.stats()).toMatchObject({ state: 'closed', calls: 9, failures: 4 });
    await settle(b.execute(() => Promise.reject(new HttpError(503))));
    expect(b.state).toBe('open');
  });

  test('a fallback answers rejected calls; a failing fallback is surfaced with both errors', async () => {
    let fail = false;
    const b = new CircuitBreaker('dep', {
      window: { type: 'count', size: 10 },
      minimumCalls: 1,
      fallback: (rejection) => {
        if (fail) throw new TypeError('cache is empty');
        return `cached (${rejection.state})`;
      },
    });
    const fallbacks = record(b, 'fallback');
    // A call that ran and failed is not answered by the fallback.
    expect(await settle(b.execute(boom))).toEqual(new Error('boom'));
    const answer: string = await b.execute(ok);
    expect(answer).toBe('cached (open)');
    fail = true;
    const error = await settle(b.execute(ok));
    expect(error).toBeInstanceOf(CircuitFallbackError);
    expect(error).toMatchObject({ code: 'PERISCOPE_ERR_CIRCUIT_FALLBACK', breaker: 'dep' });
    expect((error as Error).message).toBe('PERISCOPE_ERR_CIRCUIT_FALLBACK: Circuit breaker "dep" rejected the call and its fallback threw: cache is empty.');
    expect((error as Error).cause).toEqual(new TypeError('cache is empty'));
    expect(isCircuitOpenError((error as CircuitFallbackError).rejection)).toBe(true);
    expect(fallbacks.map((f) => f.ok)).toEqual([true, false]);
  });
});

describe('events, health, timers and memory', () => {
  test('a throwing listener does not break the call and is reported once; off() unsubscribes', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const b = new CircuitBreaker('dep');
    const unsubscribe = b.on('success', () => {
      throw new Error('listener bug');
    });
    const seen = record(b, 'success');
    expect(await b.execute(ok)).toBe('ok');
    expect(await b.execute(ok)).toBe('ok');
    expect(seen).toHaveLength(2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toBe('periscope: circuit breaker "dep": a "success" listener threw: listener bug (reported once per breaker)');
    unsubscribe();
    await b.execute(ok);
    expect(seen).toHaveLength(3);
    warn.mockRestore();
  });

  test('health(): closed is healthy, open and half_open are degraded', async () => {
    const b = new CircuitBreaker('payments', { window: { type: 'count', size: 10 }, minimumCalls: 1, openMs: 2000 });
    expect(b.health()).toEqual({ status: 'healthy', state: 'closed', message: 'circuit breaker "payments" is closed' });
    await settle(b.execute(boom));
    vi.advanceTimersByTime(500);
    expect(b.health()).toEqual({
      status: 'degraded',
      state: 'open',
      message: 'circuit breaker "payments" is open: calls are rejected; a trial call is admitted in 1500 ms',
    });
    vi.advanceTimersByTime(1500);
    expect(b.health()).toEqual({
      status: 'degraded',
      state: 'half_open',
      message: 'circuit breaker "payments" is half open: trial calls decide whether it closes',
    });
  });

  test('no timer runs while idle, open or half open', async () => {
    const b = new CircuitBreaker('dep', { window: { type: 'count', size: 10 }, minimumCalls: 1, openMs: 1000 });
    expect(vi.getTimerCount()).toBe(0);
    const p = b.execute(ok);
    expect(vi.getTimerCount()).toBe(1);
    await p;
    expect(vi.getTimerCount()).toBe(0);
    await settle(b.execute(boom));
    expect(b.state).toBe('open');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(b.state).toBe('half_open');
    expect(vi.getTimerCount()).toBe(0);
  });

  test.each([
    ['count', { type: 'count', size: 100 }, 100, 100],
    // 10 ms slices; the clock moves 1 ms per 1000 calls, so the last 100 ms hold 100,000 calls.
    ['time', { type: 'time', ms: 100, buckets: 10 }, 10, 100_000],
  ] as const)('a million calls leave the %s window its size', async (_kind, window, slots, held) => {
    const b = new CircuitBreaker('dep', { window, minimumCalls: 1, failureThreshold: 1, timeoutMs: false });
    expect(b.stats().windowSlots).toBe(slots);
    const fail = () => Promise.reject(new Error('x'));
    for (let i = 0; i < 1_000_000; i++) {
      if (i > 0 && i % 1000 === 0) vi.advanceTimersByTime(1);
      // Every 7th call fails: the rate stays below 1, so the breaker stays closed and records every call.
      if (i % 7 === 6) await b.execute(fail).catch(() => {});
      else await b.execute(ok);
    }
    let failures = 0;
    for (let i = 1_000_000 - held; i < 1_000_000; i++) if (i % 7 === 6) failures++;
    expect(b.stats()).toMatchObject({ state: 'closed', windowSlots: slots, calls: held, failures, inFlight: 0 });
    expect(vi.getTimerCount()).toBe(0);
  }, 60_000);
});

test('StateChangeEvent carries the rate for a log line', () => {
  const e: StateChangeEvent = { name: 'x', from: 'closed', to: 'open', reason: 'failure_rate', failureRate: 0.6, slowCallRate: 0, calls: 10, consecutiveFailures: 0 };
  expect(Object.keys(e)).toEqual(['name', 'from', 'to', 'reason', 'failureRate', 'slowCallRate', 'calls', 'consecutiveFailures']);
});
