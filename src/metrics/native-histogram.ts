/**
 * Prometheus native (sparse, exponential) histogram buckets for one series, as client_golang
 * keeps them: bucket `i` of schema `s` holds the values in (2^((i-1)/2^s), 2^(i/2^s)]; values at
 * or below the zero threshold go to the zero bucket. Past `maxBuckets` buckets spanned, the
 * resolution is halved (schema - 1, neighbouring buckets merged), as client_golang does.
 */

/** client_golang's default zero threshold (2^-128): only a true zero lands in the zero bucket. */
export const DEFAULT_ZERO_THRESHOLD = 2 ** -128;
/** Schema 3: a growth factor of 2^(1/8) ≈ 1.09, the largest at or below client_golang's default factor of 1.1. */
export const DEFAULT_SCHEMA = 3;
export const DEFAULT_MAX_BUCKETS = 160;

// The exponent and mantissa of a double, read through its bits (client_golang uses frexp):
// no Math.log2 on the recording path.
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** The upper bounds, within one power of two, of the buckets of each positive schema: 2^(j/2^s), j = 0..2^s. */
const BOUNDS: Float64Array[] = [];
/**
 * Per positive schema, the first bucket `j` whose bound is at or above the low end of each of
 * 1024 equal slices of [1, 2), looked up by the mantissa's top 10 bits. Bounds are at least
 * 2^(1/256) - 1 = 0.27% apart and a slice is 0.098% wide, so a slice holds at most one bound and
 * one comparison settles the bucket: measured 8 ns against 12 ns for a scan of schema 3's 9 bounds.
 */
const SLICE_BITS = 10;
const SLICE_MASK = (1 << SLICE_BITS) - 1;
const FIRST: Uint16Array[] = [];
for (let s = 1; s <= 8; s++) {
  const n = 2 ** s;
  const b = new Float64Array(n + 1);
  for (let j = 0; j <= n; j++) b[j] = 2 ** (j / n);
  b[n] = 2;
  BOUNDS[s] = b;
  const first = new Uint16Array(1 << SLICE_BITS);
  for (let k = 0; k < first.length; k++) {
    const low = 1 + k / first.length;
    let j = 0;
    while (low > b[j]!) j++;
    first[k] = j;
  }
  FIRST[s] = first;
}

/** The bucket index of `v` (> 0, finite) at `schema` (-4 to 8). */
export function bucketIndexOf(v: number, schema: number): number {
  f64[0] = v;
  const hi = u32[HI]!;
  const exp = ((hi >>> 20) & 0x7ff) - 1023;
  // The mantissa in [1, 2): the same bits with the exponent of 1.
  u32[HI] = (hi & 0x800fffff) | 0x3ff00000;
  const m = f64[0]!;
  if (schema > 0) {
    let j = FIRST[schema]![(hi >>> (20 - SLICE_BITS)) & SLICE_MASK]!;
    if (m > BOUNDS[schema]![j]!) j++;
    return exp * (1 << schema) + j;
  }
  // ceil(log2 v), then ceil of it over 2^-schema.
  const whole = m > 1 ? exp + 1 : exp;
  return schema === 0 ? whole : Math.ceil(whole / 2 ** -schema);
}

export class NativeBuckets {
  schema: number;
  zeroCount = 0;
  /** Index of the bucket `counts[0]` counts. */
  offset = 0;
  /** Buckets in use from `offset` on; `#buf` has room for more, so growing rarely reallocates. */
  #size = 0;
  #buf = new Float64Array(16);
  /** The current schema's tables (positive schemas) and buckets per power of two, read once per observation. */
  #first: Uint16Array | undefined;
  #bounds: Float64Array | undefined;
  #perOctave = 0;
  readonly #zeroThreshold: number;
  readonly #maxBuckets: number;

  constructor(schema = DEFAULT_SCHEMA, maxBuckets = DEFAULT_MAX_BUCKETS, zeroThreshold = DEFAULT_ZERO_THRESHOLD) {
    this.schema = schema;
    this.#maxBuckets = maxBuckets;
    this.#zeroThreshold = zeroThreshold;
    this.#tables();
  }

  #tables(): void {
    const s = this.schema;
    this.#first = s > 0 ? FIRST[s] : undefined;
    this.#bounds = s > 0 ? BOUNDS[s] : undefined;
    this.#perOctave = s > 0 ? 1 << s : 0;
  }

  get zeroThreshold(): number {
    return this.#zeroThreshold;
  }

  /** Counts of buckets `offset`, `offset + 1`, ... (a view: copy it to keep it). */
  get counts(): Float64Array {
    return this.#buf.subarray(0, this.#size);
  }

  observe(v: number): void {
    if (!(v > this.#zeroThreshold)) {
      // Durations and sizes are never negative; NaN is not counted anywhere else either.
      if (v >= 0) this.zeroCount++;
      return;
    }
    if (v === Infinity) return;
    let i: number;
    const first = this.#first;
    if (first !== undefined) {
      // bucketIndexOf, with the schema's tables held by this histogram (the hot path's one case).
      f64[0] = v;
      const hi = u32[HI]!;
      u32[HI] = (hi & 0x800fffff) | 0x3ff00000;
      let j = first[(hi >>> (20 - SLICE_BITS)) & SLICE_MASK]!;
      if (f64[0]! > this.#bounds![j]!) j++;
      i = (((hi >>> 20) & 0x7ff) - 1023) * this.#perOctave + j;
    } else i = bucketIndexOf(v, this.schema);
    const k = i - this.offset;
    if (k >= 0 && k < this.#size) {
      this.#buf[k]!++;
      return;
    }
    this.#grow(i);
  }

  /** A value outside the dense window: widen it, and halve the resolution while it spans too many buckets. */
  #grow(i: number): void {
    if (this.#size === 0) {
      this.offset = i;
      this.#size = 1;
      this.#buf[0] = 1;
      return;
    }
    const low = Math.min(i, this.offset);
    const size = Math.max(i, this.offset + this.#size - 1) - low + 1;
    if (low < this.offset || size > this.#buf.length) {
      const next = new Float64Array(Math.max(size, this.#buf.length * (size > this.#buf.length ? 2 : 1)));
      next.set(this.#buf.subarray(0, this.#size), this.offset - low);
      this.#buf = next;
      this.offset = low;
    }
    this.#size = size;
    this.#buf[i - this.offset]!++;
    while (this.#size > this.#maxBuckets && this.schema > -4) this.#halve();
  }

  /** schema - 1: bucket i of the old schema is bucket ceil(i / 2) of the new one. */
  #halve(): void {
    const first = Math.ceil(this.offset / 2);
    const last = Math.ceil((this.offset + this.#size - 1) / 2);
    const merged = new Float64Array(this.#buf.length);
    for (let k = 0; k < this.#size; k++) merged[Math.ceil((this.offset + k) / 2) - first]! += this.#buf[k]!;
    this.#buf = merged;
    this.#size = last - first + 1;
    this.offset = first;
    this.schema--;
    this.#tables();
  }

  /**
   * The positive buckets as Prometheus sends them: spans of consecutive populated buckets
   * (`offset` is the gap from the previous span's end, or the first index) and the count deltas.
   */
  spans(): { spans: { offset: number; length: number }[]; deltas: number[] } {
    const spans: { offset: number; length: number }[] = [];
    const deltas: number[] = [];
    let previous = 0;
    let end = 0; // Index after the last span.
    let open: { offset: number; length: number } | undefined;
    for (let k = 0; k < this.#size; k++) {
      const c = this.#buf[k]!;
      const index = this.offset + k;
      if (c === 0) {
        open = undefined;
        continue;
      }
      if (open === undefined) {
        open = { offset: spans.length === 0 ? index : index - end, length: 0 };
        spans.push(open);
      }
      open.length++;
      end = index + 1;
      deltas.push(c - previous);
      previous = c;
    }
    return { spans, deltas };
  }
}
