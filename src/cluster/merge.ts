import { BufferPool } from '../core/buffer-pool.js';
import { fromWire, widthOf } from '../core/snapshot.js';
import type { FamilySnapshot, RegistrySnapshot } from '../core/snapshot.js';

/**
 * How the series of one family from several processes become one exposition.
 * - `worker`: each worker's series with `worker="<slot>"` (the primary's own without it).
 *   Counters and histograms add the retired totals of the slot's exited workers and keep the
 *   last values of a worker that did not answer in time, so they never decrease; gauges and
 *   summaries come only from workers that answered this scrape.
 * - `sum`: one series per label set, the sum over the processes that answered (in-flight
 *   requests, connections, memory).
 * - `max`: one series per label set, the maximum (info gauges, the fd limit).
 * - `primary`: the primary's own value (process start time).
 */
export type MergeKind = 'worker' | 'sum' | 'max' | 'primary';

const SUM = new Set([
  'http_requests_in_flight',
  'http_server_active_connections',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
]);
const MAX = new Set(['app_build_info', 'nodejs_version_info', 'process_max_fds']);
const PRIMARY = new Set(['process_start_time_seconds']);

/** The merge kind of a family (gauges only can be summed, maxed or taken from the primary). */
export function mergeKind(name: string, type: FamilySnapshot['type']): MergeKind {
  if (type !== 'gauge') return 'worker';
  if (SUM.has(name)) return 'sum';
  if (MAX.has(name)) return 'max';
  if (PRIMARY.has(name)) return 'primary';
  return 'worker';
}

/** One worker's contribution to a scrape. */
export interface WorkerValues {
  readonly slot: number;
  /** Its latest snapshot (this scrape's if `fresh`), or undefined if it never answered. */
  readonly snapshot: RegistrySnapshot | undefined;
  /** True when it answered this scrape in time. */
  readonly fresh: boolean;
}

/** Label sets and their values, `width` values each (see FamilySnapshot). */
interface Table {
  readonly labels: readonly string[];
  readonly values: ArrayLike<number | string>;
}

interface RetiredFamily {
  readonly type: FamilySnapshot['type'];
  readonly help: string;
  readonly le: readonly string[] | undefined;
  /** labelText -> values (counter: [value]; histogram: buckets, sum, count). */
  readonly rows: Map<string, number[]>;
}

interface Entry {
  readonly name: string;
  type: FamilySnapshot['type'];
  readonly help: string;
  le: readonly string[] | undefined;
  quantiles: readonly string[] | undefined;
  /**
   * True once a family with rows gave the shape. A family with no label set yet (a labelled
   * histogram nobody observed: its snapshot says only `+Inf`) has no buckets to compare, and
   * must not make the workers that did observe it look different.
   */
  sized: boolean;
  primary: FamilySnapshot | undefined;
  /** Per slot: the family from that worker's snapshot. */
  readonly workers: Map<number, { family: FamilySnapshot; fresh: boolean }>;
}

function isCumulative(type: FamilySnapshot['type']): boolean {
  return type === 'counter' || type === 'histogram';
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function text(v: string | number): string {
  if (typeof v === 'string') return v;
  return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/**
 * Merges the primary's registry and its workers' snapshots into one Prometheus text exposition
 * (0.0.4), and keeps the totals of exited workers per slot so that no counter ever decreases.
 * Pure: no clock, no I/O.
 */
export class ClusterMerger {
  readonly #retired = new Map<number, Map<string, RetiredFamily>>();
  readonly #warned = new Set<string>();
  readonly #warn: (code: string, message: string) => void;
  /**
   * The merged body's Buffers, reused: a piece comes back (see {@link ClusterMerger.recycle})
   * once the socket has taken it, and the next piece is written into it. Streamed with
   * backpressure, a scrape needs two or three at a time whatever the body's size; before, each
   * scrape built its 39 MB body as 64 KB strings (and their ropes), encoded again by the response,
   * and the primary's young generation grew to hold that churn.
   */
  readonly #pool = new BufferPool(PIECE_BYTES, POOL_PIECES);

  constructor(warn: (code: string, message: string) => void) {
    this.#warn = warn;
  }

  /** Slots that hold totals of exited workers. */
  retiredSlots(): number[] {
    return [...this.#retired.keys()];
  }

  /**
   * A worker of `slot` exited: its counters and histograms, as last collected, join the slot's
   * retired totals, which every later scrape adds to the slot's live worker.
   */
  retire(slot: number, snapshot: RegistrySnapshot | undefined): void {
    if (snapshot === undefined) return;
    let bySlot = this.#retired.get(slot);
    if (bySlot === undefined) {
      bySlot = new Map();
      this.#retired.set(slot, bySlot);
    }
    for (const f of snapshot) {
      // An empty family holds nothing to keep, and its `+Inf`-only shape must not reset the totals.
      if (!isCumulative(f.type) || f.labels.length === 0) continue;
      let r = bySlot.get(f.name);
      if (r === undefined || r.type !== f.type || !sameList(r.le, f.le)) {
        // A family that changed type or buckets across a deploy starts its retired totals again.
        r = { type: f.type, help: f.help, le: f.le, rows: new Map() };
        bySlot.set(f.name, r);
      }
      const width = widthOf(f);
      for (let i = 0; i < f.labels.length; i++) {
        const key = f.labels[i]!;
        const prev = r.rows.get(key);
        if (prev === undefined) {
          const own: number[] = new Array<number>(width);
          for (let j = 0; j < width; j++) own[j] = fromWire(f.values[i * width + j]);
          r.rows.set(key, own);
        } else for (let j = 0; j < width; j++) prev[j]! += fromWire(f.values[i * width + j]);
      }
    }
  }

  #once(key: string, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#warn('PERISCOPE_CLUSTER_MERGE', message);
  }

  /** The merged exposition as one string (see {@link pieces}). */
  write(primary: RegistrySnapshot, workers: readonly WorkerValues[]): string {
    const pieces = [...this.pieces(primary, workers)];
    const out = Buffer.concat(pieces).toString('utf8');
    for (const p of pieces) this.recycle(p);
    return out;
  }

  /**
   * Takes back a piece of {@link pieces} once it is no longer used (the socket took it): the
   * next pieces are written into it. A piece never given back is simply garbage.
   */
  recycle(piece: Buffer): void {
    this.#pool.give(piece);
  }

  /** Pieces kept for reuse. */
  pooledPieces(): number {
    return this.#pool.size;
  }

  /**
   * The merged exposition as UTF-8, the primary's families first, then the workers' in slot
   * order, in pieces of at most {@link PIECE_BYTES} (a longer HELP text excepted), so a response
   * can send each as it comes (8 workers of 2,000 label sets make a 39 MB body). The pieces'
   * memory is reused: a caller gives each back with {@link recycle} once it is written out, and
   * must not touch it after.
   */
  *pieces(primary: RegistrySnapshot, workers: readonly WorkerValues[]): Generator<Buffer> {
    const entries = new Map<string, Entry>();
    const entryOf = (f: { name: string; type: FamilySnapshot['type']; help: string; le?: readonly string[] | undefined; quantiles?: readonly string[] | undefined }): Entry => {
      let e = entries.get(f.name);
      if (e === undefined) {
        e = { name: f.name, type: f.type, help: f.help, le: f.le, quantiles: f.quantiles, sized: false, primary: undefined, workers: new Map() };
        entries.set(f.name, e);
      }
      return e;
    };
    /** Whether `f` may join `e`: an empty family always may (it adds no row); the first family with rows gives the shape. */
    const fits = (e: Entry, f: { type: FamilySnapshot['type']; le?: readonly string[] | undefined; quantiles?: readonly string[] | undefined; labels: readonly string[] }): boolean => {
      if (f.labels.length === 0) return e.type === f.type;
      if (!e.sized) {
        e.type = f.type;
        e.le = f.le;
        e.quantiles = f.quantiles;
        e.sized = true;
        return true;
      }
      return e.type === f.type && sameList(e.le, f.le) && sameList(e.quantiles, f.quantiles);
    };
    for (const f of primary) {
      const e = entryOf(f);
      fits(e, f);
      e.primary = f;
    }
    const sorted = [...workers].sort((a, b) => a.slot - b.slot);
    for (const w of sorted) {
      for (const f of w.snapshot ?? []) {
        const e = entryOf(f);
        if (!fits(e, f)) {
          this.#once(`shape:${f.name}`, `metric ${f.name} differs between processes (type, buckets or quantiles); worker ${w.slot}'s is left out of the merged /metrics`);
          continue;
        }
        if (f.type === 'summary') {
          this.#once(`summary:${f.name}`, `summary ${f.name} cannot be merged across workers (quantiles do not add up); it is served per worker with a worker label`);
        }
        e.workers.set(w.slot, { family: f, fresh: w.fresh });
      }
    }
    for (const [, bySlot] of this.#retired) {
      for (const [name, r] of bySlot) {
        const e = entryOf({ name, type: r.type, help: r.help, le: r.le });
        // Retired rows give the shape when no live process has rows of the family.
        if (!e.sized && e.type === r.type) {
          e.le = r.le;
          e.sized = true;
        }
      }
    }

    const slots = [...new Set([...sorted.map((w) => w.slot), ...this.#retired.keys()])].sort((a, b) => a - b);
    const out = new Pieces(this.#pool);
    for (const e of entries.values()) {
      out.add(`# HELP ${e.name} ${escapeHelp(e.help)}\n# TYPE ${e.name} ${e.type}\n`);
      const kind = mergeKind(e.name, e.type);
      if (kind === 'sum' || kind === 'max') this.#combined(e, kind, out);
      else if (kind === 'primary' && e.primary !== undefined) this.#rows(e, e.primary, undefined, out);
      else {
        if (e.primary !== undefined) this.#rows(e, e.primary, undefined, out);
        yield* out.ready();
        for (const slot of slots) {
          this.#slot(e, slot, out);
          yield* out.ready();
        }
      }
    }
    yield* out.rest();
  }

  /** One slot's series of a `worker` family. */
  #slot(e: Entry, slot: number, out: Pieces): void {
    const live = e.workers.get(slot);
    if (!isCumulative(e.type)) {
      if (live?.fresh === true) this.#rows(e, live.family, slot, out);
      return;
    }
    const retired = this.#retired.get(slot)?.get(e.name);
    const usable = retired !== undefined && retired.type === e.type && sameList(retired.le, e.le) ? retired : undefined;
    if (usable === undefined) {
      if (live !== undefined) this.#rows(e, live.family, slot, out);
      return;
    }
    const width = widthOf(e);
    const labels: string[] = [];
    const values: number[] = [];
    const seen = new Set<string>();
    const own = live?.family;
    for (let i = 0; i < (own?.labels.length ?? 0); i++) {
      const key = own!.labels[i]!;
      const add = usable.rows.get(key);
      if (add !== undefined) seen.add(key);
      labels.push(key);
      for (let j = 0; j < width; j++) values.push(fromWire(own!.values[i * width + j]) + (add?.[j] ?? 0));
    }
    for (const [key, v] of usable.rows) {
      if (seen.has(key)) continue;
      labels.push(key);
      for (let j = 0; j < width; j++) values.push(v[j] ?? 0);
    }
    this.#rows(e, { labels, values }, slot, out);
  }

  /** A `sum` or `max` gauge: one series per label set over the primary and the workers that answered. */
  #combined(e: Entry, kind: 'sum' | 'max', out: Pieces): void {
    const acc = new Map<string, number>();
    const take = (t: Table) => {
      for (let i = 0; i < t.labels.length; i++) {
        const key = t.labels[i]!;
        const v = fromWire(t.values[i]);
        const prev = acc.get(key);
        acc.set(key, prev === undefined ? v : kind === 'sum' ? prev + v : Math.max(prev, v));
      }
    };
    if (e.primary !== undefined) take(e.primary);
    for (const w of e.workers.values()) if (w.fresh) take(w.family);
    for (const [key, v] of acc) out.add(`${e.name}${key === '' ? '' : `{${key}}`} ${text(v)}\n`);
  }

  #rows(e: Entry, t: Table, slot: number | undefined, out: Pieces): void {
    const name = e.name;
    const worker = slot === undefined ? '' : `worker="${slot}"`;
    const { labels: all, values } = t;
    if (e.type === 'histogram' || e.type === 'summary') {
      const histogram = e.type === 'histogram';
      const sample = histogram ? `${name}_bucket` : name;
      // `le="0.1"} ` once per family, not once per line.
      const tails = (histogram ? e.le : e.quantiles)?.map((p) => `${histogram ? 'le' : 'quantile'}="${p}"} `) ?? [];
      const n = tails.length;
      const width = n + 2;
      for (let r = 0; r < all.length; r++) {
        const own = all[r]!;
        const labels = worker === '' ? own : own === '' ? worker : `${worker},${own}`;
        const head = labels === '' ? `${sample}{` : `${sample}{${labels},`;
        const braces = labels === '' ? '' : `{${labels}}`;
        const at = r * width;
        let lines = '';
        for (let i = 0; i < n; i++) lines += `${head}${tails[i]}${text(values[at + i]!)}\n`;
        out.add(`${lines}${name}_sum${braces} ${text(values[at + n]!)}\n${name}_count${braces} ${text(values[at + n + 1]!)}\n`);
      }
      return;
    }
    for (let r = 0; r < all.length; r++) {
      const own = all[r]!;
      const labels = worker === '' ? own : own === '' ? worker : `${worker},${own}`;
      out.add(`${name}${labels === '' ? '' : `{${labels}}`} ${text(values[r]!)}\n`);
    }
  }
}

/** Size of the Buffers the merged body is written into, and of the pieces {@link ClusterMerger.pieces} yields (at most). */
export const PIECE_BYTES = 64 * 1024;

/** How many written-out pieces the merger keeps for the next ones (1 MB). */
const POOL_PIECES = 16;

/** Writes text as UTF-8 straight into pooled Buffers and hands them out full. */
class Pieces {
  readonly #pool: BufferPool;
  #buf: Buffer;
  #pos = 0;
  #full: Buffer[] = [];

  constructor(pool: BufferPool) {
    this.#pool = pool;
    this.#buf = pool.take();
  }

  add(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: a text that passes this check fits whole.
    if (this.#pos + text.length * 3 > this.#buf.length) {
      const bytes = Buffer.byteLength(text);
      if (this.#pos + bytes > this.#buf.length) {
        this.#seal();
        if (bytes > this.#buf.length) {
          // Longer than a piece (a very long HELP text): a piece of its own, not pooled.
          this.#full.push(Buffer.from(text, 'utf8'));
          return;
        }
      }
    }
    this.#pos += this.#buf.write(text, this.#pos);
  }

  #seal(): void {
    if (this.#pos === 0) return;
    this.#full.push(this.#buf.subarray(0, this.#pos));
    this.#buf = this.#pool.take();
    this.#pos = 0;
  }

  /** The full pieces so far. */
  ready(): Buffer[] {
    if (this.#pos >= PIECE_BYTES - 1024) this.#seal();
    const out = this.#full;
    this.#full = [];
    return out;
  }

  /** Everything left (the last Buffer, empty, goes back to the pool). */
  rest(): Buffer[] {
    this.#seal();
    this.#pool.give(this.#buf);
    return this.ready();
  }
}
