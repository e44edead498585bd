import { describe, expect, it } from 'vitest';
import { bucketIndexOf, NativeBuckets } from '../../src/metrics/native-histogram.js';

/** The definition: the smallest i with v <= 2^(i / 2^schema). */
function reference(v: number, schema: number): number {
  let i = Math.ceil(Math.log2(v) * 2 ** schema);
  // Correct the floating-point edge either way.
  while (v <= 2 ** ((i - 1) / 2 ** schema)) i--;
  while (v > 2 ** (i / 2 ** schema)) i++;
  return i;
}

describe('bucketIndexOf', () => {
  it('agrees with the definition for 20,000 values across 12 decades at every schema from -4 to 8', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const mismatches: string[] = [];
    for (let n = 0; n < 20_000; n++) {
      const v = 10 ** (random() * 12 - 6);
      for (let s = -4; s <= 8; s++) if (bucketIndexOf(v, s) !== reference(v, s)) mismatches.push(`${v}@${s}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('settles every bound of every positive schema, and the double just above it, as the definition does', () => {
    const above = (v: number) => {
      const b = new Float64Array([v]);
      new BigUint64Array(b.buffer)[0]! += 1n;
      return b[0]!;
    };
    const mismatches: string[] = [];
    for (let s = 1; s <= 8; s++) {
      for (let j = 0; j <= 2 ** s; j++) {
        for (const scale of [1, 2 ** -10, 2 ** 7]) {
          const bound = 2 ** (j / 2 ** s) * scale;
          for (const v of [bound, above(bound)]) if (bucketIndexOf(v, s) !== reference(v, s)) mismatches.push(`${v}@${s}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('puts a bucket boundary in the bucket it bounds (upper bounds are inclusive)', () => {
    expect(bucketIndexOf(1, 3)).toBe(0);
    expect(bucketIndexOf(2, 3)).toBe(8);
    expect(bucketIndexOf(0.5, 0)).toBe(-1);
    expect(bucketIndexOf(4, -1)).toBe(1);
    expect(bucketIndexOf(5, -1)).toBe(2);
    expect(bucketIndexOf(2 ** (3 / 8), 3)).toBe(3);
  });
});

describe('NativeBuckets', () => {
  it('counts values into buckets and zeros into the zero bucket, and lists spans with deltas', () => {
    const h = new NativeBuckets(0, 160);
    for (const v of [0, 0.75, 1, 3, 3.5, 4, 100]) h.observe(v);
    // schema 0: 0.75 -> 0, 1 -> 0, 3, 3.5, 4 -> 2, 100 -> 7
    expect(h.zeroCount).toBe(1);
    expect(h.spans()).toEqual({ spans: [{ offset: 0, length: 1 }, { offset: 1, length: 1 }, { offset: 4, length: 1 }], deltas: [2, 1, -2] });
  });

  it('halves the resolution past maxBuckets, keeping every count', () => {
    const h = new NativeBuckets(3, 10);
    const values = [0.001, 0.01, 0.1, 1, 10, 100];
    for (const v of values) h.observe(v);
    expect(h.counts.length).toBeLessThanOrEqual(10);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(values.length);
    // The spread is 17 powers of two: schema 3 would need 133 buckets, 0 needs 18, -1 needs 9.
    expect(h.schema).toBe(-1);
    for (const v of values) {
      const k = bucketIndexOf(v, h.schema) - h.offset;
      expect(h.counts[k]).toBeGreaterThan(0);
    }
  });
});
