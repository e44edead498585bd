/** `periscope/logging`: a periscope logger made before the app (Fastify's `loggerInstance`), and the logging types. */
export { createLogger, REDACTED, REQUEST_LINE_MESSAGE } from '../logging/index.js';
export type { Logger } from '../logging/index.js';
export type {
  LoggingOptions,
  LogDestination,
  LogFileDestination,
  LogLevel,
  LogStream,
  RequestLogField,
  RequestLogOptions,
  ResolvedLoggingOptions,
} from '../logging/options.js';
