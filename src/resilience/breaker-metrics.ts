import { Counter, Gauge, Histogram } from '@prometheus-io/client';
import type { Registry } from '@prometheus-io/client';
import type { CircuitBreaker } from './breaker.js';
import type { CircuitState } from './events.js';

const STATES: readonly CircuitState[] = ['closed', 'open', 'half_open'];
const OUTCOMES = ['success', 'failure', 'timeout', 'rejected', 'fallback'] as const;

/**
 * The breaker metrics of one `instrument()` handle: `circuit_breaker_state{name,state}`
 * (one-hot), `circuit_breaker_calls_total{name,outcome}` and
 * `circuit_breaker_call_duration_seconds{name}`. Fed only by the breakers' events, so the
 * breaker itself knows nothing of Prometheus. Label children are bound once per breaker,
 * so a call allocates no label object.
 */
export class BreakerMetrics {
  readonly #state: Gauge<'name' | 'state'>;
  readonly #calls: Counter<'name' | 'outcome'>;
  readonly #duration: Histogram<'name'>;
  readonly #breakers: CircuitBreaker<unknown>[] = [];

  constructor(registry: Registry, durationBuckets: readonly number[]) {
    const breakers = this.#breakers;
    this.#state = new Gauge({
      name: 'circuit_breaker_state',
      help: 'State of each circuit breaker, one-hot: 1 for the state it is in (closed, open, half_open), 0 for the others.',
      labelNames: ['name', 'state'],
      registers: [registry],
      // Reading `state` applies a due open -> half_open move, so a scrape never shows a stale open.
      collect() {
        for (const b of breakers) void b.state;
      },
    });
    this.#calls = new Counter({
      name: 'circuit_breaker_calls_total',
      help: 'Calls through each circuit breaker, by outcome (success, failure, timeout, rejected, fallback).',
      labelNames: ['name', 'outcome'],
      registers: [registry],
    });
    this.#duration = new Histogram({
      name: 'circuit_breaker_call_duration_seconds',
      help: 'Run time of the calls each circuit breaker let through (rejected calls excluded), in seconds.',
      labelNames: ['name'],
      buckets: [...durationBuckets],
      registers: [registry],
    });
  }

  /** Meters `breaker`; `report` receives any failure of the metering itself. */
  attach(breaker: CircuitBreaker<unknown>, report: (error: unknown, where: string) => void): void {
    const name = breaker.name;
    const state = this.#state;
    const setState = (current: CircuitState) => {
      for (const s of STATES) state.set({ name, state: s }, s === current ? 1 : 0);
    };
    setState(breaker.state);
    const calls = Object.fromEntries(OUTCOMES.map((o) => [o, this.#calls.labels({ name, outcome: o })])) as Record<
      (typeof OUTCOMES)[number],
      Counter.Internal
    >;
    // Every outcome series exists from the start, so rate() and alerts see a 0, not a gap.
    for (const o of OUTCOMES) calls[o].inc(0);
    const duration = this.#duration.labels({ name });
    const guard =
      <E>(fn: (event: E) => void) =>
      (event: E) => {
        try {
          fn(event);
        } catch (error) {
          report(error, 'breaker-metrics');
        }
      };
    breaker.on('stateChange', guard((e) => setState(e.to)));
    breaker.on('success', guard((e) => {
      calls.success.inc();
      duration.observe(e.durationMs / 1000);
    }));
    breaker.on('failure', guard((e) => {
      calls.failure.inc();
      duration.observe(e.durationMs / 1000);
    }));
    breaker.on('timeout', guard((e) => {
      calls.timeout.inc();
      duration.observe(e.durationMs / 1000);
    }));
    breaker.on('reject', guard((e) => {
      if (!e.fallback) calls.rejected.inc();
    }));
    // A fallback that threw left the caller with an error: that call was rejected.
    breaker.on('fallback', guard((e) => (e.ok ? calls.fallback : calls.rejected).inc()));
    this.#breakers.push(breaker);
  }
}

/**
 * `http_slow_requests_total{method}`: requests found in flight past the slow-request
 * threshold. Returns the function that counts one.
 */
export function slowRequestCounter(registry: Registry): (method: string) => void {
  const counter = new Counter({
    name: 'http_slow_requests_total',
    help: 'Requests still in flight after the slow-request threshold, by method; each counted once.',
    labelNames: ['method'],
    registers: [registry],
  });
  return (method) => counter.inc({ method });
}
