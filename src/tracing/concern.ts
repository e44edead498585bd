import type { Counter } from '@prometheus-io/client';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { zeroedCounter } from '../core/index.js';
import type { Concern, ConcernContext } from '../core/index.js';
import type { ResolvedTracingOptions } from './options.js';
import { createTracing } from './index.js';
import type { TracingSubsystem } from './index.js';

export interface TracingConcern extends Concern {
  readonly tracer: Tracer;
  withSpan<T>(name: string, fn: (span: Span) => T | Promise<T>, attributes?: Attributes): Promise<T>;
  /** Child spans of this instance's requests, for the db concern. */
  readonly spans: TracingSubsystem['spans'];
}

/**
 * The tracing concern: a SERVER span per request, CLIENT spans for outgoing calls, the bounded
 * export queue (its drops counted in `periscope_spans_dropped_total{reason}`), flushed at shutdown.
 */
export function tracingConcern(ctx: ConcernContext, options: ResolvedTracingOptions, sinks: { readonly tap?: SpanProcessor | undefined } = {}): TracingConcern {
  let dropped: Counter<'reason'> | undefined;
  if (ctx.registry !== undefined) {
    dropped = zeroedCounter(
      ctx.registry,
      'periscope_spans_dropped_total',
      'Spans that will never be exported, by reason (queue_full: the export queue was at its maximum; export_failed: the collector did not take them).',
      'reason',
      ['queue_full', 'export_failed'],
    );
  }
  const tracing = createTracing({
    options,
    service: { name: ctx.service.name, version: ctx.service.version },
    onDrop: dropped === undefined ? undefined : (reason, count) => dropped.inc({ reason }, count),
    logger: { warn: (fields, message) => ctx.warn('PERISCOPE_TRACING', message, fields) },
    report: ctx.report,
    // Fastify runs its body parsers in an AsyncResource of its own; the others need the binding.
    bindRequestBody: ctx.framework !== 'fastify',
    tap: sinks.tap,
  });
  return {
    name: 'tracing',
    tracer: tracing.tracer,
    withSpan: tracing.withSpan,
    spans: tracing.spans,
    hook: tracing.hook,
    shutdown: [{ phase: 'flush', name: 'tracing', run: () => tracing.shutdown() }],
  };
}
