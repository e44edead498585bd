/**
 * A quantile sketch with bounded memory and a guaranteed relative error (the DDSketch idea):
 * a value v > 0 falls in bucket i = ceil(log_γ v) with γ = (1 + α) / (1 − α), and bucket i
 * reports 2γ^i / (γ + 1), which is within a factor α of every value in the bucket. So a
 * reported percentile is within α (1%) of the exact nearest-rank percentile. Counts live in a
 * Map keyed by bucket: values from 1 µs to 10^8 ms need at most about 1,270 buckets, whatever
 * the number of values. Values at or below 1 µs share one bucket that reports 0; values above
 * 10^8 ms are clamped to it (the bound does not hold for them).
 */
export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);
/** Smallest value (ms) told apart from zero. */
const MIN_VALUE = 1e-3;
/** Largest value (ms) with the accuracy guarantee. */
const MAX_VALUE = 1e8;
const MAX_INDEX = Math.ceil(Math.log(MAX_VALUE) / LN_GAMMA);
const ZERO_BUCKET = Number.NEGATIVE_INFINITY;

export class QuantileSketch {
  readonly #buckets = new Map<number, number>();
  #count = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  get count(): number {
    return this.#count;
  }

  /** Buckets in use: the memory held, whatever the count. */
  get buckets(): number {
    return this.#buckets.size;
  }

  add(value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    const index = value <= MIN_VALUE ? ZERO_BUCKET : Math.min(MAX_INDEX, Math.ceil(Math.log(value) / LN_GAMMA));
    this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + 1);
    this.#count++;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  /** The nearest-rank q-quantile (0 < q ≤ 1) within the relative accuracy, or undefined when empty. */
  quantile(q: number): number | undefined {
    if (this.#count === 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    const indexes = [...this.#buckets.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const i of indexes) {
      seen += this.#buckets.get(i)!;
      if (seen >= rank) {
        const estimate = i === ZERO_BUCKET ? 0 : (2 * GAMMA ** i) / (GAMMA + 1);
        // The exact extremes are known: never report outside them.
        return Math.min(this.#max, Math.max(this.#min, estimate));
      }
    }
    return this.#max;
  }
}
