/**
 * Size of each Buffer the exposition is written into. Measured at 10,000 label sets (24 MB):
 * 64 KB chunks beat 16 KB and 1 MB chunks, and beat one Buffer doubled when full by 3x (each
 * doubling copies everything so far into fresh memory), which in turn beat string concatenation.
 */
const CHUNK_BYTES = 64 * 1024;

/**
 * Collects the exposition as UTF-8 in a list of Buffers, each string encoded once, straight
 * into place. A body built as one string has to be flattened (copied) and then encoded again by
 * the response; at 24 MB that was most of a scrape's time and garbage. Nothing outlives the
 * scrape: every scrape starts a new writer, and a response may still be sending the last one's
 * chunks, so they are never reused.
 */
export class ExpositionWriter {
  readonly #chunks: Buffer[] = [];
  /** Bytes in `#chunks`. */
  #sealed = 0;
  #buf = Buffer.allocUnsafe(CHUNK_BYTES);
  #pos = 0;

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

  #writeNearEnd(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (this.#pos + bytes > this.#buf.length) {
      this.#seal();
      // A text longer than a chunk gets a chunk of its own size.
      this.#buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    }
    this.#pos += this.#buf.write(text, this.#pos);
  }

  #seal(): void {
    if (this.#pos === 0) return;
    this.#chunks.push(this.#buf.subarray(0, this.#pos));
    this.#sealed += this.#pos;
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
      this.#sealed -= last.length;
      if (this.#sealed < mark) {
        this.#chunks.push(last.subarray(0, mark - this.#sealed));
        this.#sealed = mark;
      }
    }
  }

  /** The body, in order: `byteLength` bytes in all. Write nothing after. */
  finish(): Buffer[] {
    this.#seal();
    return this.#chunks;
  }
}
