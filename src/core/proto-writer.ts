/**
 * A writer of protobuf's wire format, shared by the encoders that periscope writes by hand so it
 * loads no protobuf runtime: Prometheus' protobuf exposition (metrics) and OTLP trace export
 * requests (tracing).
 */

/** Wire types. */
export const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

const TWO_32 = 4294967296;

/**
 * A growable byte buffer with protobuf's field encodings; nested messages are sized after the
 * fact (their length goes in front when they end, the body moving right). One writer can be
 * `reset()` and reused, so an encoder that runs often keeps one buffer.
 */
export class ProtoWriter {
  #buf: Buffer;
  #pos = 0;
  readonly #starts: number[] = [];

  /** @param size the first buffer's size in bytes (default 64 KiB); it doubles as needed. */
  constructor(size = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  get length(): number {
    return this.#pos;
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  /** A varint on its own (no field tag): a length prefix written ahead of bytes placed later. */
  varint(n: number): void {
    this.#room(10);
    // Above 2^31 the bitwise operators would truncate: divide instead.
    while (n > 0x7f) {
      this.#buf[this.#pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.#buf[this.#pos++] = n;
  }

  #tag(field: number, wire: Wire): void {
    this.varint((field << 3) | wire);
  }

  uint(field: number, n: number): void {
    this.#tag(field, Wire.Varint);
    this.varint(n);
  }

  /** sint32 / sint64 (zigzag). */
  sint(field: number, n: number): void {
    this.#tag(field, Wire.Varint);
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  /** int64 of a non-negative value (a timestamp's seconds). */
  int(field: number, n: number): void {
    this.uint(field, n);
  }

  /** int64 of any integer in its range: a negative one as its 64-bit two's complement (10 bytes). */
  int64(field: number, n: number): void {
    if (n >= 0) {
      this.uint(field, n);
      return;
    }
    this.#tag(field, Wire.Varint);
    this.#room(10);
    // -n split into 32-bit halves, then negated: invert and add one.
    const abs = -n;
    let lo = ~(abs >>> 0) >>> 0;
    let hi = ~Math.floor(abs / TWO_32) >>> 0;
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
    const buf = this.#buf;
    while (hi > 0 || lo > 0x7f) {
      buf[this.#pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[this.#pos++] = lo;
  }

  bool(field: number, v: boolean): void {
    this.#tag(field, Wire.Varint);
    this.#room(1);
    this.#buf[this.#pos++] = v ? 1 : 0;
  }

  double(field: number, v: number): void {
    this.#tag(field, Wire.Fixed64);
    this.#room(8);
    this.#buf.writeDoubleLE(v, this.#pos);
    this.#pos += 8;
  }

  fixed32(field: number, n: number): void {
    this.#tag(field, Wire.Fixed32);
    this.#room(4);
    this.#buf.writeUInt32LE(n >>> 0, this.#pos);
    this.#pos += 4;
  }

  /**
   * fixed64 nanoseconds of an OpenTelemetry HrTime `[seconds, nanoseconds]`. Seconds times 1e9
   * passes 2^53, so it is taken as (seconds * 1953125) * 512: the product is exact below 2^53
   * for any second before the year 2^53 / 1953125 / 31557600 ≈ 146,000.
   */
  hrTime(field: number, seconds: number, nanos: number): void {
    this.#tag(field, Wire.Fixed64);
    this.#room(8);
    const m = seconds * 1953125;
    // m * 512 = hi * 2^32 + (m mod 2^23) * 512; then add the nanoseconds with their carry.
    const low = (m % 8388608) * 512 + nanos;
    const hi = Math.floor(m / 8388608) + Math.floor(low / TWO_32);
    const buf = this.#buf;
    buf.writeUInt32LE(low >>> 0, this.#pos);
    buf.writeUInt32LE(hi >>> 0, this.#pos + 4);
    this.#pos += 8;
  }

  string(field: number, s: string): void {
    this.#tag(field, Wire.Bytes);
    const n = s.length;
    if (n < 128) {
      // Most strings are short ASCII: copy the code units while checking, one pass, and fall
      // back to UTF-8 encoding at the first character above 0x7f.
      this.#room(n + 1);
      const buf = this.#buf;
      const start = this.#pos;
      let p = start + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[start] = n;
        this.#pos = p;
        return;
      }
    }
    const bytes = Buffer.byteLength(s);
    this.varint(bytes);
    this.#room(bytes);
    this.#buf.write(s, this.#pos, 'utf8');
    this.#pos += bytes;
  }

  bytes(field: number, b: Uint8Array): void {
    this.#tag(field, Wire.Bytes);
    this.varint(b.length);
    this.raw(b);
  }

  /** A bytes field given as hexadecimal text (a trace or span ID), written without a copy. */
  hex(field: number, h: string): void {
    const n = h.length >>> 1;
    this.#tag(field, Wire.Bytes);
    this.varint(n);
    this.#room(n);
    const buf = this.#buf;
    let p = this.#pos;
    for (let i = 0; i < h.length - 1; i += 2) buf[p++] = (nibble(h.charCodeAt(i)) << 4) | nibble(h.charCodeAt(i + 1));
    this.#pos = p;
  }

  /** Bytes already in wire format (a message encoded once and kept). */
  raw(b: Uint8Array): void {
    this.#room(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  /**
   * Opens a nested message (or, with field 0, a length-delimited top-level one). One byte is
   * kept for its length, enough for a message under 128 bytes; a longer one moves right.
   */
  begin(field: number): void {
    if (field !== 0) this.#tag(field, Wire.Bytes);
    this.#room(1);
    this.#starts.push(this.#pos++);
  }

  /** Closes the innermost open message: its length goes in the byte kept for it, or in front. */
  end(): void {
    const start = this.#starts.pop()!;
    const n = this.#pos - start - 1;
    if (n < 0x80) {
      this.#buf[start] = n;
      return;
    }
    let size = 1;
    for (let v = n; v > 0x7f; v = Math.floor(v / 128)) size++;
    this.#room(size - 1);
    const buf = this.#buf;
    buf.copyWithin(start + size, start + 1, this.#pos);
    let v = n;
    let p = start;
    while (v > 0x7f) {
      buf[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[p] = v;
    this.#pos += size - 1;
  }

  /** Drops everything from `pos` on, the messages opened there included (a family that failed midway). */
  truncate(pos: number): void {
    this.#pos = pos;
    while (this.#starts.length > 0 && this.#starts[this.#starts.length - 1]! >= pos) this.#starts.pop();
  }

  /** Drops the first `n` bytes, moving the rest to the front (no message may be open). */
  shift(n: number): void {
    this.#buf.copyWithin(0, n, this.#pos);
    this.#pos -= n;
  }

  /** The bytes from `from` to `to` of what was written, as a view (valid until it writes again). */
  view(from: number, to: number): Buffer {
    return this.#buf.subarray(from, to);
  }

  /** Empties the writer, keeping its buffer. */
  reset(): void {
    this.#pos = 0;
    this.#starts.length = 0;
  }

  /** The bytes written, as a view of the writer's buffer (valid until it writes again). */
  finish(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  /** The bytes written from `from` on, copied: they stay valid when the writer is reused. */
  copy(from = 0): Buffer {
    return Buffer.from(this.#buf.subarray(from, this.#pos));
  }
}

/** A hexadecimal digit's value, either case (as OpenTelemetry's own hexToBinary reads IDs). */
function nibble(c: number): number {
  return c <= 57 ? c - 48 : c >= 97 ? c - 87 : c - 55;
}
