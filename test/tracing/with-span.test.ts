import { trace } from '@opentelemetry/api';
import type { Span, Tracer } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { Periscope } from '../../src/index.js';
import { startApp } from './frameworks.js';
import type { TestApp } from './frameworks.js';
import { fastExport, INTERNAL_KIND, Receiver, SERVER_KIND, STATUS_ERROR } from './helpers.js';

let receiver: Receiver;
let endpoint: string;
let app: TestApp | undefined;

beforeAll(async () => {
  receiver = new Receiver();
  endpoint = await receiver.start();
});
afterAll(() => receiver.close());
afterEach(async () => {
  await app?.obs.shutdown();
  await app?.close();
  app = undefined;
  receiver.spans.length = 0;
});

describe('obs.withSpan', () => {
  it('nests child spans under the request span and ends each when its promise settles', async () => {
    app = await startApp('fastify', { tracing: fastExport(endpoint) }, {
      inUsers: (obs) =>
        obs.withSpan(
          'load user',
          async (outer) => {
            const inner = await obs.withSpan('db.query', async () => {
              await new Promise((r) => setTimeout(r, 2));
              return trace.getActiveSpan()?.spanContext().spanId;
            });
            return { outer: outer.spanContext().spanId, inner };
          },
          { 'app.user_id': 42 },
        ),
    });
    const body = (await (await fetch(`${app.url}/users/42`)).json()) as { extra: { outer: string; inner: string } };
    await app.obs.shutdown();
    const spans = await receiver.waitFor(3);
    const server = spans.find((s) => s.kind === SERVER_KIND)!;
    const outer = spans.find((s) => s.name === 'load user')!;
    const inner = spans.find((s) => s.name === 'db.query')!;
    expect(outer.kind).toBe(INTERNAL_KIND);
    expect(outer.parentSpanId).toBe(server.spanId);
    expect(inner.parentSpanId).toBe(outer.spanId);
    expect(body.extra).toEqual({ outer: outer.spanId, inner: inner.spanId });
    expect(outer.attributes).toEqual({ 'app.user_id': 42 });
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(outer.status.code).toBe(0);
  });

  it('records a rejection as the exception with status ERROR and rejects with the same error', async () => {
    let caught: unknown;
    const failure = new RangeError('no such user');
    app = await startApp('express', { tracing: fastExport(endpoint) }, {
      inUsers: async (obs) => {
        try {
          await obs.withSpan('load user', async () => {
            throw failure;
          });
        } catch (error) {
          caught = error;
        }
        return null;
      },
    });
    expect((await fetch(`${app.url}/users/1`)).status).toBe(200);
    await app.obs.shutdown();
    const spans = await receiver.waitFor(2);
    expect(caught).toBe(failure);
    const child = spans.find((s) => s.name === 'load user')!;
    expect(child.status).toEqual({ code: STATUS_ERROR, message: 'no such user' });
    expect(child.events.map((e) => [e.name, e.attributes['exception.type'], e.attributes['exception.message']])).toEqual([
      ['exception', 'RangeError', 'no such user'],
    ]);
  });

  it('records a synchronous throw the same way', async () => {
    app = await startApp('node-http', { tracing: fastExport(endpoint) });
    await expect(
      app.obs.withSpan('sync step', () => {
        throw new Error('sync failure');
      }),
    ).rejects.toThrow('sync failure');
    await expect(app.obs.withSpan('plain value', () => 7)).resolves.toBe(7);
    await app.obs.shutdown();
    const spans = await receiver.waitFor(2);
    expect(spans.find((s) => s.name === 'sync step')!.status).toEqual({ code: STATUS_ERROR, message: 'sync failure' });
    expect(spans.find((s) => s.name === 'plain value')!.status.code).toBe(0);
    // Outside a request, a withSpan span is a root.
    expect(spans.map((s) => s.parentSpanId)).toEqual(['', '']);
  });

  it('with tracing off, runs fn with a non-recording span and keeps the promise contract', async () => {
    app = await startApp('node-http', { tracing: false });
    await expect(app.obs.withSpan('x', (span) => span.isRecording())).resolves.toBe(false);
    await expect(
      app.obs.withSpan('x', () => {
        throw new Error('still thrown');
      }),
    ).rejects.toThrow('still thrown');
  });
});

describe('the console exporter', () => {
  it('prints each finished span when asked for', async () => {
    const { vi } = await import('vitest');
    const printed: unknown[] = [];
    const dir = vi.spyOn(console, 'dir').mockImplementation((obj) => void printed.push(obj));
    try {
      app = await startApp('node-http', { tracing: { exporter: 'console', scheduledDelayMillis: 10 } });
      await (await fetch(`${app.url}/users/3`)).text();
      await app.obs.shutdown();
    } finally {
      dir.mockRestore();
    }
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatchObject({ name: 'GET /users/:id', kind: 1, attributes: { 'http.route': '/users/:id', 'http.response.status_code': 200 } });
  });
});

describe('public types', () => {
  it('withSpan resolves to what fn returns; tracer is the API Tracer', () => {
    // Only the types are checked: this handle is never called.
    const obs = {} as Periscope;
    if (obs.withSpan === undefined) return;
    expectTypeOf<Periscope['withSpan']>().toBeFunction();
    expectTypeOf(obs.withSpan('x', async () => 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(obs.withSpan('x', () => 'a', { k: 1 })).toEqualTypeOf<Promise<string>>();
    expectTypeOf<Periscope['tracer']>().toEqualTypeOf<Tracer>();
    expectTypeOf<Parameters<Parameters<Periscope['withSpan']>[1]>[0]>().toEqualTypeOf<Span>();
  });
});
