import { BufferPool } from '../core/buffer-pool.js';
import { BodyPart } from './body.js';

/**
 * Size of each Buffer the exposition is written into. Measured at 10,000 label sets (24 MB):
 * 64 KB chunks beat 16 KB and 1 MB chunks, and beat one Buffer doubled when full by 3x (each
 * doubling copies everything so far into fresh memory), which in turn beat string concatenation.
 */
const CHUNK_BYTES = 64 * 1024;

/**
 * The most a scrape endpoint keeps in its {@link ChunkPool} between scrapes; it keeps what the
 * last body used, so a small exposition keeps little. Allocating each scrape's chunks anew made V8
 * collect garbage for their external memory: with 10,000 label sets served from the per-series
 * cache, a 1 MB pool cost 163 million instructions per scrape (callgrind) and a pool that held
 * the whole 22 MB body 59 million.
 */
export const SCRAPE_POOL_BYTES = 32 * 1024 * 1024;

/**
 * Chunks kept from one scrape for the next, up to a cap of `maxBytes` (see {@link BufferPool}:
 * it takes back only chunks it handed out itself, each once).
 */
export class ChunkPool extends BufferPool {
  constructor(maxBytes: number) {
    super(CHUNK_BYTES, Math.floor(maxBytes / CHUNK_BYTES));
  }

  /** Takes back the chunks of a body that is no longer used; anything else is left alone. */
  recycle(chunks: readonly Buffer[]): void {
    for (const chunk of chunks) this.give(chunk);
  }
}

/**
 * Collects the exposition as UTF-8 in a list of Buffers, each string encoded once, straight
 * into place. A body built as one string has to be flattened (copied) and then encoded again by
 * the response; at 24 MB that was most of a scrape's time and garbage. Each scrape has its own
 * writer; its chunks come from a {@link ChunkPool} when given one, else are allocated.
 */
export class ExpositionWriter {
  readonly #chunks: Buffer[] = [];
  /** One per chunk, in the same order: the chunk's {@link BodyPart}. */
  readonly #parts: BodyPart[] = [];
  /** Bytes in `#chunks`. */
  #sealed = 0;
  readonly #pool: ChunkPool | undefined;
  #buf: Buffer;
  #pos = 0;

  constructor(pool?: ChunkPool) {
    this.#pool = pool;
    this.#buf = pool === undefined ? Buffer.allocUnsafe(CHUNK_BYTES) : pool.take();
  }

  /** Bytes written so far. */
  get byteLength(): number {
    return this.#sealed + this.#pos;
  }

  write(text: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit, so a write that passes this check
    // always fits whole; near a chunk's end the exact length decides.
    if (this.#pos + text.length * 3 <= this.#buf.length) this.#pos += this.#buf.write(text, this.#pos);
    else this.#writeNearEnd(text);
  }

  /**
   * Appends `part` as it is, not copied: a piece of the body its metric keeps between scrapes
   * (with its compressed form, see `gzipParts`). The part stays the caller's; the pool never takes it.
   */
  writePart(part: BodyPart): void {
    this.#seal();
    if (part.bytes.length === 0) return;
    this.#chunks.push(part.bytes);
    this.#parts.push(part);
    this.#sealed += part.bytes.length;
  }

  #writeNearEnd(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (this.#pos + bytes > this.#buf.length) {
      this.#seal();
      // A text longer than a chunk gets a chunk of its own size.
      this.#buf = bytes <= CHUNK_BYTES && this.#pool !== undefined ? this.#pool.take() : Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    }
    this.#pos += this.#buf.write(text, this.#pos);
  }

  #seal(): void {
    if (this.#pos === 0) return;
    const chunk = this.#buf.subarray(0, this.#pos);
    this.#chunks.push(chunk);
    this.#parts.push(new BodyPart(chunk));
    this.#sealed += this.#pos;
    this.#buf = this.#buf.subarray(this.#pos);
    this.#pos = 0;
  }

  /** Drops every byte written after `byteLength` was `mark` (a family that failed half-way). */
  truncate(mark: number): void {
    if (mark >= this.#sealed) {
      this.#pos = Math.min(this.#pos, mark - this.#sealed);
      return;
    }
    this.#pos = 0;
    while (this.#sealed > mark) {
      const last = this.#chunks.pop()!;
      this.#parts.pop();
      this.#sealed -= last.length;
      if (this.#sealed < mark) {
        const kept = last.subarray(0, mark - this.#sealed);
        this.#chunks.push(kept);
        this.#parts.push(new BodyPart(kept));
        this.#sealed = mark;
      }
    }
  }

  /** The body, in order: `byteLength` bytes in all. Write nothing after. */
  finish(): Buffer[] {
    this.#seal();
    return this.#chunks;
  }

  /** The body's parts after {@link finish}: one per chunk, in the same order. */
  get parts(): readonly BodyPart[] {
    return this.#parts;
  }
}
