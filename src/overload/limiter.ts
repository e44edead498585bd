import type { LimitAlgorithm } from './limits.js';

/** A group of requests with a guaranteed share of the limit. */
export interface PartitionSpec {
  readonly name: string;
  /** Fraction of the limit this partition may always use, 0 < share <= 1. */
  readonly share: number;
}

/** One partition's state. */
export class Partition {
  inflight = 0;
  /** Its guaranteed slots: `ceil(limit * share)`, at least 1. */
  limit = 1;
  constructor(
    readonly name: string,
    readonly share: number,
  ) {}
}

export interface LimiterOptions {
  readonly algorithm: LimitAlgorithm;
  /** Partitions with guaranteed shares. Default: none (one limit for every request). */
  readonly partitions?: readonly PartitionSpec[];
  /** A window closes once it is this old and holds `windowSamples`. Default `100` ms. */
  readonly windowMs?: number;
  /** Samples a window needs before it closes at `windowMs`. Default `10`. */
  readonly windowSamples?: number;
  /** A window with at least one sample closes at this age whatever its count. Default `1000` ms. */
  readonly maxWindowMs?: number;
}

/**
 * Admits or sheds requests against a concurrency limit and feeds the limit algorithm one
 * aggregate per window. It reads no clock: each sample carries its start time and duration,
 * the measurement the request lifecycle already made, so tests drive time by hand.
 *
 * Partitions work as Netflix's partitioned limiter: a request is shed only when the whole
 * limit is in use AND its partition uses its guaranteed share, so a partition below its
 * share is admitted even when the others filled the limit.
 */
export class Limiter {
  /** Requests admitted and not yet released. */
  inflight = 0;
  /** Requests admitted since creation. */
  admitted = 0;
  /** Requests shed since creation. */
  shed = 0;
  /** Sampling windows closed (each one an update of the limit) since creation. */
  windows = 0;
  readonly partitions: readonly Partition[];
  readonly #algorithm: LimitAlgorithm;
  #limit: number;
  readonly #windowMs: number;
  readonly #windowSamples: number;
  readonly #maxWindowMs: number;
  #windowStart = Number.NaN;
  #sum = 0;
  #count = 0;
  #maxInflight = 0;
  /** Called with the new limit each time it changes. */
  onLimit: ((limit: number) => void) | undefined = undefined;

  constructor(options: LimiterOptions) {
    this.#algorithm = options.algorithm;
    this.#limit = options.algorithm.limit;
    this.#windowMs = options.windowMs ?? 100;
    this.#windowSamples = options.windowSamples ?? 10;
    this.#maxWindowMs = options.maxWindowMs ?? 1000;
    this.partitions = (options.partitions ?? []).map((p) => new Partition(p.name, p.share));
    this.#sizePartitions();
  }

  get limit(): number {
    return this.#limit;
  }

  /**
   * Admits a request of partition `p` (an index into `partitions`, or -1 for none) and
   * returns true, or counts it shed and returns false.
   */
  tryAcquire(p: number): boolean {
    const inflight = this.inflight;
    if (inflight >= this.#limit) {
      const partition = p < 0 ? undefined : this.partitions[p];
      if (partition === undefined || partition.inflight >= partition.limit) {
        this.shed++;
        return false;
      }
    }
    this.inflight = inflight + 1;
    if (inflight + 1 > this.#maxInflight) this.#maxInflight = inflight + 1;
    if (p >= 0) this.partitions[p]!.inflight++;
    this.admitted++;
    return true;
  }

  /**
   * Releases an admitted request. `startMs` and `durationMs` are its start time and latency;
   * `sample: false` leaves it out of the measurement (a request failed fast by an open
   * breaker says nothing about how long the service takes).
   */
  release(p: number, startMs: number, durationMs: number, sample: boolean): void {
    this.inflight--;
    if (p >= 0) this.partitions[p]!.inflight--;
    if (!sample) return;
    const now = startMs + durationMs;
    if (this.#count === 0) this.#windowStart = now;
    this.#sum += durationMs;
    this.#count++;
    const age = now - this.#windowStart;
    if ((age >= this.#windowMs && this.#count >= this.#windowSamples) || age >= this.#maxWindowMs) this.#closeWindow();
  }

  #closeWindow(): void {
    const rttMs = this.#sum / this.#count;
    const maxInflight = Math.max(this.#maxInflight, this.inflight);
    this.#sum = 0;
    this.#count = 0;
    this.#maxInflight = this.inflight;
    this.windows++;
    const limit = this.#algorithm.update({ rttMs, maxInflight });
    if (limit === this.#limit) return;
    this.#limit = limit;
    this.#sizePartitions();
    this.onLimit?.(limit);
  }

  #sizePartitions(): void {
    for (const p of this.partitions) p.limit = Math.max(1, Math.ceil(this.#limit * p.share));
  }
}
