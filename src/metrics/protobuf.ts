import { ProtoWriter } from '../core/proto-writer.js';
import { partsOf } from './body.js';
import type { BodyPart } from './body.js';
import type { SeriesEncoder } from './blocks.js';
import type { NativeBuckets } from './native-histogram.js';

/**
 * Prometheus' protobuf exposition (`io.prometheus.client.MetricFamily`, length-delimited), the only
 * format that carries native histograms, written field by field after client_model's metrics.proto
 * (proto2: repeated scalars unpacked) with the core's ProtoWriter, so periscope needs no protobuf runtime.
 */
export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/** Marks a registry metric that writes its own MetricFamily into a {@link ProtoBody} (periscope's request metrics). */
export const kWriteProtobuf = Symbol('periscope.writeProtobuf');

/** MetricType in metrics.proto. */
export const enum ProtoType {
  Counter = 0,
  Gauge = 1,
  Summary = 2,
  Untyped = 3,
  Histogram = 4,
}

export interface ProtoExemplar {
  labels: Record<string, string>;
  value: number;
  /** Seconds since the epoch; without it the exemplar carries no time, as in OpenMetrics text. */
  timestamp?: number;
}

/** Starts a MetricFamily; end it with `w.end()` after its metrics. */
export function beginFamily(w: ProtoWriter, name: string, help: string, type: ProtoType): void {
  w.begin(0);
  w.string(1, name);
  w.string(2, help);
  w.uint(3, type);
}

/** Starts a Metric with its labels (then a value with one of the functions below, then `w.end()`). */
export function beginMetric(w: ProtoWriter, labels: Record<string, unknown>): void {
  w.begin(4);
  for (const name in labels) {
    const v = labels[name];
    if (v === undefined) continue;
    w.begin(1);
    w.string(1, name);
    w.string(2, String(v));
    w.end();
  }
}

function exemplar(w: ProtoWriter, field: number, e: ProtoExemplar): void {
  w.begin(field);
  for (const name in e.labels) {
    w.begin(1);
    w.string(1, name);
    w.string(2, e.labels[name]!);
    w.end();
  }
  w.double(2, e.value);
  const t = e.timestamp;
  if (t !== undefined) {
    w.begin(3);
    const seconds = Math.floor(t);
    w.int(1, seconds);
    // A Timestamp's nanos stay below 1e9 (rounding 0.9999999999 s would make it 1e9).
    w.uint(2, Math.min(999_999_999, Math.round((t - seconds) * 1e9)));
    w.end();
  }
  w.end();
}

/** The value of a counter (field 3), gauge (2) or untyped (5) metric. */
export function simpleValue(w: ProtoWriter, type: ProtoType, value: number, ex?: ProtoExemplar): void {
  w.begin(type === ProtoType.Counter ? 3 : type === ProtoType.Gauge ? 2 : 5);
  w.double(1, value);
  if (ex !== undefined && type === ProtoType.Counter) exemplar(w, 2, ex);
  w.end();
}

export function summaryValue(w: ProtoWriter, count: number, sum: number, quantiles: readonly [number, number][]): void {
  w.begin(4);
  w.uint(1, count);
  w.double(2, sum);
  for (const [q, v] of quantiles) {
    w.begin(3);
    w.double(1, q);
    w.double(2, v);
    w.end();
  }
  w.end();
}

export interface ProtoHistogram {
  count: number;
  sum: number;
  /** Classic buckets: upper bounds (the last may be +Inf) and cumulative counts. */
  bounds: ArrayLike<number>;
  cumulative: ArrayLike<number>;
  exemplars?: readonly (ProtoExemplar | undefined)[];
  native?: NativeBuckets;
}

export function histogramValue(w: ProtoWriter, h: ProtoHistogram): void {
  w.begin(7);
  w.uint(1, h.count);
  w.double(2, h.sum);
  for (let i = 0; i < h.bounds.length; i++) {
    w.begin(3);
    w.uint(1, h.cumulative[i]!);
    w.double(2, h.bounds[i]!);
    const ex = h.exemplars?.[i];
    if (ex !== undefined) exemplar(w, 3, ex);
    w.end();
  }
  const n = h.native;
  if (n !== undefined) {
    w.sint(5, n.schema);
    w.double(6, n.zeroThreshold);
    w.uint(7, n.zeroCount);
    const { spans, deltas } = n.spans();
    for (const s of spans) {
      w.begin(12);
      w.sint(1, s.offset);
      w.uint(2, s.length);
      w.end();
    }
    for (const d of deltas) w.sint(13, d);
    // An empty native histogram still needs a span so Prometheus reads it as native, not classic.
    if (spans.length === 0 && n.zeroCount === 0) {
      w.begin(12);
      w.sint(1, 0);
      w.uint(2, 0);
      w.end();
    }
  }
  w.end();
}

/**
 * A protobuf exposition body: what its writer `w` writes, and between those bytes the parts a
 * metric keeps between scrapes (blocks of encoded Metric fields, see BlockCache), placed as they
 * are, not copied, each with its compressed form.
 */
export class ProtoBody {
  readonly w = new ProtoWriter();
  /** Where the Metric fields a metric keeps are encoded, one after the other (see {@link encoder}). */
  readonly #scratch = new ProtoWriter();
  /** In order: a number is the writer's length where kept parts come in, a part is kept bytes. */
  readonly #pieces: (number | BodyPart)[] = [];

  /** An encoder for a BlockCache: `write(w, s)` writes the Metric field of `s`. */
  encoder<S>(write: (w: ProtoWriter, s: S) => void): SeriesEncoder<S> {
    const w = this.#scratch;
    return {
      encode: (s) => write(w, s),
      get length() {
        return w.length;
      },
      finish: () => w.finish(),
      reset: () => w.reset(),
    };
  }

  /** Where the body stands, for {@link truncate}. */
  mark(): [writer: number, pieces: number] {
    return [this.w.length, this.#pieces.length];
  }

  /** Drops everything written since `mark` (a family that failed half-way). */
  truncate([writer, pieces]: [writer: number, pieces: number]): void {
    this.w.truncate(writer);
    this.#pieces.length = pieces;
  }

  /**
   * One length-delimited MetricFamily whose Metric fields are `metrics`, kept parts of whole
   * encoded Metric fields. Its length prefix counts their bytes, so the family's bytes are those
   * it would have written in one go, with `begin(0)` and `end()`.
   */
  family(name: string, help: string, type: ProtoType, metrics: readonly BodyPart[]): void {
    const w = this.w;
    const start = w.length;
    w.string(1, name);
    w.string(2, help);
    w.uint(3, type);
    const header = w.copy(start);
    w.truncate(start);
    let size = header.length;
    for (const part of metrics) size += part.bytes.length;
    w.varint(size);
    w.raw(header);
    this.#pieces.push(w.length);
    for (const part of metrics) this.#pieces.push(part);
  }

  /** The body, in order, as chunks and as parts (the writer's bytes cut to at most 64 KB each). */
  finish(): { chunks: Buffer[]; parts: BodyPart[]; byteLength: number } {
    const buf = this.w.finish();
    const parts: BodyPart[] = [];
    let from = 0;
    const upTo = (to: number): void => {
      if (to > from) parts.push(...partsOf([buf.subarray(from, to)]));
      from = to;
    };
    for (const piece of this.#pieces) {
      if (typeof piece === 'number') upTo(piece);
      else parts.push(piece);
    }
    upTo(buf.length);
    let byteLength = 0;
    const chunks = parts.map((part) => {
      byteLength += part.bytes.length;
      return part.bytes;
    });
    return { chunks, parts, byteLength };
  }
}

/** One Metric field (field 4 of a MetricFamily): its labels, then what `value` writes. */
export function writeMetric(w: ProtoWriter, labels: Record<string, unknown>, value: (w: ProtoWriter) => void): void {
  beginMetric(w, labels);
  value(w);
  w.end();
}
