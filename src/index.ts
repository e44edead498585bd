export { instrument } from './instrument.js';
export type { Periscope } from './instrument.js';
export { PeriscopeError, isPeriscopeError, isCircuitOpenError, isCircuitTimeoutError, ERRORS } from './errors.js';
export type { PeriscopeErrorCode } from './errors.js';
export type { PeriscopeOptions, MetricsOptions, ResolvedOptions, ResolvedMetricsOptions, ResolvedSlowRequestsOptions } from './options.js';
export type {
  LoggingOptions,
  LogDestination,
  LogFileDestination,
  LogLevel,
  LogStream,
  RequestLogField,
  RequestLogOptions,
  ResolvedLoggingOptions,
} from './options.js';
export { CircuitOpenError, CircuitTimeoutError, CircuitFallbackError } from './resilience/index.js';
export type { CircuitBreaker, CircuitBreakerOptions, CircuitState, CircuitBreakerEvents, CircuitBreakerHealth, CircuitBreakerStats, StateChangeEvent } from './resilience/index.js';
export { STATUS_CLIENT_CLOSED, UNMATCHED_ROUTE } from './core/index.js';
export type { TracingOptions, TracingExporter, ResolvedTracingOptions } from './options.js';
