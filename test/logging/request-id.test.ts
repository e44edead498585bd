import { describe, expect, it } from 'vitest';
import { createServer, ServerResponse } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Core } from '../../src/core/index.js';
import type { RequestScope } from '../../src/core/index.js';
import { createLogging, saneRequestId, traceIdOfTraceparent } from '../../src/logging/index.js';
import { setRequestIdHeader } from '../../src/logging/request-id.js';
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

describe('the request ID response header', () => {
  /** Sets the header on each request as `set` does, then `before` runs; returns the raw response head and what getHeader saw. */
  async function respond(set: (res: ServerResponse) => void, before: (res: ServerResponse) => void = () => {}) {
    const seen: unknown[] = [];
    const server = createServer((_req, res) => {
      before(res);
      set(res);
      seen.push(res.getHeader('x-request-id'), res.getHeaderNames(), res.hasHeader('X-Request-ID'));
      // As Fastify answers: writeHead with its own headers object, merged with those set before.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    });
    track(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
      socket.on('end', () => resolve(data.slice(0, data.indexOf('\r\n\r\n')).replace(/\r\nDate: [^\r]*/, '')));
      socket.on('error', reject);
    });
    await new Promise<void>((r) => server.close(() => r()));
    return { head, seen };
  }

  const ID = '4bf92f3577b34da6a3ce929d0e0e4736';
  const native = (res: ServerResponse) => res.setHeader('x-request-id', ID);
  const ours = (res: ServerResponse) => setRequestIdHeader(res, 'x-request-id', ID);

  it('is on the wire and in getHeader exactly as setHeader puts it, set first or after other headers', async () => {
    for (const before of [() => {}, (res: ServerResponse) => res.setHeader('X-Other', 'a')]) {
      const expected = await respond(native, before);
      const actual = await respond(ours, before);
      expect(actual).toEqual(expected);
      expect(actual.seen[0]).toBe(ID);
      expect(actual.head).toContain(`\r\nx-request-id: ${ID}`);
    }
  });

  it('goes through setHeader when it was replaced on the response (an instrumentation wrapping it)', async () => {
    const calls: string[] = [];
    const wrap = (res: ServerResponse) => {
      const original = res.setHeader.bind(res);
      res.setHeader = (name: string, value: number | string | readonly string[]) => {
        calls.push(name);
        return original(name, value);
      };
    };
    const actual = await respond(ours, wrap);
    expect(calls[0]).toBe('x-request-id');
    expect(actual).toEqual(await respond(native, wrap));
  });

  it('replaces an earlier value, as setHeader does', () => {
    const res = new ServerResponse({ method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1, headers: {} } as IncomingMessage);
    setRequestIdHeader(res, 'x-request-id', 'a');
    expect(res.getHeader('x-request-id')).toBe('a');
    setRequestIdHeader(res, 'x-request-id', 'b');
    expect(res.getHeader('x-request-id')).toBe('b');
  });
});
