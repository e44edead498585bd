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
for (let s = 1; s <= 8; s++) {
  const n = 2 ** s;
  const b = new Float64Array(n + 1);
  for (let j = 0; j <= n; j++) b[j] = 2 ** (j / n);
  b[n] = 2;
  BOUNDS[s] = b;
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
    const bounds = BOUNDS[schema]!;
    let j = 0;
    while (m > bounds[j]!) j++;
    return exp * 2 ** schema + j;
  }
  // ceil(log2 v), then ceil of it over 2^-schema.
  const whole = m > 1 ? exp + 1 : exp;
  return schema === 0 ? whole : Math.ceil(whole / 2 ** -schema);
}

export class NativeBuckets {
  schema: number;
  zeroCount = 0;
  /** Counts of buckets `offset`, `offset + 1`, ...: dense, grown at either end. */
  counts: number[] = [];
  offset = 0;
  readonly #zeroThreshold: number;
  readonly #maxBuckets: number;

  constructor(schema = DEFAULT_SCHEMA, maxBuckets = DEFAULT_MAX_BUCKETS, zeroThreshold = DEFAULT_ZERO_THRESHOLD) {
    this.schema = schema;
    this.#maxBuckets = maxBuckets;
    this.#zeroThreshold = zeroThreshold;
  }

  get zeroThreshold(): number {
    return this.#zeroThreshold;
  }

  observe(v: number): void {
    if (!(v > this.#zeroThreshold)) {
      // Durations and sizes are never negative; NaN is not counted anywhere else either.
      if (v >= 0) this.zeroCount++;
      return;
    }
    if (v === Infinity) return;
    const i = bucketIndexOf(v, this.schema);
    const counts = this.counts;
    if (counts.length === 0) {
      this.offset = i;
      counts.push(1);
      return;
    }
    const k = i - this.offset;
    if (k >= 0 && k < counts.length) {
      counts[k]!++;
      return;
    }
    this.#grow(i);
  }

  /** A value outside the dense window: widen it, and halve the resolution while it spans too many buckets. */
  #grow(i: number): void {
    const counts = this.counts;
    if (i < this.offset) {
      const extra = this.offset - i;
      counts.unshift(...new Array<number>(extra).fill(0));
      this.offset = i;
    } else {
      while (counts.length <= i - this.offset) counts.push(0);
    }
    counts[i - this.offset]!++;
    while (this.counts.length > this.#maxBuckets && this.schema > -4) this.#halve();
  }

  /** schema - 1: bucket i of the old schema is bucket ceil(i / 2) of the new one. */
  #halve(): void {
    const first = Math.ceil(this.offset / 2);
    const last = Math.ceil((this.offset + this.counts.length - 1) / 2);
    const merged = new Array<number>(last - first + 1).fill(0);
    for (let k = 0; k < this.counts.length; k++) merged[Math.ceil((this.offset + k) / 2) - first]! += this.counts[k]!;
    this.counts = merged;
    this.offset = first;
    this.schema--;
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
    for (let k = 0; k < this.counts.length; k++) {
      const c = this.counts[k]!;
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
