import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from '@prometheus-io/client';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import type { ResolvedOptions } from './options.js';
import type { Logger } from './logging/index.js';
import type { Health, ShutdownReport } from './health/index.js';
import type { CircuitBreaker, CircuitBreakerOptions } from './resilience/index.js';
import type { InstrumentPostgresOptions } from './db/index.js';

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
  managementAddress(which?: 'metrics' | 'health' | 'diagnostics'): Promise<AddressInfo | undefined>;
  /**
   * A {@link CircuitBreaker} metered in this handle's registry (when metrics are on). Names
   * are unique per handle: a second call with the same name throws
   * `PERISCOPE_ERR_DUPLICATE_BREAKER` rather than silently ignoring its options, so create
   * each breaker once and keep it. Options: see {@link CircuitBreakerOptions}.
   */
  breaker<F = never>(name: string, options?: CircuitBreakerOptions<F>): CircuitBreaker<F>;
  /**
   * Instruments a `pg` Pool or Client in place and returns it: each `query` (promise, callback,
   * and clients from `pool.connect()`) becomes a CLIENT span and a `db_client_operation_duration_seconds`
   * observation, slow ones a warning line; a Pool's connection wait is timed and its sizes join the
   * pool gauges under `pool_name`. Statement text only: parameter values are never read. Calling it
   * twice on the same object changes nothing. With `db: false` it returns the object untouched.
   * Throws `PERISCOPE_ERR_INVALID_ARGUMENT` for something that is not a pool or client, or a bad name.
   */
  instrumentPostgres<T extends object>(poolOrClient: T, options: InstrumentPostgresOptions): T;
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
  /**
   * The developer console's login URL (`http://127.0.0.1:PORT/login?t=TOKEN`), once its
   * listener listens; the same URL periscope logs at start. Rejects with
   * `PERISCOPE_ERR_CONSOLE_OFF` when the console is off (the default).
   */
  consoleUrl(): Promise<string>;
}
