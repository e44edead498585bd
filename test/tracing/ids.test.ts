import { describe, expect, it } from 'vitest';
import { isValidSpanId, isValidTraceId } from '@opentelemetry/api';
import { PooledIdGenerator } from '../../src/tracing/ids.js';

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
});

