import { Counter, Gauge } from '@prometheus-io/client';
import { compileRoutes } from '../core/index.js';
import type { Concern, ConcernContext, Rejection, RequestHook, RequestScope, RouteMatcher } from '../core/index.js';
import { isCircuitOpenError } from '../errors.js';
import { AimdLimit, FixedLimit, Gradient2Limit } from './limits.js';
import type { LimitAlgorithm } from './limits.js';
import { Limiter } from './limiter.js';
import type { ResolvedOverloadOptions } from './options.js';

const SHED_BODY = '{"error":"Service Unavailable","status":503,"reason":"overloaded"}';

/** What a request turned away gets: at once, before the app sees it. */
const SHED: Rejection = Object.freeze({
  status: 503,
  headers: Object.freeze({
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(SHED_BODY),
    // One second: long enough for the limit to move (ten sampling windows), short enough that a
    // client honouring it comes back before its user notices.
    'retry-after': '1',
  }),
  body: SHED_BODY,
});

/** At most one debug line a second, saying how many requests it stands for. */
const LOG_INTERVAL_MS = 1000;
/** Distinct `route` values of the shed counter; more fold into one series. */
const MAX_ROUTES = 500;
const OVERFLOW_ROUTE = '__overflow__';

/** The scope field the core declares for this concern (so every scope keeps one shape). */
interface LimitedScope extends RequestScope {
  overloadPartition: number;
}

/** A health check as the health concern registers it. */
export type OverloadHealthCheck = () => { status: 'healthy' | 'unhealthy'; message: string };

export interface OverloadSinks {
  /** Registers the `overload` check (undefined with health off). */
  readonly registerCheck: ((name: string, check: OverloadHealthCheck, options: { critical: boolean }) => void) | undefined;
}

export interface OverloadConcern extends Concern {
  readonly limiter: Limiter;
}

export function algorithmOf(o: ResolvedOverloadOptions): LimitAlgorithm {
  const bounds = { minLimit: o.minLimit, maxLimit: o.maxLimit, initialLimit: o.initialLimit };
  if (o.limit === 'gradient') return new Gradient2Limit({ ...bounds, smoothing: o.smoothing });
  if (o.limit === 'aimd') return new AimdLimit(bounds);
  return new FixedLimit(o.limit);
}

/**
 * The overload concern: an adaptive concurrency limit. A request over the limit is answered
 * 503 at start, before the app sees it; an admitted one is released at its end, and its
 * duration (the core's measurement: no clock read here) feeds the limit. Periscope's own
 * endpoints (probes, `/metrics`) are served before any scope starts, so they are never shed.
 */
export function overloadConcern(ctx: ConcernContext, options: ResolvedOverloadOptions, sinks: OverloadSinks): OverloadConcern {
  const limiter = new Limiter({ algorithm: algorithmOf(options), partitions: options.partitions });
  const matchers: RouteMatcher[] = options.partitions.map((p) => compileRoutes(p.routes));
  const registry = ctx.registry;
  const logger = ctx.logger;
  let shedCount: ((route: string) => void) | undefined;
  if (registry !== undefined) {
    const partitions = limiter.partitions;
    new Gauge({
      name: 'http_server_concurrency_limit',
      help: 'Current concurrency limit of the overload limiter: partition="all" the whole limit, else the slots a partition is guaranteed.',
      labelNames: ['partition'],
      registers: [registry],
      collect() {
        this.set({ partition: 'all' }, limiter.limit);
        for (const p of partitions) this.set({ partition: p.name }, p.limit);
      },
    });
    new Gauge({
      name: 'http_server_inflight',
      help: 'Requests admitted by the overload limiter and not yet finished, against http_server_concurrency_limit.',
      labelNames: ['partition'],
      registers: [registry],
      collect() {
        this.set({ partition: 'all' }, limiter.inflight);
        for (const p of partitions) this.set({ partition: p.name }, p.inflight);
      },
    });
    const counter = new Counter({
      name: 'http_server_requests_shed_total',
      help: 'Requests the overload limiter answered 503 before the app saw them, by route.',
      labelNames: ['route'],
      registers: [registry],
    });
    const children = new Map<string, Counter.Internal>();
    shedCount = (route) => {
      let child = children.get(route);
      if (child === undefined) {
        child = counter.labels({ route: children.size < MAX_ROUTES ? route : OVERFLOW_ROUTE });
        children.set(route, child);
      }
      child.inc();
    };
  }

  let lastLog = -Infinity;
  let unlogged = 0;
  const hook: RequestHook = {
    onStart(scope) {
      let p = -1;
      if (matchers.length !== 0) {
        const url = scope.req.url ?? '/';
        for (let i = 0; i < matchers.length; i++) {
          if (matchers[i]!(url) !== undefined) {
            p = i;
            break;
          }
        }
      }
      if (limiter.tryAcquire(p)) (scope as LimitedScope).overloadPartition = p;
      else scope.rejection = SHED;
    },
    onEnd(scope) {
      const s = scope as LimitedScope;
      const p = s.overloadPartition;
      if (p !== -2) {
        s.overloadPartition = -2;
        // A request an open breaker failed fast says nothing about how long the service takes.
        limiter.release(p, s.startTime, s.duration * 1000, !isCircuitOpenError(s.error));
        return;
      }
      if (s.rejection !== SHED) return;
      shedCount?.(s.route!);
      unlogged++;
      // The end time from the core's own measurement: no clock read here.
      const now = s.startTime + s.duration * 1000;
      if (now - lastLog >= LOG_INTERVAL_MS) {
        lastLog = now;
        logger.debug({ shed: unlogged, limit: limiter.limit, inflight: limiter.inflight }, 'requests shed: over the concurrency limit');
        unlogged = 0;
      }
    },
  };

  const readiness = options.readiness;
  if (readiness !== false && sinks.registerCheck === undefined) {
    ctx.notice('PERISCOPE_OVERLOAD_READINESS_OFF', 'periscope: overload.readiness has no effect with health: false (there is no readiness to report to).');
  }
  if (readiness !== false && sinks.registerCheck !== undefined) {
    let admitted = limiter.admitted;
    let shed = limiter.shed;
    sinks.registerCheck(
      'overload',
      () => {
        const a = limiter.admitted - admitted;
        const s = limiter.shed - shed;
        admitted = limiter.admitted;
        shed = limiter.shed;
        const ratio = a + s === 0 ? 0 : s / (a + s);
        const percent = `${Math.round(ratio * 1000) / 10}%`;
        return ratio >= readiness.shedRatio
          ? { status: 'unhealthy', message: `shedding ${percent} of requests (limit ${limiter.limit})` }
          : { status: 'healthy', message: `shed ${percent} of requests since the last check (limit ${limiter.limit})` };
      },
      { critical: readiness.critical },
    );
  }
  return { name: 'overload', hook, limiter };
}
