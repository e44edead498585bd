export { instrument } from './instrument.js';
export { instrumentPrimary } from './primary.js';
export type { PeriscopePrimary } from './primary.js';
// The Prometheus client's metric classes, the very ones periscope uses, so a metric made with them
// registers in `obs.registry` without a direct dependency on @prometheus-io/client.
export { Counter, Gauge, Histogram, Summary, Registry } from '@prometheus-io/client';
export type { Periscope } from './instrument.js';
export { PeriscopeError, isPeriscopeError, isCircuitOpenError, isCircuitTimeoutError, ERRORS } from './errors.js';
export type { PeriscopeErrorCode } from './errors.js';
export type { PeriscopeOptions, ResolvedOptions } from './options.js';
export type { MetricsOptions, NativeHistogramOptions, ResolvedMetricsOptions } from './metrics/options.js';
export type { MetricsOtlpOptions, MetricsOtlpProtocol, ResolvedMetricsOtlpOptions } from './metrics/otlp-options.js';
export type { ResolvedSlowRequestsOptions } from './resilience/options.js';
export type { OverloadOptions, OverloadPartition, OverloadReadinessOptions, ResolvedOverloadOptions } from './overload/options.js';
export type {
  LoggingOptions,
  LogDestination,
  LogFileDestination,
  LogLevel,
  LogStream,
  RequestLogField,
  RequestLogOptions,
  ResolvedLoggingOptions,
} from './logging/options.js';
export { CircuitOpenError, CircuitTimeoutError, CircuitFallbackError } from './resilience/index.js';
export type { CircuitBreaker, CircuitBreakerOptions, CircuitState, CircuitBreakerEvents, CircuitBreakerHealth, CircuitBreakerStats, StateChangeEvent } from './resilience/index.js';
export { STATUS_CLIENT_CLOSED, UNMATCHED_ROUTE } from './core/index.js';
export { postgresCheck, redisCheck, httpCheck, eventLoopCheck, heapCheck } from './health/index.js';
export type {
  Health,
  HealthCheck,
  HealthSnapshot,
  HealthStatus,
  HealthzBody,
  CheckOptions,
  CheckOutcome,
  CheckReport,
  CheckResult,
  CheckKind,
  LifecycleState,
  PoolStats,
  ShutdownReport,
} from './health/index.js';
export type { HealthOptions, ShutdownOptions, ResolvedHealthOptions, ResolvedShutdownOptions } from './health/options.js';
export type { TracingOptions, TracingExporter, ResolvedTracingOptions } from './tracing/options.js';
export type { DbOptions, ResolvedDbOptions, InstrumentPostgresOptions } from './db/index.js';
export type { DiagnosticsOptions, ResolvedDiagnosticsOptions } from './diagnostics/options.js';
export type { ClusterOptions, PrimaryOptions, PrimaryClusterOptions, PrimaryMetricsOptions, ResolvedClusterOptions, ResolvedPrimaryOptions } from './cluster/options.js';
export type { WorkerInfo, PrimaryHealthzBody } from './cluster/index.js';
export type { ConsoleOptions, ResolvedConsoleOptions } from './console/options.js';
