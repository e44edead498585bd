import { BodyPart } from './body.js';
import type { ExpositionWriter } from './writer.js';

/**
 * Text a block aims at. Measured at 10,000 label sets (22 MB): one label set changed between
 * scrapes rewrites one block per family; 64 KB blocks keep that to a fraction of a millisecond,
 * while the body stays a few hundred Buffers for one corked write.
 */
const BLOCK_BYTES = 64 * 1024;
const MAX_SERIES_PER_BLOCK = 4096;

/** A series as a block sees it: `count` changes whenever anything it writes does. */
export interface VersionedSeries {
  readonly count: number;
}

/**
 * Series encoded one after the other into one writer (the protobuf form), not formatted as text:
 * a block takes their bytes from the writer by runs, with no object per series.
 */
export interface SeriesEncoder<S> {
  /** Appends `s`'s bytes to the writer. */
  encode(s: S): void;
  /** Bytes in the writer so far. */
  readonly length: number;
  /** The writer's bytes so far, at the offsets `length` gave. */
  finish(): Buffer;
  /** Empties the writer: a block starts it afresh, so it never holds more than one block's series. */
  reset(): void;
}

/** How a family's series become bytes: one series' text, or an encoder. */
export type SeriesFormat<S> = ((s: S) => string) | SeriesEncoder<S>;

/** A run of consecutive series, its text, and each series' count when the text was made. */
interface Block<S> {
  readonly series: readonly S[];
  readonly counts: Float64Array;
  /** Where each series' lines end in `part.bytes`. */
  readonly ends: Uint32Array;
  readonly part: BodyPart;
}

/**
 * One family's exposition lines in one form (text, OpenMetrics, or protobuf Metric fields), cached
 * in blocks of consecutive series. A scrape
 * reuses a block (its Buffer and its compressed form) while it holds the same series with the
 * same counts, and formats it again otherwise. Nothing is added on the request path: a series'
 * request count already changes with every observation, so it is the version. Series must be
 * given in the same order every scrape, new ones appended (only the last block then changes).
 */
export class BlockCache<S extends VersionedSeries> {
  #form: string | undefined = undefined;
  #perBlock = 0;
  #blocks: Block<S>[] = [];

  /**
   * Writes the lines of `series` (`lines(s)` is one series' text) into `out`. A different `form`
   * (format, default labels) than the last call drops every block.
   */
  write(out: ExpositionWriter, form: string, series: readonly S[], lines: (s: S) => string): void {
    for (const part of this.parts(form, series, lines)) out.writePart(part);
  }

  /** The blocks of `series`, in order, as {@link write} would write them (for a writer that needs their sizes first). */
  parts(form: string, series: readonly S[], format: SeriesFormat<S>): BodyPart[] {
    if (form !== this.#form) this.clear(form);
    const n = series.length;
    const parts: BodyPart[] = [];
    if (n === 0) {
      this.#blocks.length = 0;
      return parts;
    }
    if (this.#perBlock === 0) {
      const first = byteLengthOf(format, series[0]!);
      this.#perBlock = Math.max(1, Math.min(MAX_SERIES_PER_BLOCK, Math.floor(BLOCK_BYTES / Math.max(1, first))));
    }
    const per = this.#perBlock;
    const blocks = this.#blocks;
    let b = 0;
    for (let start = 0; start < n; start += per, b++) {
      const end = Math.min(n, start + per);
      let block = blocks[b];
      if (block === undefined || !holds(block, series, start, end)) {
        block = build(series, start, end, format, block);
        blocks[b] = block;
      }
      parts.push(block.part);
    }
    blocks.length = b;
    return parts;
  }

  /** Drops every block (and, with `form`, takes it as the current form). */
  clear(form?: string): void {
    this.#form = form;
    this.#perBlock = 0;
    this.#blocks = [];
  }
}

/** The size of one series in `format` (bytes an encoder wrote for it here are dropped when a block resets it). */
function byteLengthOf<S>(format: SeriesFormat<S>, s: S): number {
  if (typeof format === 'function') return Buffer.byteLength(format(s));
  const from = format.length;
  format.encode(s);
  return format.length - from;
}

function holds<S extends VersionedSeries>(block: Block<S>, series: readonly S[], start: number, end: number): boolean {
  const kept = block.series;
  if (kept.length !== end - start) return false;
  const counts = block.counts;
  for (let i = start, j = 0; i < end; i++, j++) {
    const s = series[i]!;
    if (kept[j] !== s || counts[j] !== s.count) return false;
  }
  return true;
}

/**
 * The block of `series[start..end)`: a series whose count `prev` (the block it replaces) holds
 * unchanged keeps its bytes, copied; the others are formatted (or encoded). With one series of a block
 * changed, that is one series formatted and a memory copy, not the whole block formatted.
 */
function build<S extends VersionedSeries>(series: readonly S[], start: number, end: number, format: SeriesFormat<S>, prev: Block<S> | undefined): Block<S> {
  const n = end - start;
  const kept = series.slice(start, end);
  const counts = new Float64Array(n);
  const ends = new Uint32Array(n);
  const lines = typeof format === 'function' ? format : undefined;
  const encoder = typeof format === 'function' ? undefined : format;
  /** Per series: its text, or where an encoder put its bytes (-1 for a series kept from `prev`). */
  const fresh: (string | undefined)[] | undefined = lines === undefined ? undefined : new Array<string | undefined>(n);
  const encodedAt: Float64Array | undefined = encoder === undefined ? undefined : new Float64Array(n).fill(-1);
  encoder?.reset();
  const prevSeries = prev?.series;
  let size = 0;
  for (let j = 0; j < n; j++) {
    const s = kept[j]!;
    // The count is read before the lines, in one synchronous pass: a counter and its
    // histogram's count, written from the same series, agree.
    counts[j] = s.count;
    if (prevSeries !== undefined && prevSeries[j] === s && prev!.counts[j] === s.count) {
      size += prev!.ends[j]! - (j === 0 ? 0 : prev!.ends[j - 1]!);
    } else if (encoder !== undefined) {
      const at = encoder.length;
      encoder.encode(s);
      encodedAt![j] = at;
      size += encoder.length - at;
    } else {
      const text = lines!(s);
      fresh![j] = text;
      size += Buffer.byteLength(text);
    }
    ends[j] = size;
  }
  // Memory of its own, sized to the text: a block outlives many scrapes, and must not hold a
  // shared allocation slab alive.
  const bytes = Buffer.allocUnsafeSlow(size);
  const encoded = encoder?.finish();
  // Copied by runs, not series by series: kept series lie one after the other in the block they
  // come from, and so do series encoded one after the other. A block rebuilt whole is one copy.
  let pos = 0;
  for (let j = 0; j < n; ) {
    const text = fresh?.[j];
    let k = j + 1;
    if (text !== undefined) pos += bytes.write(text, pos);
    else {
      const isKept = encodedAt === undefined || encodedAt[j] === -1;
      while (k < n && (encodedAt === undefined ? fresh![k] === undefined : (encodedAt[k] === -1) === isKept)) k++;
      const length = ends[k - 1]! - (j === 0 ? 0 : ends[j - 1]!);
      const from = isKept ? (j === 0 ? 0 : prev!.ends[j - 1]!) : encodedAt![j]!;
      (isKept ? prev!.part.bytes : encoded!).copy(bytes, pos, from, from + length);
      pos += length;
    }
    j = k;
  }
  return { series: kept, counts, ends, part: new BodyPart(bytes) };
}
