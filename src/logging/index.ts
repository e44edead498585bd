import type { IncomingMessage } from 'node:http';
import { context } from '@opentelemetry/api';
import pino from 'pino';
import type { ChildLoggerOptions, Logger } from 'pino';
import { resolveLoggerOptions } from './options.js';
import type { RequestScope } from '../core/index.js';
import type { LoggingOptions, ResolvedLoggingOptions } from './options.js';
import { buildLogger, checkCreateLoggerOptions, loggerControl, restyleForeignLogger } from './logger.js';
import { bindingChildren } from './direct-line.js';
import { RequestLog } from './request-log.js';
import { requestIdOf } from './request-id.js';
import type { LogDropReason } from './fd-writer.js';

export { LOG_DROP_REASONS } from './fd-writer.js';
export type { LogDropReason } from './fd-writer.js';
export { HEADER_CONTAINERS, LINES_DROPPED_MESSAGE, REDACTED, REDACTED_HEADERS, RESERVED_FIELDS, traceMixin } from './logger.js';
export { REQUEST_LINE_MESSAGE, RequestLog } from './request-log.js';
export { saneRequestId, traceIdOfTraceparent } from './request-id.js';
export type { Logger } from 'pino';
export type { LoggingOptions, LogDestination, LogFileDestination, LogLevel, LogStream, RequestLogField, RequestLogOptions } from './options.js';

type ChildOptions = ChildLoggerOptions<never> | undefined;

/** What instrument() gets from the logging concern. */
export interface LoggingSubsystem {
  /** `obs.logger`. */
  readonly logger: Logger;
  /** The request hook (request ID at start, request line at end). */
  readonly hook: RequestLog;
  /** False when `logging.requestId` is false. */
  readonly requestIds: boolean;
  /** The request's ID, or undefined when `logging.requestId` is false. Decided once per request. */
  requestId(req: IncomingMessage): string | undefined;
  /** A child of `obs.logger` carrying the request's ID (`req.log` in Express). */
  requestLogger(req: IncomingMessage): Logger;
  /**
   * How a Fastify app logs. periscope owns the request line in every configuration (Fastify's
   * own "incoming request" / "request completed" lines are to be turned off), and `request.log`
   * is `requestLogger(req, level)`, set once the request has started (its ID may be the trace
   * ID): a child, with the request ID, of `obs.logger` when the app has no logger or uses
   * periscope's, else of the app's own logger. An app's own pino logger is restyled in place
   * to periscope's schema (see `restyleForeignLogger`), so `app.log` and `request.log` lines
   * carry ISO time, level labels, service, version and trace fields. `childLoggerFactory`
   * (when the app has a logger of its own) spares Fastify a per-request child that would only
   * be thrown away; without one, Fastify's own factory is left, which makes none.
   */
  fastify(appLog: unknown): {
    childLoggerFactory: ((parent: Logger, bindings: Record<string, unknown>, opts: ChildOptions, req: IncomingMessage) => Logger) | undefined;
    requestLogger(req: IncomingMessage, level: string | undefined): Logger;
  };
  /**
   * The warn line for a request still in flight past the slow-request threshold. The timer
   * that finds it runs outside the request's context, so the line is written inside the
   * scope's trace context (when tracing is on) to carry the request's trace IDs.
   */
  slowRequest(request: SlowRequestLine): void;
  /** Resolves once every line written so far has been handed to the OS or transport. */
  flush(): Promise<void>;
  /** Flushes and closes periscope's files and transport workers (stdout stays open). */
  close(): Promise<void>;
}

/** A request still in flight past the slow-request threshold, as the slow-request detector reports it. */
export interface SlowRequestLine {
  readonly scope: RequestScope;
  readonly method: string;
  readonly route: string | undefined;
  readonly url: string | undefined;
  readonly elapsedMs: number;
  readonly thresholdMs: number;
}

export interface LoggingDeps {
  readonly options: ResolvedLoggingOptions;
  readonly service: string;
  readonly version: string;
  readonly report: (error: unknown, where: string) => void;
  /** A logger made by {@link createLogger} that the app already uses (Fastify `loggerInstance`): adopted as `obs.logger`. */
  readonly adopt?: Logger;
  /** Counts lines a destination dropped (`periscope_log_lines_dropped_total`). */
  readonly onDrop?: (reason: LogDropReason, lines: number) => void;
  /** Sees every line the logger writes (the developer console's tap; only when it is on). */
  readonly tap?: ((line: string) => void) | undefined;
}

/** The message of the slow-request warn line. */
export const SLOW_REQUEST_MESSAGE = 'request still in flight past the slow-request threshold';

function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** A logger that writes nothing: `obs.logger` when `logging: false`. */
export function silentLogger(): Logger {
  return pino({ enabled: false });
}

/** The logger an app already carries, when periscope made it (for Fastify `loggerInstance`). */
export function periscopeLoggerOf(log: unknown): Logger | undefined {
  return loggerControl(log)?.root;
}

/** Builds the logging concern for one instrument() call. */
export function createLogging(deps: LoggingDeps): LoggingSubsystem {
  const adopted = deps.adopt === undefined ? undefined : loggerControl(deps.adopt);
  const logger = adopted?.root ?? buildLogger(deps.options, { service: deps.service, version: deps.version }, deps.report, deps.tap);
  const control = loggerControl(logger)!;
  if (deps.onDrop !== undefined) control.destination.bind({ onDrop: deps.onDrop });
  const options = deps.options;
  const idOptions = options.requestId;
  const hook = new RequestLog(logger, options);
  const requestId =
    idOptions === false ? () => undefined : (req: IncomingMessage) => requestIdOf(req, idOptions.header, idOptions.maxLength);
  /** Request loggers of `parent` (at its own level), made cheaply where pino's child would be the same. */
  const childrenOf = (parent: Logger): ((req: IncomingMessage) => Logger) => {
    const children = bindingChildren(parent, 'request_id');
    return (req) => {
      const id = requestId(req);
      if (id === undefined) return parent.child({});
      return children === undefined ? parent.child({ request_id: id }) : children(id);
    };
  };
  const requestLogger = childrenOf(logger);
  return {
    logger,
    hook,
    requestIds: idOptions !== false,
    requestId,
    requestLogger,
    fastify(appLog) {
      const log = appLog as Logger | undefined;
      // Fastify's null logger is its own child; a pino logger's child is a new object.
      const isNull = log === undefined || typeof log.child !== 'function' || log.child({}) === log;
      const ours = !isNull && loggerControl(log)?.root === logger;
      if (!isNull && !ours && loggerControl(log) === undefined) {
        restyleForeignLogger(log, { service: deps.service, version: deps.version }, options.levelFormat, options.redact);
      }
      const parent = isNull || ours ? logger : log;
      const child = childrenOf(parent);
      return {
        // Fastify makes no per-request child of its null logger as long as its own factory is
        // in place; any other factory it calls, and validates what it returns, on every request.
        childLoggerFactory: isNull ? undefined : (p) => p,
        requestLogger(req, level) {
          // A route's own logLevel (Fastify's route option) still applies to its request.log.
          if (level === undefined || level === '' || level === parent.level) return child(req);
          const id = requestId(req);
          return parent.child(id === undefined ? {} : { request_id: id }, { level });
        },
      };
    },
    slowRequest({ scope, method, route, url, elapsedMs, thresholdMs }) {
      const write = () =>
        logger.warn(
          { request_id: scope.requestId, method, route, path: url === undefined ? undefined : pathOnly(url), elapsed_ms: Math.round(elapsedMs), threshold_ms: thresholdMs },
          SLOW_REQUEST_MESSAGE,
        );
      // Slow requests are rare: a closure here costs nothing on the hot path.
      if (scope.context === undefined) write();
      else context.with(scope.context, write);
    },
    flush: () => control.destination.flush(),
    close: () => control.destination.close(),
  };
}

/**
 * A periscope logger made before the app, for frameworks that take their logger at
 * construction: `Fastify({ loggerInstance: createLogger() })`. `instrument(app)` then adopts it
 * as `obs.logger` (its `logging` option's request settings still apply; the logger's own
 * settings come from here). Takes the same options as `logging` plus the service identity;
 * defaults as there, and `LOG_LEVEL` is read.
 */
export function createLogger(options?: LoggingOptions & { serviceName?: string; version?: string }): Logger {
  checkCreateLoggerOptions(options);
  // The same resolution as instrument(): service name and version from env and package.json.
  const resolved = resolveLoggerOptions({ ...options });
  return buildLogger(
    resolved.logging,
    { service: resolved.serviceName, version: resolved.version },
    (error, where) => process.emitWarning(`periscope: ${where} failed: ${error instanceof Error ? error.message : String(error)}`, { code: 'PERISCOPE_INTERNAL_ERROR' }),
  );
}
export { loggingConcern } from './concern.js';
export type { LoggingConcern } from './concern.js';
