import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from '@prometheus-io/client';
import { INVALID_SPAN_CONTEXT, trace } from '@opentelemetry/api';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import { Core, Endpoints, protect } from './core/index.js';
import type { RequestHook } from './core/index.js';
import { createError, describeValue } from './errors.js';
import { resolveOptions } from './options.js';
import type { PeriscopeOptions, ResolvedOptions } from './options.js';
import { createMetrics } from './metrics/index.js';
import type { MetricsSubsystem } from './metrics/index.js';
import { createLogging, periscopeLoggerOf, silentLogger } from './logging/index.js';
import type { Logger, LoggingSubsystem } from './logging/index.js';
import { createTracing, TRACER_NAME } from './tracing/index.js';
import type { TracingSubsystem } from './tracing/index.js';
import { attachExpress, isExpress } from './adapters/express.js';
import { attachFastify, isFastify } from './adapters/fastify.js';
import { attachNodeHttp, isNodeHttpServer } from './adapters/node-http.js';
import type { AdapterContext, AdapterHandle } from './adapters/context.js';
import { kInstrumented } from './symbols.js';
import { BreakerMetrics, CircuitBreaker, SlowRequestDetector, slowRequestCounter } from './resilience/index.js';
import type { CircuitBreakerOptions } from './resilience/index.js';

// Here rather than in the Express adapter so that it reaches users through the public types.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** periscope (logging on): a child of `obs.logger` carrying this request's ID, made on first use. */
      log: Logger;
    }
  }
}

/** The handle `instrument()` returns. */
export interface Periscope {
  /** The Prometheus client's Registry holding every metric periscope made; register your own in it. */
  readonly registry: Registry;
  /**
   * pino logger writing JSON lines with `trace_id`/`span_id`/`trace_flags` of the active span;
   * a logger that writes nothing when `logging: false`.
   */
  readonly logger: Logger;
  /** Which adapter was picked. */
  readonly framework: 'fastify' | 'express' | 'node-http';
  /** The options after defaults and environment were applied (frozen). */
  readonly options: ResolvedOptions;
  /**
   * The OpenTelemetry tracer periscope's spans come from (this call's own provider, or the
   * app's global one when it registered one). With `tracing: false`, the global API's tracer.
   */
  readonly tracer: Tracer;
  /**
   * Runs `fn` in a child span of the active span (the request's, inside a handler), ends it
   * when the returned promise settles and records a thrown error or rejection as the span's
   * exception with status ERROR. Resolves or rejects as `fn` does.
   */
  withSpan<T>(name: string, fn: (span: Span) => T | Promise<T>, attributes?: Attributes): Promise<T>;
  /** The management server, when `metrics.port` was given; undefined otherwise. */
  readonly managementServer: Server | undefined;
  /** Resolves with the management server's address once it listens (undefined without one). */
  managementAddress(): Promise<AddressInfo | undefined>;
  /**
   * A {@link CircuitBreaker} metered in this handle's registry (when metrics are on). Names
   * are unique per handle: a second call with the same name throws
   * `PERISCOPE_ERR_DUPLICATE_BREAKER` rather than silently ignoring its options, so create
   * each breaker once and keep it. Options: see {@link CircuitBreakerOptions}.
   */
  breaker<F = never>(name: string, options?: CircuitBreakerOptions<F>): CircuitBreaker<F>;
  /** Stops periscope's own servers and timers, flushes pending spans (bounded by `tracing.shutdownTimeoutMillis`), then the logs. Idempotent. */
  shutdown(): Promise<void>;
}

function makeReporter(options: ResolvedOptions, metrics: () => MetricsSubsystem | undefined) {
  const seen = new Set<string>();
  return (error: unknown, where: string): void => {
    try {
      metrics()?.countInternalError(where);
      if (options.onInternalError !== undefined) {
        options.onInternalError(error, where);
      } else if (!seen.has(where)) {
        seen.add(where);
        const message = error instanceof Error ? error.message : String(error);
        process.emitWarning(`periscope: ${where} failed: ${message} (reported once; counted in periscope_internal_errors_total)`, {
          code: 'PERISCOPE_INTERNAL_ERROR',
        });
      }
    } catch {
      // The reporter is the last line: it must never throw into a request.
    }
  };
}

/** `withSpan` with `tracing: false`: runs `fn` with a non-recording span, keeping the same contract. */
function withoutTracing<T>(_name: string, fn: (span: Span) => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn(trace.wrapSpanContext(INVALID_SPAN_CONTEXT)));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Instruments a Fastify instance, an Express app or a node:http Server: request metrics,
 * a `/metrics` endpoint and the process metrics, with one call. Synchronous for every
 * framework. Throws a {@link PeriscopeError} for invalid options or an unknown app.
 */
export function instrument(app: unknown, options?: PeriscopeOptions): Periscope {
  const resolved = resolveOptions(options);
  const framework = isFastify(app) ? 'fastify' : isExpress(app) ? 'express' : isNodeHttpServer(app) ? 'node-http' : undefined;
  if (framework === undefined) throw createError('PERISCOPE_ERR_UNSUPPORTED_APP', [describeValue(app)]);
  if ((app as Record<symbol, unknown>)[kInstrumented] === true) throw createError('PERISCOPE_ERR_ALREADY_INSTRUMENTED', []);
  if (framework !== 'node-http' && (resolved.routes.length > 0 || resolved.routeOf !== undefined)) {
    const option = resolved.routeOf !== undefined ? 'routeOf' : 'routes';
    throw createError('PERISCOPE_ERR_INVALID_OPTION', [option, 'a value', `only with a node:http server; ${framework} names its routes itself`], option);
  }

  let metrics: MetricsSubsystem | undefined;
  const report = makeReporter(resolved, () => metrics);
  const metricsOptions = resolved.metrics;
  if (metricsOptions !== false) {
    metrics = createMetrics({
      options: metricsOptions,
      build: { service: resolved.serviceName, version: resolved.version, commit: resolved.commit },
      report,
    });
  }
  const registry = metrics?.registry ?? new Registry();
  const hooks: RequestHook[] = [];

  let tracing: TracingSubsystem | undefined;
  if (resolved.tracing !== false) {
    let dropped: Counter<'reason'> | undefined;
    if (metrics !== undefined) {
      dropped = new Counter({
        name: 'periscope_spans_dropped_total',
        help: 'Spans that will never be exported, by reason (queue_full: the export queue was at its maximum; export_failed: the collector did not take them).',
        labelNames: ['reason'],
        registers: [registry],
      });
      dropped.inc({ reason: 'queue_full' }, 0);
      dropped.inc({ reason: 'export_failed' }, 0);
    }
    tracing = createTracing({
      options: resolved.tracing,
      service: { name: resolved.serviceName, version: resolved.version },
      onDrop: dropped === undefined ? undefined : (reason, count) => dropped.inc({ reason }, count),
      report,
      bindRequestBody: framework !== 'fastify',
    });
    // First, so every later hook (metrics exemplars, logs) finds the trace ID on the scope.
    hooks.push(tracing.hook);
  }
  if (metrics !== undefined) hooks.push(metrics.http);
  let logging: LoggingSubsystem | undefined;
  if (resolved.logging !== false) {
    logging = createLogging({
      options: resolved.logging,
      service: resolved.serviceName,
      version: resolved.version,
      report,
      // Fastify takes its logger at construction: one made by createLogger() becomes obs.logger.
      adopt: framework === 'fastify' ? periscopeLoggerOf((app as { log?: unknown }).log) : undefined,
    });
    hooks.push(logging.hook);
  }
  let slowRequests: SlowRequestDetector | undefined;
  if (resolved.slowRequests !== false) {
    const countSlow = metrics !== undefined ? slowRequestCounter(registry) : undefined;
    slowRequests = new SlowRequestDetector({
      thresholdMs: resolved.slowRequests.thresholdMs,
      onSlowRequest: (request) => {
        countSlow?.(request.method);
        logging?.slowRequest(request.scope, request.method, request.route, request.url, request.elapsedMs, request.thresholdMs);
      },
      report,
    });
    hooks.push(slowRequests);
  }
  const breakerMetrics = metrics !== undefined && metricsOptions !== false ? new BreakerMetrics(registry, metricsOptions.durationBuckets) : undefined;
  const breakers = new Map<string, CircuitBreaker<unknown>>();

  const appEndpoints = new Endpoints();
  const managementEndpoints = new Endpoints();
  if (metrics !== undefined && metricsOptions !== false) {
    const serve = metricsOptions.auth === undefined ? metrics.serve : protect(metrics.serve, metricsOptions.auth);
    (metricsOptions.port === undefined ? appEndpoints : managementEndpoints).add(metricsOptions.path, serve);
  }

  const warned = new Set<string>();
  const ctx: AdapterContext = {
    createCore: (resolveRoute) => new Core({ hooks, resolveRoute, report }),
    endpoints: appEndpoints,
    trackServer: (server) => metrics?.http.trackServer(server),
    report,
    logging,
    warnOnce(code, message) {
      if (warned.has(code)) return;
      warned.add(code);
      process.emitWarning(message, { code });
    },
  };

  let adapter: AdapterHandle;
  if (framework === 'fastify') adapter = attachFastify(app as Parameters<typeof attachFastify>[0], ctx);
  else if (framework === 'express') adapter = attachExpress(app as Parameters<typeof attachExpress>[0], ctx);
  else adapter = attachNodeHttp(app as Server, ctx, { routes: resolved.routes, routeOf: resolved.routeOf });
  Object.defineProperty(app, kInstrumented, { value: true, configurable: true });

  let managementServer: Server | undefined;
  let listening: Promise<AddressInfo | undefined> = Promise.resolve(undefined);
  if (metricsOptions !== false && metricsOptions.port !== undefined) {
    const server = managementEndpoints.createServer(report);
    managementServer = server;
    listening = new Promise((resolve, reject) => {
      server.once('listening', () => resolve(server.address() as AddressInfo));
      server.once('error', (error) => {
        report(error, 'management-listen');
        reject(error);
      });
    });
    listening.catch(() => {});
    server.listen(metricsOptions.port, metricsOptions.host);
    // The management server must not keep a process alive that is otherwise done.
    server.unref();
  }

  let stopped: Promise<void> | undefined;
  return Object.freeze({
    registry,
    logger: logging?.logger ?? silentLogger(),
    framework: adapter.framework,
    options: resolved,
    tracer: tracing?.tracer ?? trace.getTracer(TRACER_NAME),
    withSpan: tracing?.withSpan ?? withoutTracing,
    managementServer,
    managementAddress: () => listening,
    breaker<F = never>(name: string, options?: CircuitBreakerOptions<F>): CircuitBreaker<F> {
      if (breakers.has(name)) throw createError('PERISCOPE_ERR_DUPLICATE_BREAKER', [name], 'name');
      const breaker = new CircuitBreaker<F>(name, options);
      breakerMetrics?.attach(breaker, report);
      // Logging and health wire in here, through breaker.on('stateChange') and breaker.health().
      breakers.set(name, breaker);
      return breaker;
    },
    shutdown(): Promise<void> {
      slowRequests?.close();
      stopped ??= Promise.all([
        new Promise<void>((resolve) => {
          if (managementServer === undefined || !managementServer.listening) return resolve();
          managementServer.close(() => resolve());
          managementServer.closeAllConnections();
        }),
        tracing?.shutdown(),
      ]).then(() => logging?.flush());
      return stopped;
    },
  });
}
