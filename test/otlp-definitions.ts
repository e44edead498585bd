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

const IDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/** IDs from base64 to hex, everything else as it is (NaN included, which JSON would lose). */
function hexIds(v: unknown, key = ''): unknown {
  if (typeof v === 'string' && IDS.has(key)) return Buffer.from(v, 'base64').toString('hex');
  if (Array.isArray(v)) return v.map((x) => hexIds(x));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hexIds(x, k)]));
  return v;
}

/**
 * An `ExportTraceServiceRequest` as the definitions decode it, in the shape of OTLP's JSON
 * encoding: 64-bit integers as decimal text, trace and span IDs as hex, fields absent from the
 * wire left out (repeated ones are empty arrays).
 */
export function decodeTraceRequest(body: Uint8Array): unknown {
  const message = ExportTraceServiceRequest.decode(body);
  return hexIds(ExportTraceServiceRequest.toObject(message, { longs: String, bytes: String, defaults: false, arrays: true }));
}
