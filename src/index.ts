export { instrument } from './instrument.js';
export type { Periscope } from './instrument.js';
export { PeriscopeError, isPeriscopeError, ERRORS } from './errors.js';
export type { PeriscopeErrorCode } from './errors.js';
export type { PeriscopeOptions, MetricsOptions, ResolvedOptions, ResolvedMetricsOptions } from './options.js';
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
export { STATUS_CLIENT_CLOSED, UNMATCHED_ROUTE } from './core/index.js';
