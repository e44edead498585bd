/** Totals of a window at one instant; one object per breaker, refilled in place. */
export interface WindowTotals {
  calls: number;
  failures: number;
  slowCalls: number;
}

/** A fixed-size record of recent call outcomes. Allocates nothing after construction. */
export interface SlidingWindow {
  record(now: number, failed: boolean, slow: boolean): void;
  /** Fills `out` with the totals as of `now` and returns it. */
  totals(now: number, out: WindowTotals): WindowTotals;
  reset(): void;
  /** Slots held (fixed at construction); the memory test reads it. */
  readonly slots: number;
}

const FAILED = 1;
const SLOW = 2;

/** The last `size` outcomes in a ring of bytes, with running totals: O(1) per call. */
export class CountWindow implements SlidingWindow {
  readonly #outcomes: Uint8Array;
  #next = 0;
  #filled = 0;
  #failures = 0;
  #slow = 0;

  constructor(size: number) {
    this.#outcomes = new Uint8Array(size);
  }

  get slots(): number {
    return this.#outcomes.length;
  }

  record(_now: number, failed: boolean, slow: boolean): void {
    const outcomes = this.#outcomes;
    const i = this.#next;
    if (this.#filled === outcomes.length) {
      const old = outcomes[i]!;
      this.#failures -= old & FAILED;
      this.#slow -= (old & SLOW) >> 1;
    } else {
      this.#filled++;
    }
    const bits = (failed ? FAILED : 0) | (slow ? SLOW : 0);
    outcomes[i] = bits;
    this.#failures += bits & FAILED;
    this.#slow += (bits & SLOW) >> 1;
    this.#next = i + 1 === outcomes.length ? 0 : i + 1;
  }

  totals(_now: number, out: WindowTotals): WindowTotals {
    out.calls = this.#filled;
    out.failures = this.#failures;
    out.slowCalls = this.#slow;
    return out;
  }

  reset(): void {
    this.#outcomes.fill(0);
    this.#next = 0;
    this.#filled = 0;
    this.#failures = 0;
    this.#slow = 0;
  }
}

/**
 * The outcomes of the last `ms` milliseconds in `buckets` slices. A slice is keyed by its
 * epoch (time / slice length) and cleared lazily when the ring comes round to it again,
 * so no timer ever runs and an idle breaker costs nothing.
 */
export class TimeWindow implements SlidingWindow {
  readonly #sliceMs: number;
  readonly #epochs: Float64Array;
  readonly #calls: Float64Array;
  readonly #failures: Float64Array;
  readonly #slow: Float64Array;

  constructor(ms: number, buckets: number) {
    this.#sliceMs = ms / buckets;
    this.#epochs = new Float64Array(buckets).fill(-1);
    this.#calls = new Float64Array(buckets);
    this.#failures = new Float64Array(buckets);
    this.#slow = new Float64Array(buckets);
  }

  get slots(): number {
    return this.#epochs.length;
  }

  record(now: number, failed: boolean, slow: boolean): void {
    const epoch = Math.floor(now / this.#sliceMs);
    const i = epoch % this.#epochs.length;
    if (this.#epochs[i] !== epoch) {
      this.#epochs[i] = epoch;
      this.#calls[i] = 0;
      this.#failures[i] = 0;
      this.#slow[i] = 0;
    }
    this.#calls[i]!++;
    if (failed) this.#failures[i]!++;
    if (slow) this.#slow[i]!++;
  }

  totals(now: number, out: WindowTotals): WindowTotals {
    const epoch = Math.floor(now / this.#sliceMs);
    const oldest = epoch - this.#epochs.length;
    let calls = 0;
    let failures = 0;
    let slow = 0;
    for (let i = 0; i < this.#epochs.length; i++) {
      const e = this.#epochs[i]!;
      if (e > oldest && e <= epoch) {
        calls += this.#calls[i]!;
        failures += this.#failures[i]!;
        slow += this.#slow[i]!;
      }
    }
    out.calls = calls;
    out.failures = failures;
    out.slowCalls = slow;
    return out;
  }

  reset(): void {
    this.#epochs.fill(-1);
  }
}
