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
});
