import type { Counter } from '@prometheus-io/client';
import type { Logger } from 'pino';
import { zeroedCounter } from '../core/index.js';
import type { Concern, ConcernContext } from '../core/index.js';
import type { ResolvedLoggingOptions } from './options.js';
import { createLogging, LOG_DROP_REASONS, periscopeLoggerOf } from './index.js';
import type { LoggingSubsystem } from './index.js';

export interface LoggingConcern extends Concern {
  readonly logger: Logger;
  /** What adapters use: request IDs and request loggers (`req.log`, Fastify's `request.log`). */
  readonly subsystem: LoggingSubsystem;
}

/**
 * The logging concern: `obs.logger`, one request line per request, flushed last at shutdown.
 * Built before the others, which write through its logger; `app` is read for a logger that
 * periscope made before it (Fastify's `loggerInstance: createLogger()`), which it adopts.
 * Lines a stalled destination dropped are counted in `periscope_log_lines_dropped_total{reason}`.
 */
export function loggingConcern(ctx: Omit<ConcernContext, 'logger'>, options: ResolvedLoggingOptions, app: unknown, sinks: { readonly tap?: ((line: string) => void) | undefined } = {}): LoggingConcern {
  let dropped: Counter<'reason'> | undefined;
  if (ctx.registry !== undefined) {
    dropped = zeroedCounter(
      ctx.registry,
      'periscope_log_lines_dropped_total',
      'Log lines that were never written, by reason (buffer_full: the destination did not take them and logging.maxBufferBytes were held; write_failed: the write failed).',
      'reason',
      LOG_DROP_REASONS,
    );
  }
  const adopt = ctx.framework === 'fastify' ? periscopeLoggerOf((app as { log?: unknown }).log) : undefined;
  const logging = createLogging({
    onDrop: dropped === undefined ? undefined : (reason, lines) => dropped.inc({ reason }, lines),
    options,
    service: ctx.service.name,
    version: ctx.service.version,
    report: ctx.report,
    adopt,
    tap: sinks.tap,
  });
  if (sinks.tap !== undefined && adopt !== undefined) {
    ctx.notice('PERISCOPE_CONSOLE_NO_LOGS', 'periscope: the app took its logger from createLogger() before instrument(): the developer console does not see its lines.');
  }
  return {
    name: 'logging',
    logger: logging.logger,
    subsystem: logging,
    hook: logging.hook,
    shutdown: [{ phase: 'flush', name: 'logging', run: () => logging.flush() }],
  };
}
