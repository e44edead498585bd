/**
 * A registry's values in a compact form that a cluster worker sends to its primary over IPC
 * (JSON): one row per label set, the label text escaped once by the worker. The metrics concern
 * makes it (`snapshotRegistry`); the cluster concern merges it. Defined here, in the core, so
 * neither imports the other.
 *
 * Rows, by type:
 * - counter, gauge, untyped: `[labelText, value]`;
 * - histogram: `[labelText, ...cumulative bucket counts (one per `le`), sum, count]`;
 * - summary: `[labelText, ...quantile values (one per `quantiles`), sum, count]`.
 *
 * `labelText` is `a="x",b="y"` (or '' for none). Values are numbers; JSON has no NaN or
 * Infinity, so those travel as the strings 'NaN', '+Inf', '-Inf'.
 */
export interface FamilySnapshot {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  /** Histogram bucket bounds, as written in `le` ('+Inf' last). */
  readonly le?: readonly string[];
  /** Summary quantiles, as written in `quantile`. */
  readonly quantiles?: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
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
