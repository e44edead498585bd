import { describe, expect, it } from 'vitest';
import { isValidSpanId, isValidTraceId } from '@opentelemetry/api';
import { PooledIdGenerator, randomUuid, uuidOf } from '../../src/tracing/ids.js';

describe('PooledIdGenerator', () => {
  it('makes valid, distinct trace and span IDs across pool refills', () => {
    const ids = new PooledIdGenerator();
    const traces = new Set<string>();
    const spans = new Set<string>();
    // 2,000 requests' worth: the 4 KiB pool is refilled about 12 times.
    for (let i = 0; i < 2000; i++) {
      const t = ids.generateTraceId();
      const s = ids.generateSpanId();
      expect(isValidTraceId(t)).toBe(true);
      expect(isValidSpanId(s)).toBe(true);
      traces.add(t);
      spans.add(s);
    }
    expect(traces.size).toBe(2000);
    expect(spans.size).toBe(2000);
  });

  it('never returns an all-zero ID, even when the random bytes are all zero', () => {
    const ids = new PooledIdGenerator((buf) => buf.fill(0));
    expect(ids.generateTraceId()).toBe('00000000000000000000000000000001');
    expect(ids.generateSpanId()).toBe('0000000000000001');
    expect(ids.generateSpanId()).toBe('0000000000000001');
  });

  it('writes each ID as the lowercase hex of its pool bytes, the same as Buffer#toString("hex"), across refills', () => {
    // A known fill: every byte value appears, at every offset, in every pool.
    let fills = 0;
    const pools: Buffer[] = [];
    const ids = new PooledIdGenerator((buf) => {
      for (let i = 0; i < buf.length; i++) buf[i] = (i * 7 + fills * 13 + 1) & 0xff;
      fills++;
      pools.push(Buffer.from(buf));
    });
    let offset = 4096;
    const expected = (n: number): string => {
      if (offset + n > 4096) offset = 0;
      const pool = pools[pools.length - 1]!;
      const hex = pool.toString('hex', offset, offset + n);
      offset += n;
      return hex;
    };
    for (let i = 0; i < 600; i++) {
      expect(ids.generateTraceId()).toBe(expected(16));
      expect(ids.generateSpanId()).toBe(expected(8));
    }
    expect(fills).toBe(4);
  });

  it('uuidOf writes a version 4 UUID of sixteen bytes as crypto.randomUUID() does; randomUuid makes distinct ones', () => {
    for (let seed = 0; seed < 300; seed++) {
      const bytes = Buffer.from(Array.from({ length: 16 }, (_, i) => (seed * 31 + i * 17) & 0xff));
      bytes[6] = (bytes[6]! & 0x0f) | 0x40;
      bytes[8] = (bytes[8]! & 0x3f) | 0x80;
      const hex = bytes.toString('hex');
      const expected = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      expect(uuidOf(Buffer.from(Array.from({ length: 16 }, (_, i) => (seed * 31 + i * 17) & 0xff)), 0)).toBe(expected);
    }
    const made = new Set<string>();
    for (let i = 0; i < 1000; i++) made.add(randomUuid());
    expect(made.size).toBe(1000);
    for (const id of made) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

