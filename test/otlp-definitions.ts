import { createRequire } from 'node:module';

/**
 * The decoders opentelemetry-js generated with protobufjs from opentelemetry-proto's own .proto
 * files (shipped by @opentelemetry/otlp-transformer 0.200, installed under the alias
 * `otlp-proto-definitions`): the official definitions, not a reader of ours. That generation
 * predates the `flags` fields of Span and Span.Link, which it skips as unknown fields.
 */
export interface Decoder<T = unknown> {
  decode(buf: Uint8Array): unknown;
  toObject(message: unknown, options: object): T;
}

const require = createRequire(import.meta.url);
const root = require('otlp-proto-definitions/build/src/generated/root.js') as {
  opentelemetry: {
    proto: {
      collector: {
        metrics: { v1: { ExportMetricsServiceRequest: Decoder } };
        trace: { v1: { ExportTraceServiceRequest: Decoder } };
      };
    };
  };
};

export const ExportMetricsServiceRequest = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
export const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
