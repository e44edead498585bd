import type { IncomingMessage, ServerResponse } from 'node:http';
import { createError, describeValue } from '../errors.js';
import { HEALTH_DEFAULTS } from './options.js';
import type { ResolvedHealthOptions } from './options.js';
import { aggregate, CheckRunner, validateRegistration } from './checks.js';
import type { CheckOptions, CheckReport, HealthCheck, HealthSink, HealthStatus, PoolStats } from './checks.js';
import { eventLoopCheck } from './checkers.js';
import { Lifecycle } from './lifecycle.js';
import type { LifecycleState } from './lifecycle.js';
import { sanitizeText } from '../core/index.js';
import type { LoggerLike } from '../core/index.js';
import { probeEndpoints } from './probes.js';

export { aggregate, CheckRunner } from './checks.js';
export type { CheckKind, CheckOptions, CheckOutcome, CheckReport, CheckResult, HealthCheck, HealthSink, HealthStatus, PoolStats } from './checks.js';
export { eventLoopCheck, heapCheck, httpCheck, postgresCheck, redisCheck } from './checkers.js';
export type { EventLoopCheckOptions, HeapCheckOptions, HttpCheckOptions, PgQueryable, PostgresCheckOptions, RedisPingable } from './checkers.js';
export { Lifecycle } from './lifecycle.js';
export type { LifecycleState } from './lifecycle.js';
export type { LoggerLike } from '../core/index.js';
export { GracefulShutdown, readProcessFacts, signalProxyWarning } from './shutdown.js';
export type { ProcessFacts, ShutdownDeps, ShutdownReport } from './shutdown.js';
export { healthConcern, shutdownConcern } from './concern.js';
export type { HealthConcern, ShutdownConcern, ShutdownSinks } from './concern.js';
export type { HealthzBody } from './probes.js';

/** A run of every check, as `obs.health.check()` returns it. */
export interface HealthSnapshot {
  readonly status: HealthStatus;
  readonly state: LifecycleState;
  readonly checks: readonly CheckReport[];
}

/** `obs.health`: register checks and startup tasks; read the lifecycle. */
export interface Health {
  /**
   * Adds a check. Names are unique, made of letters, digits and `_.-`. Throws a
   * PeriscopeError for a bad name or options. A no-op when health is turned off.
   */
  register(name: string, check: HealthCheck, options?: CheckOptions): void;
  /** Readiness waits until `task` settles; if it rejects, the service stays not ready. */
  startup(name: string, task: PromiseLike<unknown>): void;
  /** starting, ready, draining or stopped. */
  readonly state: LifecycleState;
  /** Runs (or reads from the cache) every check and aggregates them. */
  check(): Promise<HealthSnapshot>;
}

export interface HealthSubsystem {
  readonly api: Health;
  readonly lifecycle: Lifecycle;
  /** `[path, handler]` pairs to serve (none when health is off). */
  readonly endpoints: [string, (req: IncomingMessage, res: ServerResponse) => Promise<void>][];
  poolStats(): [string, PoolStats][];
  /** Adds a pool to the pool gauges (a pool given to instrumentPostgres); a check's pool of the same name wins. */
  watchPool(name: string, stats: () => PoolStats | undefined): void;
  /** Stops background refresh and checker resources. */
  close(): void;
}

export interface CreateHealthInput {
  /** `false`: no checks and no endpoints, but the lifecycle still drives shutdown. */
  readonly options: ResolvedHealthOptions | false;
  readonly version: string;
  readonly sink: HealthSink | undefined;
  readonly logger: LoggerLike;
  report(error: unknown, where: string): void;
}

/** Builds the checks, the lifecycle and the probe endpoints of one `instrument()` call. */
export function createHealth(input: CreateHealthInput): HealthSubsystem {
  const { options, logger, report } = input;
  const lifecycle = new Lifecycle();
  const pools = new Map<string, () => PoolStats | undefined>();
  const runner = new CheckRunner({
    timeoutMs: options === false ? HEALTH_DEFAULTS.timeoutMs : options.timeoutMs,
    cacheMs: options === false ? 0 : options.cacheMs,
    refreshMs: options === false ? 0 : options.refreshMs,
    sink: input.sink,
    logger,
    report,
  });

  const api: Health = {
    register(name, check, checkOptions) {
      const r = validateRegistration(name, check, checkOptions);
      if (options === false) return;
      if (runner.has(r.name)) throw createError('PERISCOPE_ERR_DUPLICATE_CHECK', [r.name]);
      runner.add(r.name, r.check, { critical: r.critical, timeoutMs: r.timeoutMs ?? options.timeoutMs, kind: r.kind });
    },
    startup(name, task) {
      if (task === null || typeof (task as PromiseLike<unknown> | undefined)?.then !== 'function') {
        throw createError('PERISCOPE_ERR_INVALID_ARGUMENT', ['health.startup()', `task ${JSON.stringify(String(name))}`, 'a promise', describeValue(task)]);
      }
      lifecycle.startup(String(name), task, (error) => {
        logger.error({ task: sanitizeText(String(name), 128), err: sanitizeText(error) }, 'startup task failed; the service stays not ready');
      });
    },
    get state() {
      return lifecycle.state;
    },
    async check() {
      const checks = await runner.collect(runner.names());
      return { status: aggregate(checks), state: lifecycle.state, checks };
    },
  };

  if (options !== false && options.eventLoop !== false) {
    runner.add('event_loop', eventLoopCheck({ maxDelayMs: options.eventLoop.maxDelayMs }), {
      critical: true,
      timeoutMs: options.timeoutMs,
      kind: 'liveness',
    });
  }

  const endpoints =
    options === false
      ? []
      : probeEndpoints({ runner, lifecycle, version: input.version, auth: options.auth }, { live: options.livePath, ready: options.readyPath, health: options.healthPath });

  return {
    api,
    lifecycle,
    endpoints,
    poolStats: () => {
      const out = runner.poolStats();
      if (pools.size === 0) return out;
      const seen = new Set(out.map(([name]) => name));
      for (const [name, stats] of pools) {
        if (seen.has(name)) continue;
        try {
          const s = stats();
          if (s !== undefined) out.push([name, s]);
        } catch (error) {
          report(error, `db-pool-stats:${name}`);
        }
      }
      return out;
    },
    watchPool: (name, stats) => void pools.set(name, stats),
    close: () => runner.close(),
  };
}
