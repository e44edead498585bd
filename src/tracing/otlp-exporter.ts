import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import type { OTLPExporterNodeConfigBase } from '@opentelemetry/otlp-exporter-base/node-http';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { IExportTraceServiceResponse, ISerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { EncodedBatch, OtlpTraceEncoder } from './otlp-encoder.js';

/** The encoder of each exporter protobufSpanExporter made, for an ExportQueue to encode spans as they end. */
const encoders = new WeakMap<SpanExporter, OtlpTraceEncoder>();

/** The encoder behind `exporter` when protobufSpanExporter made it: it also takes EncodedBatch. */
export function encoderOf(exporter: SpanExporter): OtlpTraceEncoder | undefined {
  return encoders.get(exporter);
}

/**
 * An OTLP/HTTP protobuf span exporter: `@opentelemetry/exporter-trace-otlp-proto`'s exporter,
 * assembled from the same public parts of `@opentelemetry/otlp-exporter-base` (so the same
 * `OTEL_EXPORTER_OTLP_*` environment, headers, timeout, gzip compression, retries with backoff
 * and concurrency limit) with periscope's request encoder in place of ProtobufTraceSerializer.
 * The collector's answer is still read by OpenTelemetry's deserializer.
 */
export function protobufSpanExporter(config: OTLPExporterNodeConfigBase): SpanExporter {
  const encoder = new OtlpTraceEncoder();
  const serializer: ISerializer<ReadableSpan[] | EncodedBatch, IExportTraceServiceResponse> = {
    // An EncodedBatch (from an ExportQueue holding encoded spans) is already the body.
    serializeRequest: (spans) => (spans instanceof EncodedBatch ? spans.body : encoder.encode(spans)),
    deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
  };
  const options = convertLegacyHttpOptions(config, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
  // 'otlp_http_span_exporter' is the component type OpenTelemetry's exporter reports; its
  // self-observability metrics stay off, as there, without a meter provider.
  const exporter: SpanExporter = new OTLPExporterBase(createOtlpHttpExportDelegate(options, serializer, 'otlp_http_span_exporter', { name: 'span', countItems: (spans) => spans.length }, undefined));
  encoders.set(exporter, encoder);
  return exporter;
}
