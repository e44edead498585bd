import type { Concern, ConcernContext } from '../core/index.js';
import { createError } from '../errors.js';
import type { ResolvedSlowRequestsOptions } from './options.js';
import { CircuitBreaker } from './breaker.js';
import { BreakerMetrics, slowRequestCounter } from './breaker-metrics.js';
import type { CircuitBreakerOptions } from './options.js';
import { SlowRequestDetector } from './slow-requests.js';
import type { SlowRequest } from './slow-requests.js';

/**
 * The slow-request concern: each request still in flight past the threshold is counted in
 * `http_slow_requests_total{method}` and handed to `log` (the logging concern's line), once.
 */
export function slowRequestsConcern(ctx: ConcernContext, options: ResolvedSlowRequestsOptions, log: ((request: SlowRequest) => void) | undefined): Concern {
  const count = ctx.registry === undefined ? undefined : slowRequestCounter(ctx.registry);
  const detector = new SlowRequestDetector({
    thresholdMs: options.thresholdMs,
    onSlowRequest: (request) => {
      count?.(request.method);
      log?.(request);
    },
    report: ctx.report,
  });
  return { name: 'slow-requests', hook: detector, shutdown: [{ phase: 'close', name: 'slow-requests', run: () => detector.close() }] };
}

/** A breaker's health as the health concern reads it. */
export type BreakerHealthCheck = () => { status: 'healthy' | 'degraded'; message: string };

export interface BreakersConcern extends Concern {
  /** `obs.breaker()`: see {@link CircuitBreakerOptions}. */
  breaker<F = never>(name: string, options?: CircuitBreakerOptions<F>): CircuitBreaker<F>;
}

export interface BreakerSinks {
  /** Upper bounds of `circuit_breaker_call_duration_seconds` (the request-duration buckets). */
  readonly durationBuckets: readonly number[];
  /** Registers a non-critical health check (undefined with health off). */
  readonly registerCheck: ((name: string, check: BreakerHealthCheck) => void) | undefined;
  /** Told of each breaker made (the developer console's sink; undefined when it is off). */
  readonly watch?: ((breaker: CircuitBreaker<unknown>) => void) | undefined;
}

/**
 * The breakers of one handle: metered in the registry, their state changes logged, each
 * health-reported as a non-critical check, so an open breaker makes the service degraded,
 * never unready (the breaker already sheds the failing dependency).
 */
export function breakersConcern(ctx: ConcernContext, sinks: BreakerSinks): BreakersConcern {
  const metrics = ctx.registry === undefined ? undefined : new BreakerMetrics(ctx.registry, sinks.durationBuckets);
  const breakers = new Map<string, CircuitBreaker<unknown>>();
  const log = ctx.logger;
  return {
    name: 'breakers',
    breaker<F = never>(name: string, options?: CircuitBreakerOptions<F>): CircuitBreaker<F> {
      if (breakers.has(name)) throw createError('PERISCOPE_ERR_DUPLICATE_BREAKER', [name], 'name');
      const breaker = new CircuitBreaker<F>(name, options);
      metrics?.attach(breaker, ctx.report);
      breaker.on('stateChange', (e) => {
        const fields = { breaker: name, from: e.from, to: e.to, reason: e.reason, failure_rate: e.failureRate, slow_call_rate: e.slowCallRate, calls: e.calls };
        if (e.to === 'open') log.warn(fields, `circuit breaker ${name} opened`);
        else log.info(fields, `circuit breaker ${name} is ${e.to === 'closed' ? 'closed' : 'half open'}`);
      });
      breakers.set(name, breaker);
      sinks.watch?.(breaker as CircuitBreaker<unknown>);
      if (sinks.registerCheck !== undefined) {
        try {
          sinks.registerCheck(`circuit_breaker.${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`.slice(0, 64), () => {
            const h = breaker.health();
            return { status: h.status, message: h.message };
          });
        } catch (error) {
          ctx.report(error, 'breaker-health');
        }
      }
      return breaker;
    },
  };
}
