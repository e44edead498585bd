import { expectTypeOf, test } from 'vitest';
import Fastify from 'fastify';
import { CircuitBreaker } from '../../src/resilience/index.js';
import type { CircuitOpenError, CircuitState, RateTripEvent, StateChangeEvent, StateChangeReason, TimeoutEvent } from '../../src/resilience/index.js';
import { instrument, isCircuitOpenError, isCircuitTimeoutError } from '../../src/index.js';

test('public types of the breaker', async () => {
  const plain = new CircuitBreaker('a');
  expectTypeOf(plain.execute(async () => 42)).toEqualTypeOf<Promise<number>>();
  expectTypeOf(plain.state).toEqualTypeOf<CircuitState>();
  expectTypeOf<CircuitState>().toEqualTypeOf<'closed' | 'open' | 'half_open'>();

  const withFallback = new CircuitBreaker('b', { fallback: (error) => (expectTypeOf(error).toEqualTypeOf<CircuitOpenError>(), null) });
  expectTypeOf(withFallback.execute(() => 'fresh')).toEqualTypeOf<Promise<string | null>>();

  plain.on('stateChange', (e) => expectTypeOf(e).toEqualTypeOf<StateChangeEvent>());
  plain.on('timeout', (e) => expectTypeOf(e).toEqualTypeOf<TimeoutEvent>());
  // @ts-expect-error: no such event
  expectTypeOf(plain.on).toBeCallableWith('tripped', () => {});

  const obs = instrument(Fastify(), { metrics: false, slowRequests: false });
  expectTypeOf(obs.breaker('c')).toEqualTypeOf<CircuitBreaker<never>>();
  expectTypeOf(obs.breaker('d', { fallback: async () => 0 }).execute(async () => 'x')).toEqualTypeOf<Promise<string | number>>();
  await obs.shutdown();
});

test('the guards narrow to the error fields', () => {
  const e: unknown = undefined;
  if (isCircuitOpenError(e)) expectTypeOf(e.retryAfterMs).toEqualTypeOf<number>();
  if (isCircuitTimeoutError(e)) expectTypeOf(e.timeoutMs).toEqualTypeOf<number>();
});

test('StateChangeEvent is a union discriminated by reason (and by to)', () => {
  expectTypeOf<StateChangeReason>().toEqualTypeOf<
    'failure_rate' | 'slow_call_rate' | 'consecutive_failures' | 'open_elapsed' | 'trial_failure' | 'trial_success' | 'reset'
  >();
  const describe = (e: StateChangeEvent): string => {
    switch (e.reason) {
      case 'failure_rate':
      case 'slow_call_rate':
        expectTypeOf(e).toEqualTypeOf<RateTripEvent>();
        expectTypeOf(e.from).toEqualTypeOf<'closed'>();
        expectTypeOf(e.consecutiveFailures).toEqualTypeOf<0>();
        return `rate ${e.failureRate}`;
      case 'consecutive_failures':
        expectTypeOf(e.to).toEqualTypeOf<'open'>();
        expectTypeOf(e.consecutiveFailures).toEqualTypeOf<number>();
        return `${e.consecutiveFailures} in a row`;
      case 'open_elapsed':
        expectTypeOf(e.to).toEqualTypeOf<'half_open'>();
        expectTypeOf(e.calls).toEqualTypeOf<0>();
        return 'trying';
      case 'trial_failure':
        expectTypeOf(e.calls).toEqualTypeOf<1>();
        expectTypeOf(e.failureRate).toEqualTypeOf<0 | 1>();
        return 'reopened';
      case 'trial_success':
        expectTypeOf(e.from).toEqualTypeOf<'half_open'>();
        return `closed after ${e.calls} trials`;
      case 'reset':
        expectTypeOf(e.from).toEqualTypeOf<'open' | 'half_open'>();
        return 'reset';
      default: {
        // Exhaustive: a new reason without a case here is a type error.
        const unknown: never = e;
        return unknown;
      }
    }
  };
  expectTypeOf(describe).returns.toEqualTypeOf<string>();
  const onClose = (e: StateChangeEvent) => {
    if (e.to === 'closed') expectTypeOf(e.reason).toEqualTypeOf<'trial_success' | 'reset'>();
  };
  void onClose;
  // Every variant still has the four numbers, for a log line that does not narrow.
  expectTypeOf<StateChangeEvent['failureRate']>().toEqualTypeOf<number>();
  expectTypeOf<StateChangeEvent['calls']>().toEqualTypeOf<number>();
  // @ts-expect-error: open_elapsed goes from open to half_open, never from closed
  const wrong: StateChangeEvent = { name: 'x', from: 'closed', to: 'open', reason: 'open_elapsed', failureRate: 0, slowCallRate: 0, calls: 0, consecutiveFailures: 0 };
  void wrong;
});
