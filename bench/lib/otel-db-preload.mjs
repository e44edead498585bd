// The OpenTelemetry variant of bench/db.mjs, loaded with `--import`: the SDK's own provider and
// batch processor exporting OTLP/HTTP protobuf to OTLP_SINK, and OpenTelemetry's pg, ioredis and
// redis instrumentations, which patch the drivers as they load. This is the preload they need.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { RedisInstrumentation } from '@opentelemetry/instrumentation-redis';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

context.setGlobalContextManager(new AsyncLocalStorageContextManager());
const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'bench-db' }),
  spanProcessors: [
    // Counts the spans the instrumentations made (the bench's own parent span aside), to show each driver was traced.
    { onStart() {}, onEnd: (span) => void (span.name === 'bench' || (globalThis.__otelBenchSpans = (globalThis.__otelBenchSpans ?? 0) + 1)), forceFlush: async () => {}, shutdown: async () => {} },
    // OTEL_BENCH_EXPORT=0: no exporter (the SDK still builds a recording span per call).
    ...(process.env.OTEL_BENCH_EXPORT === '0' ? [] : [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${process.env.OTLP_SINK}/v1/traces` }) })]),
  ],
});
trace.setGlobalTracerProvider(provider);
registerInstrumentations({ tracerProvider: provider, instrumentations: [new PgInstrumentation(), new IORedisInstrumentation(), new RedisInstrumentation()] });
globalThis.__otelBenchShutdown = () => provider.shutdown();
