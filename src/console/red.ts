/** One label set of the request-duration histogram, as the metrics concern reads it out. */
export interface DurationSeries {
  readonly route: string;
  readonly status: string;
  readonly count: number;
  /** Per-bucket (not cumulative) counts; the last is +Inf's. */
  readonly counts: ArrayLike<number>;
}

/** What the console is handed to read RED from: the metrics concern's own histogram, read, never re-recorded. */
export interface RedSource {
  /** Upper bounds of the duration buckets, in seconds, without +Inf. */
  readonly bounds: ArrayLike<number>;
  series(): Iterable<DurationSeries>;
}

/** One point of a route: one sampling interval. */
export interface RedPoint {
  /** Epoch ms at the end of the interval. */
  readonly t: number;
  /** Requests per second over the interval. */
  readonly rate: number;
  /** Requests answered 5xx in the interval. */
  readonly errors: number;
  readonly requests: number;
  /** Seconds (histogram estimates, as Prometheus' histogram_quantile); null without requests. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

export interface RouteRed {
  readonly route: string;
  /** Since the process started. */
  readonly requests: number;
  readonly errors: number;
  readonly points: readonly RedPoint[];
}

interface RouteState {
  requests: number;
  errors: number;
  counts: Float64Array;
  /** Totals at the last sample. */
  lastRequests: number;
  lastErrors: number;
  lastCounts: Float64Array;
  points: RedPoint[];
}

/**
 * The quantile `q` of a histogram of per-bucket counts, interpolated linearly inside the
 * bucket as Prometheus' `histogram_quantile` does; the +Inf bucket answers its lower bound.
 */
export function quantile(q: number, bounds: ArrayLike<number>, counts: ArrayLike<number>): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return null;
  const rank = q * total;
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (acc + c >= rank && c > 0) {
      if (i >= bounds.length) return bounds.length === 0 ? null : bounds[bounds.length - 1]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      return lower + (upper - lower) * ((rank - acc) / c);
    }
    acc += c;
  }
  return bounds.length === 0 ? null : bounds[bounds.length - 1]!;
}

/**
 * RED per route template from the request-duration histogram: every `sample(now)` sums its
 * label sets per route and keeps, per route, the difference since the last sample as one
 * point (at most `maxPoints`, oldest dropped), for at most `maxRoutes` routes.
 */
export class RedSampler {
  readonly #source: RedSource;
  readonly #maxPoints: number;
  readonly #maxRoutes: number;
  readonly #routes = new Map<string, RouteState>();
  #last: number | undefined;
  /** Routes seen past `maxRoutes`, not kept. */
  routesDropped = 0;
  readonly #dropped = new Set<string>();

  constructor(source: RedSource, options: { maxPoints: number; maxRoutes: number }) {
    this.#source = source;
    this.#maxPoints = options.maxPoints;
    this.#maxRoutes = options.maxRoutes;
  }

  /** Reads the totals per route now (no point is added). */
  #read(): void {
    const n = this.#source.bounds.length + 1;
    for (const r of this.#routes.values()) {
      r.requests = 0;
      r.errors = 0;
      r.counts.fill(0);
    }
    for (const s of this.#source.series()) {
      let r = this.#routes.get(s.route);
      if (r === undefined) {
        if (this.#routes.size >= this.#maxRoutes) {
          if (!this.#dropped.has(s.route) && this.#dropped.size < 10_000) {
            this.#dropped.add(s.route);
            this.routesDropped++;
          }
          continue;
        }
        r = { requests: 0, errors: 0, counts: new Float64Array(n), lastRequests: 0, lastErrors: 0, lastCounts: new Float64Array(n), points: [] };
        this.#routes.set(s.route, r);
      }
      r.requests += s.count;
      if (s.status.charCodeAt(0) === 53 /* 5 */ && s.status.length === 3) r.errors += s.count;
      for (let i = 0; i < n && i < s.counts.length; i++) r.counts[i]! += s.counts[i]!;
    }
  }

  /** Adds one point per route: what happened since the last sample. */
  sample(now: number): void {
    this.#read();
    const seconds = this.#last === undefined ? 0 : (now - this.#last) / 1000;
    this.#last = now;
    const bounds = this.#source.bounds;
    const delta = new Float64Array(bounds.length + 1);
    for (const r of this.#routes.values()) {
      const requests = r.requests - r.lastRequests;
      for (let i = 0; i < delta.length; i++) delta[i] = r.counts[i]! - r.lastCounts[i]!;
      r.points.push({
        t: now,
        rate: seconds > 0 ? requests / seconds : 0,
        errors: r.errors - r.lastErrors,
        requests,
        p50: quantile(0.5, bounds, delta),
        p95: quantile(0.95, bounds, delta),
        p99: quantile(0.99, bounds, delta),
      });
      if (r.points.length > this.#maxPoints) r.points.shift();
      r.lastRequests = r.requests;
      r.lastErrors = r.errors;
      r.lastCounts.set(r.counts);
    }
  }

  /** Every route with its totals (read now) and its points. */
  routes(): RouteRed[] {
    this.#read();
    const out: RouteRed[] = [];
    for (const [route, r] of this.#routes) out.push({ route, requests: r.requests, errors: r.errors, points: r.points.slice() });
    return out.sort((a, b) => b.requests - a.requests);
  }

  /** Routes kept, read now (a route first seen since the last sample counts). */
  routesHeld(): number {
    this.#read();
    return this.#routes.size;
  }

  /** The most points any route holds (the tests check the bound). */
  get maxPointsHeld(): number {
    let m = 0;
    for (const r of this.#routes.values()) m = Math.max(m, r.points.length);
    return m;
  }
}
