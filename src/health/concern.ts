import type { Concern, ConcernContext, OpenRequests, ShutdownStep } from '../core/index.js';
import { SHUTDOWN_OFF } from './options.js';
import type { ResolvedHealthOptions, ResolvedShutdownOptions } from './options.js';
import type { CheckOptions, HealthCheck, PoolStats } from './checks.js';
import { createHealth } from './index.js';
import type { Health, HealthSubsystem } from './index.js';
import type { Lifecycle } from './lifecycle.js';
import { registerHealthMetrics } from './metrics.js';
import { GracefulShutdown, readProcessFacts, signalProxyWarning } from './shutdown.js';
import type { ShutdownReport } from './shutdown.js';

export interface HealthConcern extends Concern {
  /** `obs.health`. */
  readonly api: Health;
  /** The lifecycle every probe and the shutdown follow (there even with `health: false`). */
  readonly lifecycle: Lifecycle;
  /** Registers a check (a no-op with health off): the sink other concerns get. */
  registerCheck(name: string, check: HealthCheck, options?: CheckOptions): void;
  /** Adds a pool to the pool gauges; undefined when health or metrics are off (no gauges are served). */
  readonly watchPool: ((name: string, stats: () => PoolStats | undefined) => void) | undefined;
}

/**
 * The health concern: checks and startup tasks, the lifecycle, the probe endpoints, and the
 * health metrics (`health_check_*`, `app_ready`, pool sizes). With `health: false` only the
 * lifecycle remains, for the shutdown.
 */
export function healthConcern(ctx: ConcernContext, options: ResolvedHealthOptions | false): HealthConcern {
  const registry = ctx.registry;
  // The metrics read the subsystem at scrape time, once it exists.
  const health: HealthSubsystem = createHealth({
    options,
    version: ctx.service.version,
    sink:
      registry === undefined || options === false
        ? undefined
        : registerHealthMetrics(registry, { state: () => health.lifecycle.state, poolStats: () => health.poolStats() }),
    logger: ctx.logger,
    report: ctx.report,
  });
  const h = health;
  return {
    name: 'health',
    api: h.api,
    lifecycle: h.lifecycle,
    registerCheck: (name, check, checkOptions) => h.api.register(name, check, checkOptions),
    watchPool: registry === undefined || options === false ? undefined : (name, stats) => h.watchPool(name, stats),
    // While the servers close, each finished response releases its keep-alive socket at once.
    hook: h.lifecycle.requestHook,
    endpoints: options === false ? [] : h.endpoints.map(([path, handler]) => ({ path, handler, port: options.port, host: options.host })),
    trackServer: (server, close) => h.lifecycle.trackServer(server, close),
    shutdown: [{ phase: 'close', name: 'health', run: () => h.close() }],
  };
}

export interface ShutdownConcern extends Concern {
  onShutdown(fn: () => unknown): void;
  run(reason: string): Promise<ShutdownReport>;
}

export interface ShutdownSinks {
  readonly lifecycle: Lifecycle;
  /** The other concerns' steps of a phase, read when the shutdown runs. */
  steps(phase: 'close' | 'flush'): readonly ShutdownStep[];
  /** The app's open requests, ended at the deadline before the flush. */
  readonly requests: OpenRequests;
}

/**
 * The graceful shutdown: readiness off, drain, the user's hooks, then every concern's `close`
 * steps and `flush` steps. With `shutdown: false` the app owns its signals and
 * `obs.shutdown()` still drains, never exits.
 */
export function shutdownConcern(ctx: ConcernContext, options: ResolvedShutdownOptions | false, sinks: ShutdownSinks): ShutdownConcern {
  const shutdown = new GracefulShutdown({
    config: options === false ? SHUTDOWN_OFF : options,
    lifecycle: sinks.lifecycle,
    logger: ctx.logger,
    steps: sinks.steps,
    requests: sinks.requests,
  });
  if (options !== false) {
    shutdown.installSignals();
    if (options.drainDelayMs + options.timeoutMs > options.gracePeriodMs) {
      ctx.logger.warn(
        { drain_delay_ms: options.drainDelayMs, timeout_ms: options.timeoutMs, grace_period_ms: options.gracePeriodMs },
        'shutdown.drainDelayMs + shutdown.timeoutMs exceed shutdown.gracePeriodMs: the platform may kill the process before it has drained',
      );
    }
    if (options.signals.includes('SIGTERM')) {
      const warning = signalProxyWarning(readProcessFacts());
      if (warning !== undefined) ctx.logger.warn({}, warning);
    }
  }
  return {
    name: 'shutdown',
    trackServer: (server) => shutdown.releaseWhenClosed(server),
    onShutdown: (fn) => shutdown.onShutdown(fn),
    run: (reason) => shutdown.run(reason),
  };
}
