import { randomFillSync } from 'node:crypto';
import type { IdGenerator } from '@opentelemetry/sdk-trace';

const POOL_BYTES = 4096;

/** Random bytes drawn 4 KiB at a time; `take(n)` hands out the offset of `n` unused ones. */
class BytePool {
  readonly bytes = Buffer.allocUnsafe(POOL_BYTES);
  #offset = POOL_BYTES;

  /** `fill` fills the pool with random bytes (crypto's `randomFillSync`; replaceable for tests). */
  constructor(readonly fill: (buf: Buffer) => unknown = randomFillSync) {}

  take(n: number): number {
    if (this.#offset + n > POOL_BYTES) {
      this.fill(this.bytes);
      this.#offset = 0;
    }
    const start = this.#offset;
    this.#offset = start + n;
    return start;
  }
}

/**
 * Trace and span IDs from a pool of cryptographically random bytes, refilled 4 KiB at a time
 * (about 170 requests' worth). The SDK's `RandomIdGenerator` draws `Math.random()` four bytes
 * at a time into a shared buffer per ID; in process this made the two IDs of a request in
 * about 170 ns against 260 ns, and the IDs are unpredictable, which `Math.random()` does not
 * promise. An all-zero ID (invalid in W3C Trace Context) is never returned.
 */
export class PooledIdGenerator implements IdGenerator {
  readonly #pool: BytePool;

  /** `fill` fills the pool with random bytes (crypto's `randomFillSync`; replaceable for tests). */
  constructor(fill: (buf: Buffer) => unknown = randomFillSync) {
    this.#pool = new BytePool(fill);
  }

  /** A trace ID decided on before the SDK's tracer asks for one; used once. */
  #next: string | undefined = undefined;

  /**
   * The next {@link generateTraceId} returns `traceId`: periscope made the ID and its sampling
   * decision first, and the SDK tracer it then calls must start the span on that trace.
   */
  useTraceId(traceId: string): void {
    this.#next = traceId;
  }

  generateTraceId(): string {
    const next = this.#next;
    if (next !== undefined) {
      this.#next = undefined;
      return next;
    }
    return this.#take(16);
  }

  generateSpanId(): string {
    return this.#take(8);
  }

  #take(n: number): string {
    const start = this.#pool.take(n);
    const pool = this.#pool.bytes;
    const end = start + n;
    let zero = true;
    for (let i = start; i < end; i++) {
      if (pool[i] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) pool[end - 1] = 1;
    return n === 16 ? hex16(pool, start) : hex8(pool, start);
  }
}

/** Character codes of the lowercase hex digits of each byte: high digit, then low. */
const HI = new Uint8Array(256);
const LO = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  HI[b] = '0123456789abcdef'.charCodeAt(b >> 4);
  LO[b] = '0123456789abcdef'.charCodeAt(b & 15);
}

/**
 * Eight bytes of `p` from `i` as 16 lowercase hex digits: one flat string made by one
 * `String.fromCharCode`, where `Buffer#toString('hex', ...)` is a call into C++ per ID (and a
 * slice of one hex string of the whole pool would keep the pool's string alive as long as any
 * ID from it).
 */
function hex8(p: Uint8Array, i: number): string {
  const b0 = p[i]!, b1 = p[i + 1]!, b2 = p[i + 2]!, b3 = p[i + 3]!, b4 = p[i + 4]!, b5 = p[i + 5]!, b6 = p[i + 6]!, b7 = p[i + 7]!;
  return String.fromCharCode(HI[b0]!, LO[b0]!, HI[b1]!, LO[b1]!, HI[b2]!, LO[b2]!, HI[b3]!, LO[b3]!, HI[b4]!, LO[b4]!, HI[b5]!, LO[b5]!, HI[b6]!, LO[b6]!, HI[b7]!, LO[b7]!);
}

/** Sixteen bytes of `p` from `i` as 32 lowercase hex digits (see {@link hex8}). */
function hex16(p: Uint8Array, i: number): string {
  const b0 = p[i]!, b1 = p[i + 1]!, b2 = p[i + 2]!, b3 = p[i + 3]!, b4 = p[i + 4]!, b5 = p[i + 5]!, b6 = p[i + 6]!, b7 = p[i + 7]!;
  const b8 = p[i + 8]!, b9 = p[i + 9]!, b10 = p[i + 10]!, b11 = p[i + 11]!, b12 = p[i + 12]!, b13 = p[i + 13]!, b14 = p[i + 14]!, b15 = p[i + 15]!;
  return String.fromCharCode(
    HI[b0]!, LO[b0]!, HI[b1]!, LO[b1]!, HI[b2]!, LO[b2]!, HI[b3]!, LO[b3]!, HI[b4]!, LO[b4]!, HI[b5]!, LO[b5]!, HI[b6]!, LO[b6]!, HI[b7]!, LO[b7]!,
    HI[b8]!, LO[b8]!, HI[b9]!, LO[b9]!, HI[b10]!, LO[b10]!, HI[b11]!, LO[b11]!, HI[b12]!, LO[b12]!, HI[b13]!, LO[b13]!, HI[b14]!, LO[b14]!, HI[b15]!, LO[b15]!,
  );
}

/**
 * A random (version 4) UUID from sixteen bytes of `p` from `i`, as `crypto.randomUUID()`
 * writes one: the version and variant bits set, lowercase, dashed. One flat string, where
 * Node's `randomUUID` concatenates sixteen two-digit pieces.
 */
export function uuidOf(p: Uint8Array, i: number): string {
  const b0 = p[i]!, b1 = p[i + 1]!, b2 = p[i + 2]!, b3 = p[i + 3]!, b4 = p[i + 4]!, b5 = p[i + 5]!, b6 = (p[i + 6]! & 0x0f) | 0x40, b7 = p[i + 7]!;
  const b8 = (p[i + 8]! & 0x3f) | 0x80, b9 = p[i + 9]!, b10 = p[i + 10]!, b11 = p[i + 11]!, b12 = p[i + 12]!, b13 = p[i + 13]!, b14 = p[i + 14]!, b15 = p[i + 15]!;
  return String.fromCharCode(
    HI[b0]!, LO[b0]!, HI[b1]!, LO[b1]!, HI[b2]!, LO[b2]!, HI[b3]!, LO[b3]!, 0x2d, HI[b4]!, LO[b4]!, HI[b5]!, LO[b5]!, 0x2d, HI[b6]!, LO[b6]!, HI[b7]!, LO[b7]!, 0x2d,
    HI[b8]!, LO[b8]!, HI[b9]!, LO[b9]!, 0x2d, HI[b10]!, LO[b10]!, HI[b11]!, LO[b11]!, HI[b12]!, LO[b12]!, HI[b13]!, LO[b13]!, HI[b14]!, LO[b14]!, HI[b15]!, LO[b15]!,
  );
}

/** Sixteen random bytes for each {@link randomUuid}. */
const uuidPool = new BytePool();

/** `crypto.randomUUID()`'s kind of ID, from a pool refilled every 256 IDs, made by {@link uuidOf}. */
export function randomUuid(): string {
  return uuidOf(uuidPool.bytes, uuidPool.take(16));
}
