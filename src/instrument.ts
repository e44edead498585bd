import type { Server } from 'node:http';
import { Registry } from '@prometheus-io/client';
import { INVALID_SPAN_CONTEXT, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import { compileRoutes, compose, Core, describeOptions, OpenRequests, Reporter } from './core/index.js';
import { OPTION_ENV } from './core/env.js';
import type { ConcernContext } from './core/index.js';
import { createError, describeValue } from './errors.js';
import { emitEnvWarning, readEnv, resolveOptions } from './options.js';
import type { EnvWarning, PeriscopeOptions } from './options.js';
import type { Periscope } from './handle.js';
import { metricsConcern, metricsOtlpConcern } from './metrics/index.js';
import { serviceResource } from './core/resource.js';
import { loggingConcern, silentLogger } from './logging/index.js';
import { tracingConcern, TRACER_NAME } from './tracing/index.js';
import { healthConcern, shutdownConcern } from './health/index.js';
import { breakersConcern, slowRequestsConcern } from './resilience/index.js';
import { dbConcern } from './db/index.js';
import { diagnosticsConcern } from './diagnostics/index.js';
import { overloadConcern } from './overload/index.js';
import { clusterWorkerConcern, isClusterWorker } from './cluster/index.js';
import { snapshotRegistry } from './metrics/index.js';
import { consoleConcern } from './console/index.js';
import { attachAdapter, frameworkOf } from './adapters/index.js';
import type { ExpressAppLike, FastifyAppLike } from './adapters/index.js';

export type { Periscope } from './handle.js';

/** `withSpan` with `tracing: false`: runs `fn` with a non-recording span, keeping the same contract. */
function withoutTracing<T>(_name: string, fn: (span: Span) => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn(trace.wrapSpanContext(INVALID_SPAN_CONTEXT)));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Instruments a Fastify instance, an Express app or a node:http(s) Server: request metrics,
 * logs and spans, probes, shutdown and breakers, with one call. Synchronous for every
 * framework. Throws a {@link PeriscopeError} for invalid options or an unknown app.
 */
export function instrument(app: FastifyAppLike, options?: PeriscopeOptions): Periscope;
export function instrument(app: ExpressAppLike, options?: PeriscopeOptions): Periscope;
export function instrument(app: Server, options?: PeriscopeOptions): Periscope;
// One function of about 70 lines on purpose: the composition root reads top to bottom as the
// order things are built and wired, which is what a reader comes here to learn.
export function instrument(app: unknown, options?: PeriscopeOptions): Periscope {
  // Ignored environment values are told through periscope's logger once it exists.
  const envWarnings: EnvWarning[] = [];
  let taken: ReadonlyMap<string, 'env' | 'file'> = new Map();
  const o = resolveOptions(options, readEnv(), (w) => envWarnings.push(w), (t) => (taken = t));
  const framework = frameworkOf(app, o);

  // The composition root: the context every concern gets, then the concerns in hook order.
  const registry = o.metrics === false ? undefined : (o.metrics.registry ?? new Registry());
  const reporter = new Reporter(o.onInternalError, registry);
  const base = {
    service: { name: o.serviceName, version: o.version, commit: o.commit },
    framework,
    registry,
    report: reporter.report,
    notice: (code: string, message: string) => reporter.notice(code, message),
    warn: (code: string, message: string, fields?: object) => reporter.warn(code, message, fields),
  };
  // The developer console, when on, before the concerns it taps (spans, log lines, breakers):
  // with it off nothing is tapped, subscribed or buffered.
  const devConsole = o.console === false ? undefined : consoleConcern(base, o.console);
  const taps = devConsole?.taps;
  // Logging first: every other concern writes through its logger.
  const logging = o.logging === false ? undefined : loggingConcern(base, o.logging, app, { tap: taps?.logLine });
  reporter.useLogger(logging?.logger);
  for (const w of envWarnings) {
    if (logging === undefined) emitEnvWarning(w);
    else reporter.warn('PERISCOPE_ENV_IGNORED', w.message, { variable: w.variable, value: w.value });
  }
  const logger = logging?.logger ?? silentLogger();
  const ctx: ConcernContext = { ...base, logger };
  const tracing = o.tracing === false ? undefined : tracingConcern(ctx, o.tracing, { tap: taps?.spans });
  // In a cluster worker the primary serves the merged /metrics (or the worker its fallback port).
  const inCluster = o.cluster !== false && isClusterWorker();
  const metrics = registry === undefined || o.metrics === false ? undefined : metricsConcern({ ...ctx, registry }, o.metrics, !inCluster);
  // The pushed metrics carry the spans' resource (tracing's attributes win over the environment's).
  const push =
    registry === undefined || o.metrics === false || o.metrics.otlp === false
      ? undefined
      : metricsOtlpConcern({ ...ctx, registry }, o.metrics.otlp, serviceResource(ctx.service, o.tracing === false ? o.metrics.otlp.resourceAttributes : o.tracing.resourceAttributes));
  const slow = o.slowRequests === false ? undefined : slowRequestsConcern(ctx, o.slowRequests, logging?.subsystem.slowRequest);
  const health = healthConcern(ctx, o.health);
  const breakers = breakersConcern(ctx, {
    durationBuckets: o.metrics === false ? [] : o.metrics.durationBuckets,
    registerCheck: o.health === false ? undefined : health.registerCheck,
    watch: taps?.breaker,
  });
  const db = dbConcern(ctx, o.db, { spans: tracing?.spans, watchPool: health.watchPool });
  const diagnostics = o.diagnostics === false ? undefined : diagnosticsConcern(ctx, o.diagnostics, {
          config: () => ({ options: describeOptions(o, options, taken, OPTION_ENV) }),
        });
  const overload =
    o.overload === false ? undefined : overloadConcern(ctx, o.overload, { registerCheck: o.health === false ? undefined : health.registerCheck });
  const clusterWorker =
    o.cluster === false || !inCluster
      ? undefined
      : clusterWorkerConcern(ctx, o.cluster, {
          snapshot: registry === undefined ? undefined : () => snapshotRegistry(registry, (metric, error) => reporter.report(error, `collect:${metric}`)),
          serve: metrics?.serve,
          path: o.metrics === false ? '/metrics' : o.metrics.path,
          state: () => health.lifecycle.state,
        });
  // The shutdown runs every concern's steps, read from the composition when it runs.
  const open = new OpenRequests();
  const shutdown = shutdownConcern(ctx, o.shutdown, { lifecycle: health.lifecycle, steps: (phase) => concerns.steps(phase), requests: open });
  // Tracing first, so every later hook (metrics exemplars, logs) finds the trace ID on the scope.
  // Overload's onStart may turn the request away: the others still see it (a 503 counted,
  // logged at debug, traced), and its onEnd releases the slot before the slower hooks run.
  const concerns = compose([tracing, overload, metrics, push, logging, slow, health, breakers, db, diagnostics, devConsole, clusterWorker, shutdown], reporter.report);

  const ignore = o.ignore.length === 0 ? undefined : compileRoutes(o.ignore);
  attachAdapter(framework, app, o, {
    createCore: (resolveRoute) => new Core({ hooks: concerns.hooks, resolveRoute, ignore, open, report: reporter.report }),
    endpoints: concerns.endpoints,
    trackServer: concerns.trackServer,
    report: reporter.report,
    notice: base.notice,
    logging: logging?.subsystem,
  });
  if (o.server !== undefined) concerns.trackServer(o.server);
  concerns.management.listen();
  devConsole?.start({ logger, red: metrics?.red, health: o.health === false ? undefined : () => health.api.check() });

  return Object.freeze({
    registry: registry ?? new Registry(),
    logger,
    framework,
    options: o,
    tracer: tracing?.tracer ?? trace.getTracer(TRACER_NAME),
    withSpan: tracing?.withSpan ?? withoutTracing,
    managementServer: concerns.management.server(),
    managementAddress: (which?: 'metrics' | 'health' | 'diagnostics') => concerns.management.address(which),
    breaker: breakers.breaker,
    instrumentPostgres: db.instrumentPostgres,
    health: health.api,
    onShutdown(fn: () => unknown): void {
      if (typeof fn !== 'function') throw createError('PERISCOPE_ERR_INVALID_ARGUMENT', ['obs.onShutdown()', 'the hook', 'a function', describeValue(fn)]);
      shutdown.onShutdown(fn);
    },
    shutdown: () => shutdown.run('shutdown() called'),
    consoleUrl: () => devConsole?.url() ?? Promise.reject(createError('PERISCOPE_ERR_CONSOLE_OFF', [])),
  });
}
