/**
 * A registry's values in a compact form that a cluster worker sends to its primary over IPC
 * (JSON): the label text of each label set escaped once by the worker, and all values of the
 * family in one flat array of numbers. The metrics concern makes it (`snapshotRegistry`); the
 * cluster concern merges it. Defined here, in the core, so neither imports the other.
 *
 * Label set `i` owns `values[i * width]` to `values[i * width + width - 1]`, `width` being:
 * - counter, gauge, untyped: 1 (the value);
 * - histogram: one cumulative count per `le`, then sum, then count;
 * - summary: one value per `quantiles`, then sum, then count.
 *
 * One flat array of numbers, rather than an array per label set, because the primary holds every
 * worker's last snapshot: 8 workers of 2,000 label sets took about 11 MB each as arrays of boxed
 * numbers, and the garbage of replacing them at each scrape grew the primary's heap by 200 MB; a
 * flat array of numbers is 8 bytes a value. JSON has no NaN or Infinity, so those travel as the
 * strings 'NaN', '+Inf', '-Inf'.
 */
export interface FamilySnapshot {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  /** Histogram bucket bounds, as written in `le` ('+Inf' last). */
  readonly le?: readonly string[];
  /** Summary quantiles, as written in `quantile`. */
  readonly quantiles?: readonly string[];
  /** `a="x",b="y"` (or '' for none) per label set. */
  readonly labels: readonly string[];
  /** A plain array as made; the cluster primary holds a large family's in a Float64Array. */
  readonly values: ArrayLike<number | string>;
}

/** Values per label set of `f` (see {@link FamilySnapshot}). */
export function widthOf(f: Pick<FamilySnapshot, 'type' | 'le' | 'quantiles'>): number {
  if (f.type === 'histogram') return (f.le?.length ?? 0) + 2;
  if (f.type === 'summary') return (f.quantiles?.length ?? 0) + 2;
  return 1;
}

export type RegistrySnapshot = readonly FamilySnapshot[];

/** A number for JSON: NaN and the infinities become strings. */
export function wireNumber(value: number): number | string {
  if (Number.isFinite(value)) return value;
  return Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
}

/** The inverse of {@link wireNumber}; anything else is NaN. */
export function fromWire(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === '+Inf') return Infinity;
  if (value === '-Inf') return -Infinity;
  return NaN;
}
