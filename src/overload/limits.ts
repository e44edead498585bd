// Concurrency-limit algorithms, after Netflix's concurrency-limits (Gradient2Limit, AIMDLimit,
// FixedLimit). Pure: no clock, no timers. Each is fed one aggregate per sampling window (the
// limiter in limiter.ts makes the windows from the times it is handed) and returns the new limit.

/** One sampling window's measurements, as a limit algorithm is fed them. */
export interface WindowSample {
  /** Average latency of the window's requests, in milliseconds. */
  readonly rttMs: number;
  /** The most requests in flight at once during the window. */
  readonly maxInflight: number;
}

/** A concurrency-limit algorithm. */
export interface LimitAlgorithm {
  /** The current limit (a whole number, within the algorithm's bounds). */
  readonly limit: number;
  /** Takes one window's sample; returns the new limit. */
  update(sample: WindowSample): number;
}

/** Bounds every adaptive algorithm keeps its limit within. */
export interface LimitBounds {
  /** Lowest limit. */
  readonly minLimit: number;
  /** Highest limit. */
  readonly maxLimit: number;
  /** The limit before the first sample. Clamped to the bounds. */
  readonly initialLimit: number;
}

function clamp(n: number, min: number, max: number): number {
  return n < min ? min : n > max ? max : n;
}

/** A limit that never moves. */
export class FixedLimit implements LimitAlgorithm {
  constructor(readonly limit: number) {}
  update(): number {
    return this.limit;
  }
}

/**
 * An exponential moving average over `window` samples, its first `warmup` samples a plain
 * average (Netflix's ExpAvgMeasurement), so the first few windows set the baseline rather
 * than the initial zero.
 */
class ExpAverage {
  value = 0;
  #count = 0;
  readonly #factor: number;
  constructor(
    window: number,
    readonly warmup: number,
  ) {
    this.#factor = 2 / (window + 1);
  }
  add(sample: number): number {
    if (this.#count < this.warmup) {
      this.#count++;
      this.value += (sample - this.value) / this.#count;
    } else {
      this.value = this.value * (1 - this.#factor) + sample * this.#factor;
    }
    return this.value;
  }
}

export interface Gradient2Options extends LimitBounds {
  /**
   * Weight of the new estimate in each update, 0 < smoothing <= 1. Default `0.2` (Netflix's):
   * a limit falls by at most 10% a window, so one slow window cannot halve it.
   */
  readonly smoothing?: number;
  /**
   * How much the short-term latency may exceed the long-term one before the limit falls.
   * Default `1.5` (Netflix's): latency 50% over its long-run average is queueing, not noise.
   */
  readonly rttTolerance?: number;
  /**
   * Windows the long-term average spans. Default `6000`: ten minutes of 100 ms windows, the
   * span of Netflix's default (600 windows of a second), so a sustained overload teaches the
   * baseline slowly that slow is normal.
   */
  readonly longWindow?: number;
  /** Requests allowed to queue on top of the limit the gradient gives. Default `4` (Netflix's). */
  readonly queueSize?: number;
}

/**
 * Gradient2 (Netflix concurrency-limits): the ratio of the long-term average latency to the
 * short-term one is the gradient. Latency rising above its long-run level (queueing) gives a
 * gradient below 1 and shrinks the limit; at or below it the limit grows by the queue
 * allowance. The gradient is floored at 0.5 so one outlier cannot halve the limit, and each
 * step is smoothed.
 *
 * One deliberate difference from Netflix's code: when the service is app-limited (fewer than
 * half the limit in flight) Netflix leaves the limit alone in both directions; here it may
 * still fall, only not grow. Otherwise a limit that starts high, or stays high after a quiet
 * spell, would never come down once the requests in flight rise with latency.
 */
export class Gradient2Limit implements LimitAlgorithm {
  #limit: number;
  readonly #min: number;
  readonly #max: number;
  readonly #smoothing: number;
  readonly #tolerance: number;
  readonly #queue: number;
  readonly #long: ExpAverage;

  constructor(options: Gradient2Options) {
    this.#min = options.minLimit;
    this.#max = options.maxLimit;
    this.#limit = clamp(options.initialLimit, this.#min, this.#max);
    this.#smoothing = options.smoothing ?? 0.2;
    this.#tolerance = options.rttTolerance ?? 1.5;
    this.#queue = options.queueSize ?? 4;
    this.#long = new ExpAverage(options.longWindow ?? 6000, 10);
  }

  get limit(): number {
    return Math.floor(this.#limit);
  }

  /** The long-term average latency, in milliseconds (for tests and diagnostics). */
  get longRttMs(): number {
    return this.#long.value;
  }

  update(sample: WindowSample): number {
    const short = sample.rttMs;
    if (!(short > 0)) return this.limit;
    const long = this.#long.add(short);
    // Latency back to normal after a long overload: bring the long-term average down faster
    // than the moving average would, so the limit can grow again (Netflix does the same).
    if (long / short > 2) this.#long.value = long * 0.95;
    const gradient = clamp((this.#tolerance * long) / short, 0.5, 1);
    const estimate = this.#limit * gradient + this.#queue;
    let next = this.#limit * (1 - this.#smoothing) + estimate * this.#smoothing;
    // App-limited: too few in flight to tell whether a higher limit would queue.
    if (next > this.#limit && sample.maxInflight < this.#limit / 2) next = this.#limit;
    this.#limit = clamp(next, this.#min, this.#max);
    return this.limit;
  }
}

export interface AimdOptions extends LimitBounds {
  /** Factor the limit is multiplied by on congestion, 0.5 <= ratio < 1. Default `0.9` (Netflix's). */
  readonly backoffRatio?: number;
  /** A window whose latency exceeds this multiple of the long-term average is congestion. Default `2`. */
  readonly rttTolerance?: number;
  /** Windows the long-term average spans. Default `6000` (ten minutes of 100 ms windows). */
  readonly longWindow?: number;
}

/**
 * AIMD, as TCP's congestion avoidance: the limit grows by one each window in which the
 * service used at least half of it, and is multiplied by `backoffRatio` on congestion.
 * Netflix's AIMDLimit takes congestion from dropped requests or a fixed timeout; here it is a
 * window whose latency exceeds `rttTolerance` times the long-term average, so no latency
 * threshold has to be configured. The long-term average only learns from windows without
 * congestion, so a long overload does not teach it that slow is normal.
 */
export class AimdLimit implements LimitAlgorithm {
  #limit: number;
  readonly #min: number;
  readonly #max: number;
  readonly #backoff: number;
  readonly #tolerance: number;
  readonly #long: ExpAverage;

  constructor(options: AimdOptions) {
    this.#min = options.minLimit;
    this.#max = options.maxLimit;
    this.#limit = clamp(Math.floor(options.initialLimit), this.#min, this.#max);
    this.#backoff = options.backoffRatio ?? 0.9;
    this.#tolerance = options.rttTolerance ?? 2;
    this.#long = new ExpAverage(options.longWindow ?? 6000, 10);
  }

  get limit(): number {
    return this.#limit;
  }

  update(sample: WindowSample): number {
    const rtt = sample.rttMs;
    if (!(rtt > 0)) return this.#limit;
    const long = this.#long.value;
    if (long > 0 && rtt > this.#tolerance * long) {
      this.#limit = Math.max(this.#min, Math.floor(this.#limit * this.#backoff));
      return this.#limit;
    }
    this.#long.add(rtt);
    if (sample.maxInflight * 2 >= this.#limit) this.#limit = Math.min(this.#max, this.#limit + 1);
    return this.#limit;
  }
}
