import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Core } from '../../src/core/index.js';
import type { RequestScope } from '../../src/core/index.js';
import { createLogging, saneRequestId, traceIdOfTraceparent } from '../../src/logging/index.js';
import { readEnv, resolveOptions } from '../../src/options.js';
import type { ResolvedLoggingOptions } from '../../src/logging/options.js';
import { Capture, settle, track } from './helpers.js';

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

describe('request ID from the request scope\'s trace ID', () => {
  it('uses the trace ID tracing put on the scope when no sane header came', async () => {
    const capture = new Capture();
    const resolved = resolveOptions({ metrics: false, logging: { destination: capture } }, readEnv({}));
    const report = (error: unknown) => {
      throw error;
    };
    const logging = createLogging({ options: resolved.logging as ResolvedLoggingOptions, service: 's', version: '1', report });
    // Stands in for the tracing concern, whose hook runs before logging's.
    const tracing = { onStart: (scope: RequestScope) => void (scope.traceId = '5bf92f3577b34da6a3ce929d0e0e4736'), onEnd: () => {} };
    const core = new Core({ hooks: [tracing, logging.hook], report });
    const server = createServer((req, res) => {
      core.start(req, res, '/t');
      res.end('ok');
    });
    track(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/t`;
    const plain = await fetch(base);
    await plain.text();
    const given = await fetch(base, { headers: { 'x-request-id': 'mine' } });
    await given.text();
    await settle(server);
    await new Promise<void>((r) => server.close(() => r()));
    expect(plain.headers.get('x-request-id')).toBe('5bf92f3577b34da6a3ce929d0e0e4736');
    expect(given.headers.get('x-request-id')).toBe('mine');
    expect(capture.lines.map((l) => l.request_id)).toEqual(['5bf92f3577b34da6a3ce929d0e0e4736', 'mine']);
  });
});
