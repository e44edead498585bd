import { describe, expect, it } from 'vitest';
import { saneRequestId, traceIdOfTraceparent } from '../../src/logging/index.js';

describe('saneRequestId', () => {
  it('accepts 1..maxLength visible ASCII characters', () => {
    expect(saneRequestId('abc-123_X.~!', 128)).toBe('abc-123_X.~!');
    expect(saneRequestId('a'.repeat(128), 128)).toBe('a'.repeat(128));
    expect(saneRequestId('"quoted"', 128)).toBe('"quoted"');
  });
  it('refuses empty, too long, spaces, control characters, non-ASCII and non-strings', () => {
    expect(saneRequestId('', 128)).toBe(undefined);
    expect(saneRequestId('a'.repeat(129), 128)).toBe(undefined);
    expect(saneRequestId('a b', 128)).toBe(undefined);
    expect(saneRequestId('a\nb', 128)).toBe(undefined);
    expect(saneRequestId('a\tb', 128)).toBe(undefined);
    expect(saneRequestId('a\u007fb', 128)).toBe(undefined);
    expect(saneRequestId('é', 128)).toBe(undefined);
    expect(saneRequestId(['a', 'b'], 128)).toBe(undefined);
    expect(saneRequestId(undefined, 128)).toBe(undefined);
  });
});

describe('traceIdOfTraceparent', () => {
  const id = '4bf92f3577b34da6a3ce929d0e0e4736';
  it('reads the trace ID of a valid header', () => {
    expect(traceIdOfTraceparent(`00-${id}-00f067aa0ba902b7-01`)).toBe(id);
    expect(traceIdOfTraceparent(`00-${id}-00f067aa0ba902b7-00`)).toBe(id);
    // A future version may append fields.
    expect(traceIdOfTraceparent(`01-${id}-00f067aa0ba902b7-01-extra`)).toBe(id);
  });
  it('refuses malformed, all-zero, uppercase, version ff and version 00 with extra fields', () => {
    expect(traceIdOfTraceparent(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`)).toBe(undefined);
    expect(traceIdOfTraceparent(`00-${id.toUpperCase()}-00f067aa0ba902b7-01`)).toBe(undefined);
    expect(traceIdOfTraceparent(`ff-${id}-00f067aa0ba902b7-01`)).toBe(undefined);
    expect(traceIdOfTraceparent(`00-${id}-00f067aa0ba902b7-01-extra`)).toBe(undefined);
    expect(traceIdOfTraceparent(`00-${id}-00f067aa0ba902b7`)).toBe(undefined);
    expect(traceIdOfTraceparent(`00_${id}-00f067aa0ba902b7-01`)).toBe(undefined);
    expect(traceIdOfTraceparent(undefined)).toBe(undefined);
  });
});
