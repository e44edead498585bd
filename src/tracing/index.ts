import { context, isSpanContextValid, propagation, ProxyTracerProvider, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import type { Attributes, Context, Span, SpanOptions, Tracer, TracerProvider as ApiTracerProvider } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, isTracingSuppressed, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { ReadableSpan, Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { RequestHook } from '../core/index.js';
import { serviceResource } from '../core/resource.js';
import type { ResolvedSampler, ResolvedTracingOptions } from './options.js';
import { protobufSpanExporter } from './otlp-exporter.js';
import { OutgoingSpans } from './outgoing.js';
import { PooledIdGenerator } from './ids.js';
import { ExportQueue } from './processor.js';
import type { DropReason, WarnLogger } from './processor.js';
import { ServerSpans } from './server-span.js';

export { ExportQueue } from './processor.js';
export type { DropReason, ExportQueueOptions, WarnLogger } from './processor.js';

/** Name and version of periscope's tracer (the instrumentation scope of its spans). */
export const TRACER_NAME = 'periscope';

export interface CreateTracingInput {
  options: ResolvedTracingOptions;
  service: { name: string; version: string };
  /** Counts spans that will never be exported; instrument() wires it to `periscope_spans_dropped_total`. */
  onDrop?: (reason: DropReason, count: number) => void;
  /** Where export failures and one-time notices go. Default: process warnings. */
  logger?: WarnLogger;
  report: (error: unknown, where: string) => void;
  /** See ServerSpansOptions.bindRequestBody. */
  bindRequestBody: boolean;
  /**
   * One more span processor on this instance's own provider (the developer console's tap,
   * handed in only when the console is on). With it, spans are recorded by the SDK even when
   * nothing is exported. Not used when the app registered its own provider.
   */
  tap?: SpanProcessor | undefined;
}

/** One `instrument()` call's tracing: its provider (or the app's), the request hook and the outgoing-call spans. */
export interface TracingSubsystem {
  readonly tracer: Tracer;
  readonly hook: RequestHook;
  /** The bounded export queue; undefined when the app's own provider is used or nothing is exported. */
  readonly queue: ExportQueue | undefined;
  /** True when the application registered its own global TracerProvider and periscope uses it. */
  readonly usesAppProvider: boolean;
  withSpan<T>(name: string, fn: (span: Span) => T | Promise<T>, attributes?: Attributes): Promise<T>;
  /** Starts child spans the way outgoing calls get theirs, and tells this instance's spans from another's (the db concern's sink). */
  readonly spans: { startSpan: StartSpan; owns: (span: Span) => boolean };
  /** Stops the outgoing-call subscriptions and flushes pending spans within the shutdown timeout. Idempotent. */
  shutdown(): Promise<void>;
}

const processWarnLogger: WarnLogger = {
  warn(obj, msg) {
    const err = obj.err;
    process.emitWarning(msg, { code: 'PERISCOPE_TRACING', detail: err instanceof Error && err.stack !== undefined ? err.stack : undefined });
  },
};

/** True when a global of this kind is registered with the OpenTelemetry API (by the app, or an earlier instrument()). */
function hasGlobal(kind: 'context' | 'propagation'): boolean {
  // The API keeps its globals under this registry symbol, shared by every copy of major version 1.
  const registry = (globalThis as Record<symbol, Record<string, unknown> | undefined>)[Symbol.for('opentelemetry.js.api.1')];
  return registry?.[kind] !== undefined;
}

/** The app has its own SDK when the global provider delegates to something other than the API's no-op. */
function appTracerProvider(): ApiTracerProvider | undefined {
  const global = trace.getTracerProvider();
  if (!(global instanceof ProxyTracerProvider)) return global;
  const noop = new ProxyTracerProvider().getDelegate();
  return global.getDelegate() === noop ? undefined : global;
}

function samplerOf(s: ResolvedSampler): Sampler {
  const root = s.ratio >= 1 ? new AlwaysOnSampler() : s.ratio <= 0 ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(s.ratio);
  return s.parentBased ? new ParentBasedSampler({ root }) : root;
}


function exporterOf(options: ResolvedTracingOptions): SpanExporter | undefined {
  if (options.exporter === 'console') return new ConsoleSpanExporter();
  if (options.exporter === 'none') return undefined;
  const config = {
    url: options.endpoint,
    headers: { ...options.headers },
    timeoutMillis: options.exportTimeoutMillis,
    // The exporter's CompressionAlgorithm enum has exactly the values 'gzip' and 'none'.
    compression: options.compression as NonNullable<NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>['compression']>,
    // One export runs at a time (the queue waits for it), so one connection slot is enough.
    concurrencyLimit: 2,
  };
  // Protobuf by default: on 512 server spans it encoded in about half the time of JSON
  // (which was 8% of the CPU of a server tracing every request) into 382 bytes a span, not 927.
  // Encoded by periscope's own encoder: the same bytes as OpenTelemetry's exporter, with about
  // half its export instructions per span (bench/span-export.mjs).
  return options.protocol === 'http/json' ? new OTLPTraceExporter(config) : protobufSpanExporter(config);
}

/** Starts a span: the SDK tracer's, or a light one when nothing is exported. */
export type StartSpan = (name: string, options: SpanOptions | undefined, parent: Context) => Span;

/**
 * The SDK's root sampling decision for `ratio`, on a trace ID, made as its
 * TraceIdRatioBasedSampler makes it (the trace ID's four 32-bit words XORed, below the bound):
 * a trace this says is sampled, the SDK samples too.
 */
function ratioDecision(ratio: number): (traceId: string) => number {
  if (ratio >= 1) return () => TraceFlags.SAMPLED;
  if (ratio <= 0) return () => TraceFlags.NONE;
  // The upper bound the SDK's TraceIdRatioBasedSampler compares a trace ID's low bits with.
  const bound = Math.floor(ratio * 0xffffffff);
  return (traceId) => {
    let acc = 0;
    for (let i = 0; i < 32; i += 8) {
      let part = 0;
      for (let j = 0; j < 8; j++) {
        const c = traceId.charCodeAt(i + j);
        part = (part << 4) | (c < 58 ? c - 48 : c - 87);
      }
      acc = (acc ^ part) >>> 0;
    }
    return acc < bound ? TraceFlags.SAMPLED : TraceFlags.NONE;
  };
}

/**
 * Starts spans deciding the sampling first, as periscope's sampler (`sampler`) decides it: a
 * span the decision samples is the SDK tracer's (`sdk`, given the trace ID decided on, see
 * {@link PooledIdGenerator.useTraceId}); any other is the API's non-recording span with IDs
 * from `ids`, exactly what the SDK would have returned, without its sampler call, attribute
 * and link copies and span-metrics bookkeeping. With no `sdk` (nothing records spans), every
 * span is the non-recording one: logs still carry trace IDs and callees a correct
 * `traceparent`. Suppressed contexts and `root` spans go to the SDK as they are.
 */
export function decidedSpans(sampler: ResolvedSampler, ids: PooledIdGenerator, sdk?: Tracer): StartSpan {
  const decide = ratioDecision(sampler.ratio);
  const parentBased = sampler.parentBased;
  return (name, options, parentContext) => {
    if (sdk !== undefined && (options?.root === true || isTracingSuppressed(parentContext))) return sdk.startSpan(name, options, parentContext);
    const parent = trace.getSpanContext(parentContext);
    if (parent !== undefined && isSpanContextValid(parent)) {
      const flags = parentBased ? parent.traceFlags & TraceFlags.SAMPLED : decide(parent.traceId);
      if (flags !== TraceFlags.NONE && sdk !== undefined) return sdk.startSpan(name, options, parentContext);
      return trace.wrapSpanContext({ traceId: parent.traceId, spanId: ids.generateSpanId(), traceFlags: flags, traceState: parent.traceState });
    }
    const traceId = ids.generateTraceId();
    const flags = decide(traceId);
    if (flags !== TraceFlags.NONE && sdk !== undefined) {
      ids.useTraceId(traceId);
      return sdk.startSpan(name, options, parentContext);
    }
    return trace.wrapSpanContext({ traceId, spanId: ids.generateSpanId(), traceFlags: flags });
  };
}

const FOREIGN_SERVER_SPAN =
  'periscope: another OpenTelemetry instrumentation (such as @opentelemetry/instrumentation-http) already made the SERVER span ' +
  'of incoming requests; periscope continues that span and makes no second one. Remove that instrumentation to get ' +
  "periscope's route-named spans.";

/** This instance's own provider, with its bounded export queue when spans are exported. */
function ownProvider(input: CreateTracingInput, logger: WarnLogger, onDrop: (reason: DropReason, count: number) => void) {
  const options = input.options;
  const exporter = exporterOf(options);
  const queue =
    exporter === undefined
      ? undefined
      : new ExportQueue({
          exporter,
          maxQueueSize: options.maxQueueSize,
          maxExportBatchSize: options.maxExportBatchSize,
          scheduledDelayMillis: options.scheduledDelayMillis,
          exportTimeoutMillis: options.exportTimeoutMillis,
          onDrop,
          logger,
        });
  const resource = serviceResource(input.service, options.resourceAttributes);
  const spanProcessors: SpanProcessor[] = [];
  if (queue !== undefined) spanProcessors.push(queue);
  if (input.tap !== undefined) spanProcessors.push(input.tap);
  const ids = new PooledIdGenerator();
  const provider = new TracerProvider({ resource, sampler: samplerOf(options.sampler), idGenerator: ids, spanProcessors });
  return { provider, queue, resource, ids, tracer: provider.getTracer(TRACER_NAME) };
}

/** `obs.withSpan`: runs `fn` in a child span of the active one, ended when it settles, errors recorded. */
function spanRunner(startSpan: StartSpan, mark: (span: Span) => void) {
  return function withSpan<T>(name: string, fn: (span: Span) => T | Promise<T>, attributes?: Attributes): Promise<T> {
    const active = context.active();
    const span = startSpan(name, attributes === undefined ? undefined : { attributes }, active);
    mark(span);
    const ctx = trace.setSpan(active, span);
    const fail = (error: unknown) => {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    };
    let result: T | Promise<T>;
    try {
      result = context.with(ctx, fn, undefined, span);
    } catch (error) {
      fail(error);
      span.end();
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        fail(error);
        span.end();
        throw error;
      },
    );
  };
}

/**
 * Builds tracing for one `instrument()` call. It owns its TracerProvider unless the
 * application registered a global one, which it then uses, registering nothing. The
 * AsyncLocalStorage context manager and the W3C propagators are registered globally only
 * where nothing is registered yet, since handlers read the active span through the global API.
 */
export function createTracing(input: CreateTracingInput): TracingSubsystem {
  const { options, report } = input;
  const logger = input.logger ?? processWarnLogger;
  const onDrop = input.onDrop ?? (() => {});
  // Registering over an existing global would fail anyway, with an error on the diag logger.
  if (!hasGlobal('context')) context.setGlobalContextManager(new AsyncLocalStorageContextManager());
  const propagator = new CompositePropagator({
    propagators: options.propagators.map((p) => (p === 'tracecontext' ? new W3CTraceContextPropagator() : new W3CBaggagePropagator())),
  });
  const fromApp = appTracerProvider();
  if (fromApp === undefined && !hasGlobal('propagation')) propagation.setGlobalPropagator(propagator);

  const own = fromApp === undefined ? ownProvider(input, logger, onDrop) : undefined;
  const { provider, queue, resource } = own ?? {};
  const tracer: Tracer = own?.tracer ?? fromApp!.getTracer(TRACER_NAME);

  // periscope decides the sampling of its own provider's spans before asking the SDK (which
  // decides the same way): an unsampled request costs a non-recording span and its IDs, and
  // only sampled spans reach the SDK, when something (the export queue, the console's tap)
  // records them. The app's own provider decides for itself.
  const startSpan: StartSpan =
    own === undefined
      ? (name, spanOptions, parent) => tracer.startSpan(name, spanOptions, parent)
      : decidedSpans(options.sampler, own.ids, queue === undefined && input.tap === undefined ? undefined : own.tracer);

  // Spans of this instance: server spans carry a mark (they may be non-recording), the rest
  // are recognised by their resource, which is this instance's own object.
  const kOwner = Symbol('periscope.tracingOwner');
  const mark = (span: Span) => {
    (span as unknown as Record<symbol, boolean>)[kOwner] = true;
  };
  const owns = (span: Span) =>
    (span as unknown as Record<symbol, boolean | undefined>)[kOwner] === true ||
    (resource !== undefined ? (span as unknown as Partial<ReadableSpan>).resource === resource : true);
  if (fromApp !== undefined && input.tap !== undefined) {
    logger.warn({}, 'periscope: the app registered its own OpenTelemetry TracerProvider, which periscope uses as it is: the developer console shows no spans.');
  }

  let warnedForeign = false;
  const hook = new ServerSpans({
    startSpan,
    propagator,
    bindRequestBody: input.bindRequestBody,
    mark,
    onForeignServerSpan() {
      if (warnedForeign) return;
      warnedForeign = true;
      logger.warn({}, FOREIGN_SERVER_SPAN);
    },
  });

  let outgoing: OutgoingSpans | undefined;
  if (options.outgoing) {
    outgoing = new OutgoingSpans({ startSpan, propagator, owns, report });
    outgoing.subscribe();
  }

  const withSpan = spanRunner(startSpan, mark);

  let stopped: Promise<void> | undefined;
  return {
    tracer,
    hook,
    queue,
    usesAppProvider: fromApp !== undefined,
    withSpan,
    spans: { startSpan, owns },
    shutdown() {
      stopped ??= (async () => {
        outgoing?.unsubscribe();
        if (queue !== undefined) await queue.shutdown(options.shutdownTimeoutMillis);
        await provider?.shutdown().catch(() => {});
      })();
      return stopped;
    },
  };
}
export { tracingConcern } from './concern.js';
export type { TracingConcern } from './concern.js';
