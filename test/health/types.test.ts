import { createServer } from 'node:http';
import { describe, expectTypeOf, it } from 'vitest';
import { instrument, postgresCheck, redisCheck } from '../../src/index.js';
import type { CheckOptions, CheckOutcome, HealthCheck, HealthSnapshot, LifecycleState, ShutdownReport } from '../../src/index.js';

// Checked by `npm run typecheck` (tsc includes test/); the runtime part only makes one handle.
describe('public types of health and shutdown', () => {
  it('the handle', () => {
    const obs = instrument(createServer(), { routes: ['/'], metrics: false, shutdown: false, health: { eventLoop: false } });
    expectTypeOf(obs.health.register).parameters.toEqualTypeOf<[string, HealthCheck, CheckOptions?]>();
    expectTypeOf(obs.health.state).toEqualTypeOf<LifecycleState>();
    expectTypeOf(obs.health.check).returns.toEqualTypeOf<Promise<HealthSnapshot>>();
    expectTypeOf(obs.shutdown).returns.toEqualTypeOf<Promise<ShutdownReport>>();
    expectTypeOf(obs.onShutdown).parameter(0).toEqualTypeOf<() => unknown>();
    expectTypeOf<CheckOptions['kind']>().toEqualTypeOf<'readiness' | 'liveness' | undefined>();
    // Plain functions are checks: async, sync, boolean or void results all fit.
    obs.health.register('a', async () => ({ status: 'degraded', message: 'x' }));
    obs.health.register('b', () => true);
    obs.health.register('c', async (signal) => {
      expectTypeOf(signal).toEqualTypeOf<AbortSignal>();
    });
    expectTypeOf<boolean>().toExtend<CheckOutcome>();
    // Checkers accept the drivers' clients structurally, with no driver type in periscope.
    expectTypeOf(postgresCheck).parameter(0).toHaveProperty('query');
    expectTypeOf(redisCheck).parameter(0).toHaveProperty('ping');
    // @ts-expect-error a check must be a function
    expectTypeOf(obs.health.register).toBeCallableWith('d', { status: 'healthy' });
  });
});
