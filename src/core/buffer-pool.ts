/**
 * Buffers of one size kept for reuse, up to a count: the metrics scrape body's chunks
 * (`ChunkPool` in metrics/writer.ts) and the cluster primary's merged body's pieces
 * (cluster/merge.ts). A Buffer comes back only once the response that sent it no longer needs
 * it, so two bodies never share one.
 *
 * The pool takes back only Buffers it handed out itself, each once. It used to take any Buffer
 * that started a 64 KB ArrayBuffer, on the belief that such a Buffer owned its memory; since
 * Node 24 raised `Buffer.poolSize` to 64 KB, a small Buffer at the start of Node's shared
 * allocation slab (a gzipped scrape body, say) looks the same. Recycled, the whole slab became
 * a chunk, and the next scrape wrote its body over Buffers that Node had handed out after it,
 * the per-series line cache and zlib's output among them: Prometheus then read bytes that were
 * not the exposition ("expected value after metric, got INVALID").
 */
export class BufferPool {
  readonly #free: Buffer[] = [];
  /** Memory of the Buffers handed out and not yet taken back. */
  readonly #lent = new WeakSet<ArrayBufferLike>();
  readonly #bytes: number;
  readonly #max: number;

  /** Buffers of `bytes` each; at most `max` kept between uses. */
  constructor(bytes: number, max: number) {
    this.#bytes = bytes;
    this.#max = max;
  }

  take(): Buffer {
    // allocUnsafeSlow: a Buffer always has an ArrayBuffer of its own, whatever Buffer.poolSize is.
    const b = this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#bytes);
    this.#lent.add(b.buffer);
    return b;
  }

  /**
   * Takes back a Buffer that is no longer used. Anything the pool did not hand out (an oversized
   * chunk, a gzipped body) or has already taken back is left alone.
   */
  give(b: Buffer): void {
    const memory = b.buffer;
    if (!this.#lent.has(memory)) return;
    this.#lent.delete(memory);
    if (this.#free.length < this.#max) this.#free.push(Buffer.from(memory, 0, this.#bytes));
  }

  /** Buffers kept for reuse. */
  get size(): number {
    return this.#free.length;
  }
}
