import { fromWire } from '../core/snapshot.js';
import type { FamilySnapshot, RegistrySnapshot } from '../core/snapshot.js';

/**
 * Most values a family sends in one array; more go as several arrays (`parts`). An array of
 * numbers past 128 KB is a large object to V8, which only a full collection frees: the primary
 * parsed 8 workers' ~30,000-value histograms into them at every scrape, and its heap grew by
 * several MB a scrape until one ran.
 */
export const PART_VALUES = 8192;

/**
 * One family as a worker sends it. `labels` is left out when it is the same as in the
 * worker's previous `values` message for that family (series rarely change between scrapes):
 * the primary keeps the last one, so it neither receives nor parses again what it already holds.
 * The values come flat (`values`) or, above {@link PART_VALUES}, as `parts` in order.
 */
export interface WireFamily {
  readonly name: string;
  readonly help: string;
  readonly type: FamilySnapshot['type'];
  readonly le?: readonly string[];
  readonly quantiles?: readonly string[];
  readonly labels?: readonly string[];
  readonly values?: readonly (number | string)[];
  readonly parts?: readonly (readonly (number | string)[])[];
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The worker side: remembers the label lists it sent, to leave them out when unchanged. */
export class SnapshotEncoder {
  #sent = new Map<string, readonly string[]>();

  /** `snapshot` as the next `values` message carries it; call once per message, in send order. */
  encode(snapshot: RegistrySnapshot): WireFamily[] {
    const sent = new Map<string, readonly string[]>();
    const out: WireFamily[] = [];
    for (const f of snapshot) {
      const before = this.#sent.get(f.name);
      const same = before !== undefined && sameStrings(before, f.labels);
      // The list kept is the one sent first: its strings stay put in the old generation.
      sent.set(f.name, same ? before : f.labels);
      const head = { name: f.name, help: f.help, type: f.type, ...(f.le === undefined ? {} : { le: f.le }), ...(f.quantiles === undefined ? {} : { quantiles: f.quantiles }) };
      const labels = same ? {} : { labels: f.labels };
      const values = Array.isArray(f.values) ? (f.values as readonly (number | string)[]) : Array.from(f.values);
      if (values.length <= PART_VALUES) {
        out.push({ ...head, ...labels, values });
        continue;
      }
      const parts: (number | string)[][] = [];
      for (let i = 0; i < values.length; i += PART_VALUES) parts.push(values.slice(i, i + PART_VALUES));
      out.push({ ...head, ...labels, parts });
    }
    // A family gone from the registry is forgotten: if it comes back, its labels are sent again.
    this.#sent = sent;
    return out;
  }
}

/**
 * The primary side, one per worker: turns each `values` message back into a snapshot, with the
 * label lists of earlier messages where they were left out, and the values of a family sent in
 * parts in one Float64Array (its memory outside V8's heap, freed as soon as it is dropped).
 * Every `values` message of the worker goes through it in order, a late or stale one included.
 */
export class SnapshotDecoder {
  #labels = new Map<string, readonly string[]>();

  /**
   * The snapshot, or undefined (and the decoder reset) if the message is malformed. `take`
   * gives the Float64Array of `n` values for a family sent in parts (a fresh one by default).
   */
  decode(families: unknown, take: (n: number) => Float64Array = (n) => new Float64Array(n)): RegistrySnapshot | undefined {
    if (!Array.isArray(families)) return undefined;
    const labelsNow = new Map<string, readonly string[]>();
    const out: FamilySnapshot[] = [];
    for (const f of families as WireFamily[]) {
      const labels = f.labels ?? this.#labels.get(f.name);
      if (labels === undefined || typeof f.name !== 'string') return this.#reset();
      labelsNow.set(f.name, labels);
      let values: FamilySnapshot['values'];
      if (f.values !== undefined) values = f.values;
      else if (Array.isArray(f.parts)) {
        let n = 0;
        for (const p of f.parts) n += p.length;
        const flat = take(n);
        let at = 0;
        for (const p of f.parts) for (let i = 0; i < p.length; i++) flat[at++] = fromWire(p[i]);
        values = flat;
      } else return this.#reset();
      out.push({
        name: f.name,
        help: f.help,
        type: f.type,
        ...(f.le === undefined ? {} : { le: f.le }),
        ...(f.quantiles === undefined ? {} : { quantiles: f.quantiles }),
        labels,
        values,
      });
    }
    this.#labels = labelsNow;
    return out;
  }

  #reset(): undefined {
    this.#labels = new Map();
    return undefined;
  }
}
