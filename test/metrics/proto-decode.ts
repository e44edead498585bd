// Prometheus' protobuf exposition decoded with Prometheus' own metrics.proto, for the tests that read it.
import { existsSync } from 'node:fs';
import protobuf from 'protobufjs';

/**
 * Prometheus' own message definitions, from Debian's golang-github-prometheus-client-model-dev
 * (client_model 0.3, with the native-histogram fields); .ci/run installs it.
 */
const METRICS_PROTO = '/usr/share/gocode/src/github.com/prometheus/client_model/io/prometheus/client/metrics.proto';

export interface Decoded {
  name: string;
  help: string;
  type: number;
  metric: {
    label: { name: string; value: string }[];
    counter?: { value: number; exemplar?: DecodedExemplar };
    gauge?: { value: number };
    untyped?: { value: number };
    summary?: { sampleCount: number; sampleSum: number; quantile: { quantile: number; value: number }[] };
    histogram?: {
      sampleCount: number;
      sampleSum: number;
      bucket: { cumulativeCount: number; upperBound: number; exemplar?: DecodedExemplar }[];
      schema?: number;
      zeroThreshold?: number;
      zeroCount?: number;
      positiveSpan: { offset: number; length: number }[];
      positiveDelta: number[];
    };
  }[];
}
export interface DecodedExemplar {
  label: { name: string; value: string }[];
  value: number;
  timestamp: { seconds: number; nanos: number };
}

let MetricFamily: protobuf.Type | undefined;

/** Loads the decoder from metrics.proto; call it in `beforeAll` before {@link decode}. */
export async function loadMetricsProto(): Promise<void> {
  if (!existsSync(METRICS_PROTO)) throw new Error(`${METRICS_PROTO} is missing: apt-get install golang-github-prometheus-client-model-dev`);
  MetricFamily ??= (await protobuf.load(METRICS_PROTO)).lookupType('io.prometheus.client.MetricFamily');
}

/** Reads a length-delimited stream of MetricFamily messages with the decoder built from metrics.proto. */
export function decode(body: Uint8Array): Map<string, Decoded> {
  const type = MetricFamily;
  if (type === undefined) throw new Error('loadMetricsProto() first');
  const reader = protobuf.Reader.create(body);
  const out = new Map<string, Decoded>();
  while (reader.pos < reader.len) {
    const message = type.decodeDelimited(reader);
    const family = type.toObject(message, { longs: Number, arrays: true, defaults: false }) as Decoded;
    out.set(family.name, family);
  }
  return out;
}

export const labelsOf = (m: { label: { name: string; value: string }[] }) => Object.fromEntries(m.label.map((l) => [l.name, l.value]));

/** The native buckets of a decoded histogram, as index → count. */
export function nativeBuckets(h: NonNullable<Decoded['metric'][number]['histogram']>): Map<number, number> {
  const out = new Map<number, number>();
  let index = 0;
  let count = 0;
  let d = 0;
  h.positiveSpan.forEach((span) => {
    index += span.offset;
    for (let k = 0; k < span.length; k++) {
      count += h.positiveDelta[d++]!;
      out.set(index + k, count);
    }
    index += span.length;
  });
  return out;
}
