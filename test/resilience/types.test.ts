import { expectTypeOf, test } from 'vitest';
import Fastify from 'fastify';
import { CircuitBreaker } from '../../src/resilience/index.js';
import type { CircuitOpenError, CircuitState, StateChangeEvent, TimeoutEvent } from '../../src/resilience/index.js';
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
