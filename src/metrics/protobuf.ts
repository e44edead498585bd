import type { NativeBuckets } from './native-histogram.js';

/**
 * Prometheus' protobuf exposition (`io.prometheus.client.MetricFamily`, length-delimited), the only
 * format that carries native histograms. A small writer over the wire format of client_model's
 * metrics.proto (proto2: repeated scalars unpacked), so periscope needs no protobuf runtime.
 */
export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
}

/** MetricType in metrics.proto. */
export const enum ProtoType {
  Counter = 0,
  Gauge = 1,
  Summary = 2,
  Untyped = 3,
  Histogram = 4,
}

/** A growable byte buffer with protobuf's field encodings; nested messages are sized after the fact. */
export class ProtoWriter {
  #buf = Buffer.allocUnsafe(64 * 1024);
  #pos = 0;
  readonly #starts: number[] = [];

  get length(): number {
    return this.#pos;
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  #varint(n: number): void {
    this.#room(10);
    // Above 2^31 the bitwise operators would truncate: divide instead.
    while (n > 0x7f) {
      this.#buf[this.#pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.#buf[this.#pos++] = n;
  }

  #tag(field: number, wire: Wire): void {
    this.#varint((field << 3) | wire);
  }

  uint(field: number, n: number): void {
    this.#tag(field, Wire.Varint);
    this.#varint(n);
  }

  /** sint32 / sint64 (zigzag). */
  sint(field: number, n: number): void {
    this.#tag(field, Wire.Varint);
    this.#varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  /** int64 of a non-negative value (a timestamp's seconds). */
  int(field: number, n: number): void {
    this.uint(field, n);
  }

  double(field: number, v: number): void {
    this.#tag(field, Wire.Fixed64);
    this.#room(8);
    this.#buf.writeDoubleLE(v, this.#pos);
    this.#pos += 8;
  }

  string(field: number, s: string): void {
    this.#tag(field, Wire.Bytes);
    const n = Buffer.byteLength(s);
    this.#varint(n);
    this.#room(n);
    this.#buf.write(s, this.#pos, 'utf8');
    this.#pos += n;
  }

  /** Opens a nested message (or, with field 0, a length-delimited top-level one). */
  begin(field: number): void {
    if (field !== 0) this.#tag(field, Wire.Bytes);
    this.#starts.push(this.#pos);
  }

  /** Closes the innermost open message: its length goes in front, the body moves right. */
  end(): void {
    const start = this.#starts.pop()!;
    const n = this.#pos - start;
    let size = 1;
    for (let v = n; v > 0x7f; v = Math.floor(v / 128)) size++;
    this.#room(size);
    this.#buf.copyWithin(start + size, start, this.#pos);
    let v = n;
    let p = start;
    while (v > 0x7f) {
      this.#buf[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.#buf[p] = v;
    this.#pos += size;
  }

  /** Drops everything from `pos` on, the messages opened there included (a family that failed midway). */
  truncate(pos: number): void {
    this.#pos = pos;
    while (this.#starts.length > 0 && this.#starts[this.#starts.length - 1]! >= pos) this.#starts.pop();
  }

  finish(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
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
