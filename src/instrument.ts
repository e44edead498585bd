import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from '@prometheus-io/client';
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
import { createHealth, GracefulShutdown, readProcessFacts, signalProxyWarning } from './health/index.js';
import type { Health, HealthSink, HealthSubsystem, LoggerLike, ShutdownReport } from './health/index.js';
import type { EndpointHandler } from './core/index.js';
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
  /**
   * The management server, when `metrics.port` or `health.port` was given (the metrics one
   * when both were, on different ports); undefined otherwise.
   */
  readonly managementServer: Server | undefined;
  /**
   * Resolves with the address of the management server that serves `which` (default: the
   * one in `managementServer`) once it listens; undefined when that concern is served in-band.
   */
  managementAddress(which?: 'metrics' | 'health'): Promise<AddressInfo | undefined>;
  /**
   * A {@link CircuitBreaker} metered in this handle's registry (when metrics are on). Names
   * are unique per handle: a second call with the same name throws
   * `PERISCOPE_ERR_DUPLICATE_BREAKER` rather than silently ignoring its options, so create
   * each breaker once and keep it. Options: see {@link CircuitBreakerOptions}.
   */
  breaker<F = never>(name: string, options?: CircuitBreakerOptions<F>): CircuitBreaker<F>;
  /** Health checks, startup tasks and the lifecycle state. */
  readonly health: Health;
  /** Adds a hook run during shutdown, after in-flight requests finished and before the flush. */
  onShutdown(fn: () => unknown): void;
  /**
   * The graceful shutdown: readiness off, drain delay, stop accepting and finish in-flight
   * requests (deadline `shutdown.timeoutMs`), hooks, stop periscope's own servers, flush
   * pending spans (bounded by `tracing.shutdownTimeoutMillis`), then the logs.
   * Never exits the process (a signal-started shutdown does, unless `shutdown.exit` is false).
   * Idempotent: later calls return the same result.
   */
  shutdown(): Promise<ShutdownReport>;
}

const CHECK_STATUS_VALUE = { healthy: 1, degraded: 0.5, unhealthy: 0 } as const;

/** Writes health results into the registry: the concern itself never imports metrics. */
function healthMetrics(registry: Registry, health: () => HealthSubsystem): HealthSink {
  const status = new Gauge({
    name: 'health_check_status',
    help: 'Last result of each health check: 1 healthy, 0.5 degraded, 0 unhealthy.',
    labelNames: ['check'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'health_check_duration_seconds',
    help: 'Time taken by health check runs (a timed-out run counts its timeout).',
    labelNames: ['check'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  // Pool sizes follow OpenTelemetry's db.client.connection.* conventions and are read at scrape time.
  new Gauge({
    name: 'db_client_connection_count',
    help: 'Connections in the pools that health checks watch, by state (idle, used).',
    labelNames: ['pool_name', 'state'],
    registers: [registry],
    collect() {
      for (const [name, s] of health().poolStats()) {
        this.set({ pool_name: name, state: 'idle' }, s.idle);
        this.set({ pool_name: name, state: 'used' }, s.total - s.idle);
      }
    },
  });
  new Gauge({
    name: 'db_client_connection_pending_requests',
    help: 'Requests waiting for a connection from the pools that health checks watch.',
    labelNames: ['pool_name'],
    registers: [registry],
    collect() {
      for (const [name, s] of health().poolStats()) this.set({ pool_name: name }, s.waiting);
    },
  });
  new Gauge({
    name: 'db_client_connection_max',
    help: 'Configured maximum size of the pools that health checks watch.',
    labelNames: ['pool_name'],
    registers: [registry],
    collect() {
      for (const [name, s] of health().poolStats()) if (s.max !== undefined) this.set({ pool_name: name }, s.max);
    },
  });
  return {
    checkFinished(r) {
      status.set({ check: r.name }, CHECK_STATUS_VALUE[r.status]);
      duration.observe({ check: r.name }, r.latencyMs / 1000);
    },
  };
}

interface ManagementPort {
  readonly endpoints: Endpoints;
  readonly host: string | undefined;
  server?: Server;
  listening?: Promise<AddressInfo | undefined>;
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

  // Health and shutdown write through periscope's logger (nothing with `logging: false`).
  const logger: LoggerLike = logging?.logger ?? silentLogger();
  const healthOptions = resolved.health;
  const health: HealthSubsystem = createHealth({
    options: healthOptions,
    version: resolved.version,
    sink: metrics !== undefined && healthOptions !== false ? healthMetrics(registry, () => health) : undefined,
    logger,
    report,
  });
  // While the servers close, each finished response releases its keep-alive socket at once.
  hooks.push(health.lifecycle.requestHook);
  // Breakers are health-reported as non-critical checks: open or half open makes the service
  // degraded, never unready, since the breaker already sheds the failing dependency.
  const registerBreakerCheck = (name: string, breaker: { health(): { status: 'healthy' | 'degraded'; message: string } }): void => {
    if (healthOptions === false) return;
    const checkName = `circuit_breaker.${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`.slice(0, 64);
    try {
      health.api.register(
        checkName,
        () => {
          const h = breaker.health();
          return { status: h.status, message: h.message };
        },
        { critical: false },
      );
    } catch (error) {
      report(error, 'breaker-health');
    }
  };

  const appEndpoints = new Endpoints();
  // One management server per distinct port; metrics and health on the same port share it.
  const managementPorts = new Map<number, ManagementPort>();
  // (resolveOptions made sure two concerns on one port name the same host.)
  const endpointsFor = (port: number | undefined, host: string | undefined): Endpoints => {
    if (port === undefined) return appEndpoints;
    let m = managementPorts.get(port);
    if (m === undefined) {
      m = { endpoints: new Endpoints(), host };
      managementPorts.set(port, m);
    }
    return m.endpoints;
  };
  if (metrics !== undefined && metricsOptions !== false) {
    const serve = metricsOptions.auth === undefined ? metrics.serve : protect(metrics.serve, metricsOptions.auth);
    endpointsFor(metricsOptions.port, metricsOptions.host).add(metricsOptions.path, serve);
  }
  if (healthOptions !== false) {
    const target = endpointsFor(healthOptions.port, healthOptions.host);
    for (const [path, handler] of health.endpoints) target.add(path, handler as EndpointHandler);
  }

  const stopInternal = async (): Promise<void> => {
    slowRequests?.close();
    health.close();
    await Promise.all(
      [...managementPorts.values()].map(
        (m) =>
          new Promise<void>((resolve) => {
            const server = m.server;
            if (server === undefined || !server.listening) return resolve();
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  };
  const shutdownOptions = resolved.shutdown;
  const shutdown = new GracefulShutdown({
    // With `shutdown: false` the app owns its signals; obs.shutdown() still drains, never exits.
    config: shutdownOptions === false ? { signals: [], drainDelayMs: 0, timeoutMs: 10_000, exit: false, gracePeriodMs: 30_000 } : shutdownOptions,
    lifecycle: health.lifecycle,
    logger,
    stopInternal,
  });
  // periscope's own last steps, after the user's hooks: spans first (bounded by
  // tracing.shutdownTimeoutMillis), then the logs, so the shutdown's own lines are written.
  if (tracing !== undefined) {
    const t = tracing;
    shutdown.addFlush('tracing', () => t.shutdown());
  }
  if (logging !== undefined) {
    const l = logging;
    shutdown.addFlush('logging', () => l.flush());
  }
  const warned = new Set<string>();
  const ctx: AdapterContext = {
    createCore: (resolveRoute) => new Core({ hooks, resolveRoute, report }),
    endpoints: appEndpoints,
    trackServer: (server) => {
      health.lifecycle.trackServer(server);
      shutdown.releaseWhenClosed(server);
      metrics?.http.trackServer(server);
    },
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

  if (resolved.server !== undefined) ctx.trackServer(resolved.server);

  for (const [port, m] of managementPorts) {
    const server = m.endpoints.createServer(report);
    m.server = server;
    const listening = new Promise<AddressInfo | undefined>((resolve, reject) => {
      server.once('listening', () => resolve(server.address() as AddressInfo));
      server.once('error', (error) => {
        report(error, 'management-listen');
        reject(error);
      });
    });
    listening.catch(() => {});
    m.listening = listening;
    server.listen(port, m.host);
    // The management server must not keep a process alive that is otherwise done.
    server.unref();
  }
  const metricsPort = metricsOptions === false ? undefined : managementPorts.get(metricsOptions.port ?? -1);
  const healthPort = healthOptions === false ? undefined : managementPorts.get(healthOptions.port ?? -1);
  const mainPort = metricsPort ?? healthPort;
  const managementServer = mainPort?.server;

  if (shutdownOptions !== false) {
    shutdown.installSignals();
    if (shutdownOptions.drainDelayMs + shutdownOptions.timeoutMs > shutdownOptions.gracePeriodMs) {
      logger.warn(
        { drain_delay_ms: shutdownOptions.drainDelayMs, timeout_ms: shutdownOptions.timeoutMs, grace_period_ms: shutdownOptions.gracePeriodMs },
        'shutdown.drainDelayMs + shutdown.timeoutMs exceed shutdown.gracePeriodMs: the platform may kill the process before it has drained',
      );
    }
    if (shutdownOptions.signals.includes('SIGTERM')) {
      const warning = signalProxyWarning(readProcessFacts());
      if (warning !== undefined) logger.warn({}, warning);
    }
  }

  return Object.freeze({
    registry,
    logger: logging?.logger ?? silentLogger(),
    framework: adapter.framework,
    options: resolved,
    tracer: tracing?.tracer ?? trace.getTracer(TRACER_NAME),
    withSpan: tracing?.withSpan ?? withoutTracing,
    managementServer,
    managementAddress: (which?: 'metrics' | 'health') =>
      (which === 'metrics' ? metricsPort : which === 'health' ? healthPort : mainPort)?.listening ?? Promise.resolve(undefined),
    breaker<F = never>(name: string, options?: CircuitBreakerOptions<F>): CircuitBreaker<F> {
      if (breakers.has(name)) throw createError('PERISCOPE_ERR_DUPLICATE_BREAKER', [name], 'name');
      const breaker = new CircuitBreaker<F>(name, options);
      breakerMetrics?.attach(breaker, report);
      if (logging !== undefined) {
        const log = logging.logger;
        breaker.on('stateChange', (e) => {
          const fields = { breaker: name, from: e.from, to: e.to, reason: e.reason, failure_rate: e.failureRate, slow_call_rate: e.slowCallRate, calls: e.calls };
          if (e.to === 'open') log.warn(fields, `circuit breaker ${name} opened`);
          else log.info(fields, `circuit breaker ${name} is ${e.to === 'closed' ? 'closed' : 'half open'}`);
        });
      }
      breakers.set(name, breaker);
      registerBreakerCheck(name, breaker);
      return breaker;
    },
    health: health.api,
    onShutdown(fn: () => unknown): void {
      if (typeof fn !== 'function') throw createError('PERISCOPE_ERR_INVALID_OPTION', ['onShutdown', describeValue(fn), 'a function'], 'onShutdown');
      shutdown.onShutdown(fn);
    },
    shutdown: () => shutdown.run('shutdown() called'),
  });
}
