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

/** A run of consecutive series, its text, and each series' count when the text was made. */
interface Block<S> {
  readonly series: readonly S[];
  readonly counts: Float64Array;
  /** Where each series' lines end in `part.bytes`. */
  readonly ends: Uint32Array;
  readonly part: BodyPart;
}

/**
 * One family's exposition lines in one form, cached in blocks of consecutive series. A scrape
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
    if (form !== this.#form) this.clear(form);
    const n = series.length;
    if (n === 0) {
      this.#blocks.length = 0;
      return;
    }
    if (this.#perBlock === 0) {
      const first = Buffer.byteLength(lines(series[0]!));
      this.#perBlock = Math.max(1, Math.min(MAX_SERIES_PER_BLOCK, Math.floor(BLOCK_BYTES / Math.max(1, first))));
    }
    const per = this.#perBlock;
    const blocks = this.#blocks;
    let b = 0;
    for (let start = 0; start < n; start += per, b++) {
      const end = Math.min(n, start + per);
      let block = blocks[b];
      if (block === undefined || !holds(block, series, start, end)) {
        block = build(series, start, end, lines, block);
        blocks[b] = block;
      }
      out.writePart(block.part);
    }
    blocks.length = b;
  }

  /** Drops every block (and, with `form`, takes it as the current form). */
  clear(form?: string): void {
    this.#form = form;
    this.#perBlock = 0;
    this.#blocks = [];
  }
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
 * unchanged keeps its bytes, copied; the others are formatted. With one series of a block
 * changed, that is one series formatted and a memory copy, not the whole block formatted.
 */
function build<S extends VersionedSeries>(series: readonly S[], start: number, end: number, lines: (s: S) => string, prev: Block<S> | undefined): Block<S> {
  const n = end - start;
  const kept = series.slice(start, end);
  const counts = new Float64Array(n);
  const ends = new Uint32Array(n);
  const fresh: (string | undefined)[] = new Array<string | undefined>(n);
  const prevSeries = prev?.series;
  let size = 0;
  for (let j = 0; j < n; j++) {
    const s = kept[j]!;
    // The count is read before the lines, in one synchronous pass: a counter and its
    // histogram's count, written from the same series, agree.
    counts[j] = s.count;
    if (prevSeries !== undefined && prevSeries[j] === s && prev!.counts[j] === s.count) {
      size += prev!.ends[j]! - (j === 0 ? 0 : prev!.ends[j - 1]!);
    } else {
      const text = lines(s);
      fresh[j] = text;
      size += Buffer.byteLength(text);
    }
    ends[j] = size;
  }
  // Memory of its own, sized to the text: a block outlives many scrapes, and must not hold a
  // shared allocation slab alive.
  const bytes = Buffer.allocUnsafeSlow(size);
  let pos = 0;
  for (let j = 0; j < n; j++) {
    const text = fresh[j];
    if (text !== undefined) pos += bytes.write(text, pos);
    else {
      const from = j === 0 ? 0 : prev!.ends[j - 1]!;
      bytes.set(prev!.part.bytes.subarray(from, prev!.ends[j]!), pos);
      pos += prev!.ends[j]! - from;
    }
  }
  return { series: kept, counts, ends, part: new BodyPart(bytes) };
}
