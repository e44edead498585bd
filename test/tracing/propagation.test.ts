import { request as httpRequest } from 'node:http';
import { propagation } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FRAMEWORKS, startApp } from './frameworks.js';
import type { TestApp } from './frameworks.js';
import { CLIENT_KIND, fastExport, PARENT_SPAN, PARENT_TRACE, Receiver, SERVER_KIND } from './helpers.js';

let receiver: Receiver;
let endpoint: string;
const apps: TestApp[] = [];

beforeAll(async () => {
  receiver = new Receiver();
  endpoint = await receiver.start();
});
afterAll(() => receiver.close());
afterEach(async () => {
  for (const app of apps.splice(0)) {
    await app.obs.shutdown();
    await app.close();
  }
  receiver.spans.length = 0;
  vi.restoreAllMocks();
});

async function start(...args: Parameters<typeof startApp>): Promise<TestApp> {
  const app = await startApp(...args);
  apps.push(app);
  return app;
}

const MALFORMED: [string, string][] = [
  ['too short', `00-${PARENT_TRACE}-${PARENT_SPAN.slice(0, 15)}-01`],
  ['version ff', `ff-${PARENT_TRACE}-${PARENT_SPAN}-01`],
  ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT_SPAN}-01`],
  ['all-zero span id', `00-${PARENT_TRACE}-${'0'.repeat(16)}-01`],
  ['non-hex', `00-${PARENT_TRACE.slice(0, 31)}g-${PARENT_SPAN}-01`],
  ['upper-case hex', `00-${PARENT_TRACE.toUpperCase()}-${PARENT_SPAN}-01`],
  ['garbage', 'hello'],
];

describe('malformed traceparent', () => {
  it.each(MALFORMED)('%s: ignored, a new root trace starts, the request succeeds, nothing is logged', async (_name, header) => {
    const warnings = vi.spyOn(process, 'emitWarning');
    // The name and version are given: the tests' own package.json is the SDK's, which periscope skips with a warning.
    const app = await start('fastify', { serviceName: 'svc', version: '1', tracing: fastExport(endpoint) });
    const res = await fetch(`${app.url}/users/1`, { headers: { traceparent: header } });
    expect(res.status).toBe(200);
    await app.obs.shutdown();
    const [span] = await receiver.waitFor(1);
    expect(span!.parentSpanId).toBe('');
    expect(span!.traceId).not.toBe(PARENT_TRACE);
    expect(span!.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span!.traceId).not.toBe('0'.repeat(32));
    expect(warnings).not.toHaveBeenCalled();
  });
});

describe('tracestate and baggage', () => {
  it('extracts baggage into the request context and carries tracestate on', async () => {
    let seenBaggage: string | undefined;
    let seenTraceState: string | undefined;
    const app = await start('express', { tracing: fastExport(endpoint) }, {
      inUsers: async () => {
        const { context, trace } = await import('@opentelemetry/api');
        seenBaggage = propagation.getBaggage(context.active())?.getEntry('tenant')?.value;
        seenTraceState = trace.getActiveSpan()?.spanContext().traceState?.serialize();
      },
    });
    const res = await fetch(`${app.url}/users/1`, {
      headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01`, tracestate: 'vendor=abc', baggage: 'tenant=acme' },
    });
    expect(res.status).toBe(200);
    expect(seenBaggage).toBe('acme');
    expect(seenTraceState).toBe('vendor=abc');
  });

  it('keeps an unsampled caller decision: the span is not exported and the handler still has its trace id', async () => {
    const app = await start('node-http', { tracing: fastExport(endpoint) });
    const res = await fetch(`${app.url}/users/1`, { headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-00` } });
    const body = (await res.json()) as { active: { traceId: string } };
    expect(body.active.traceId).toBe(PARENT_TRACE);
    await app.obs.shutdown();
    expect(receiver.spans).toEqual([]);
  });
});

describe.each(FRAMEWORKS)('outgoing calls from a %s handler', (framework) => {
  it('fetch: a CLIENT span whose traceparent makes the callee a child, one trace end to end', async () => {
    const callee = await start('node-http', { serviceName: 'callee', tracing: fastExport(endpoint) });
    const caller = await start(framework, { serviceName: 'caller', tracing: fastExport(endpoint) }, {
      inUsers: async () => (await fetch(`${callee.url}/users/7`)).status,
    });
    const res = await fetch(`${caller.url}/users/1`, { headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01` } });
    expect(((await res.json()) as { extra: number }).extra).toBe(200);
    await callee.obs.shutdown();
    await caller.obs.shutdown();
    const spans = await receiver.waitFor(3);
    expect(spans).toHaveLength(3);
    const server = spans.find((s) => s.resource['service.name'] === 'caller' && s.kind === SERVER_KIND)!;
    const client = spans.find((s) => s.kind === CLIENT_KIND)!;
    const callee2 = spans.find((s) => s.resource['service.name'] === 'callee')!;
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([PARENT_TRACE]));
    expect(server.parentSpanId).toBe(PARENT_SPAN);
    expect(client.parentSpanId).toBe(server.spanId);
    expect(client.resource['service.name']).toBe('caller');
    expect(callee2.parentSpanId).toBe(client.spanId);
    expect(callee2.name).toBe('GET /users/:id');
    expect(client.name).toBe('GET');
    expect(client.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(callee.url).port),
      'url.full': `${callee.url}/users/7`,
      'http.response.status_code': 200,
    });
  });

  it('http.request: a CLIENT span with traceparent, the callee continues the trace', async () => {
    const callee = await start('node-http', { serviceName: 'callee', tracing: fastExport(endpoint) });
    const caller = await start(framework, { serviceName: 'caller', tracing: fastExport(endpoint) }, {
      inUsers: () =>
        new Promise<number>((resolve, reject) => {
          const req = httpRequest(`${callee.url}/unavailable`, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
        }),
    });
    const res = await fetch(`${caller.url}/users/1`);
    expect(((await res.json()) as { extra: number }).extra).toBe(503);
    await callee.obs.shutdown();
    await caller.obs.shutdown();
    const spans = await receiver.waitFor(3);
    expect(spans).toHaveLength(3);
    const server = spans.find((s) => s.resource['service.name'] === 'caller' && s.kind === SERVER_KIND)!;
    const client = spans.find((s) => s.kind === CLIENT_KIND)!;
    const callee2 = spans.find((s) => s.resource['service.name'] === 'callee')!;
    expect(client.traceId).toBe(server.traceId);
    expect(callee2.traceId).toBe(server.traceId);
    expect(client.parentSpanId).toBe(server.spanId);
    expect(callee2.parentSpanId).toBe(client.spanId);
    expect(client.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.full': `${callee.url}/unavailable`,
      'http.response.status_code': 503,
      'error.type': '503',
    });
    expect(client.status.code).toBe(2);
  });
});

describe('outgoing calls outside a request', () => {
  it('get no CLIENT span and no traceparent', async () => {
    let seen: string | undefined = 'unset';
    const server = (await import('node:http')).createServer((req, res) => {
      seen = req.headers.traceparent as string | undefined;
      res.end('ok');
    });
    const { listen, closeServer } = await import('./helpers.js');
    const url = await listen(server);
    const caller = await start('fastify', { tracing: fastExport(endpoint) });
    await (await fetch(url)).text();
    expect(seen).toBe(undefined);
    await caller.obs.shutdown();
    expect(receiver.spans).toEqual([]);
    await closeServer(server);
  });

  it('a fetch that already carries traceparent is left alone', async () => {
    let seen: string | undefined;
    const { createServer } = await import('node:http');
    const { listen, closeServer } = await import('./helpers.js');
    const target = createServer((req, res) => {
      seen = req.headers.traceparent as string | undefined;
      res.end('ok');
    });
    const url = await listen(target);
    const mine = `00-${PARENT_TRACE}-${PARENT_SPAN}-01`;
    const caller = await start('fastify', { tracing: fastExport(endpoint) }, {
      inUsers: async () => (await fetch(url, { headers: { traceparent: mine } })).status,
    });
    await (await fetch(`${caller.url}/users/1`)).text();
    await caller.obs.shutdown();
    const spans = await receiver.waitFor(1);
    expect(seen).toBe(mine);
    expect(spans.map((s) => s.kind)).toEqual([SERVER_KIND]);
    await closeServer(target);
  });
});

describe('with nothing exported (exporter none, the default without an endpoint)', () => {
  it.each([
    ['01', 'sampled'],
    ['00', 'unsampled'],
  ])('the %s (%s) decision of the caller reaches the callee through an outgoing fetch', async (flags) => {
    const { createServer } = await import('node:http');
    const { listen, closeServer } = await import('./helpers.js');
    let seen: string | undefined;
    const target = createServer((req, res) => {
      seen = req.headers.traceparent as string | undefined;
      res.end('ok');
    });
    const url = await listen(target);
    const caller = await start('express', { tracing: { exporter: 'none' } }, {
      inUsers: async () => (await fetch(url)).status,
    });
    const body = (await (await fetch(`${caller.url}/users/1`, { headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-${flags}` } })).json()) as {
      active: { traceId: string; spanId: string };
    };
    await closeServer(target);
    expect(body.active.traceId).toBe(PARENT_TRACE);
    expect(body.active.spanId).toMatch(/^[0-9a-f]{16}$/);
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(seen ?? '');
    expect(m?.[1]).toBe(PARENT_TRACE);
    // A CLIENT span of its own: neither the caller's nor the request span's ID.
    expect(m?.[2]).not.toBe(PARENT_SPAN);
    expect(m?.[2]).not.toBe(body.active.spanId);
    expect(m?.[3]).toBe(flags);
  });

  it('samples new traces by ratio exactly as the SDK TraceIdRatioBasedSampler does', async () => {
    const { decidedSpans } = await import('../../src/tracing/index.js');
    const { PooledIdGenerator } = await import('../../src/tracing/ids.js');
    const { TraceIdRatioBasedSampler } = await import('@opentelemetry/sdk-trace');
    const { ROOT_CONTEXT } = await import('@opentelemetry/api');
    const start = decidedSpans({ parentBased: true, ratio: 0.3 }, new PooledIdGenerator());
    const sdk = new TraceIdRatioBasedSampler(0.3);
    let sampled = 0;
    for (let i = 0; i < 2000; i++) {
      const sc = start('x', undefined, ROOT_CONTEXT).spanContext();
      const decision = sdk.shouldSample(ROOT_CONTEXT, sc.traceId).decision;
      expect(sc.traceFlags).toBe(decision === 2 ? 1 : 0);
      sampled += sc.traceFlags;
    }
    expect(sampled).toBeGreaterThan(450);
    expect(sampled).toBeLessThan(750);
  });
});

describe('sampling decided before the SDK is asked', () => {
  it('hands the SDK exactly the sampled spans, on the trace ID it decided, and makes the rest non-recording', async () => {
    const { decidedSpans } = await import('../../src/tracing/index.js');
    const { PooledIdGenerator } = await import('../../src/tracing/ids.js');
    const { TracerProvider, ParentBasedSampler, TraceIdRatioBasedSampler } = await import('@opentelemetry/sdk-trace');
    const { ROOT_CONTEXT, trace, TraceFlags } = await import('@opentelemetry/api');
    const { suppressTracing } = await import('@opentelemetry/core');
    const ids = new PooledIdGenerator();
    const recorded: string[] = [];
    const provider = new TracerProvider({
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.3) }),
      idGenerator: ids,
      spanProcessors: [{ onStart: () => {}, onEnd: (span) => recorded.push(span.spanContext().traceId), forceFlush: async () => {}, shutdown: async () => {} }],
    });
    const start = decidedSpans({ parentBased: true, ratio: 0.3 }, ids, provider.getTracer('t'));
    const ratio = new TraceIdRatioBasedSampler(0.3);
    const sampledIds: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const span = start('x', undefined, ROOT_CONTEXT);
      const sc = span.spanContext();
      expect(span.isRecording()).toBe(sc.traceFlags === TraceFlags.SAMPLED);
      expect(ratio.shouldSample(ROOT_CONTEXT, sc.traceId).decision).toBe(sc.traceFlags === TraceFlags.SAMPLED ? 2 : 0);
      if (span.isRecording()) sampledIds.push(sc.traceId);
      span.end();
    }
    expect(recorded).toEqual(sampledIds);
    expect(sampledIds.length).toBeGreaterThan(450);
    expect(sampledIds.length).toBeLessThan(750);

    // A remote parent decides: sampled goes to the SDK as a child on its trace, unsampled stays light.
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const remote = (flags: number) => trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: 'b7ad6b7169203331', traceFlags: flags, isRemote: true });
    const child = start('c', undefined, remote(TraceFlags.SAMPLED));
    expect(child.isRecording()).toBe(true);
    expect(child.spanContext().traceId).toBe(traceId);
    expect((child as unknown as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    const light = start('c', undefined, remote(TraceFlags.NONE));
    expect(light.isRecording()).toBe(false);
    expect(light.spanContext().traceId).toBe(traceId);
    expect(light.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(light.spanContext().spanId).not.toBe('b7ad6b7169203331');
    // Suppressed (the exporter's own calls): the SDK's answer, an invalid span.
    expect(start('s', undefined, suppressTracing(ROOT_CONTEXT)).spanContext().traceId).toBe('00000000000000000000000000000000');
    await provider.shutdown();
  });
});

describe('tracing.outgoing: false', () => {
  it('leaves outgoing calls alone', async () => {
    const { createServer } = await import('node:http');
    const { listen, closeServer } = await import('./helpers.js');
    let seen: string | undefined = 'unset';
    const target = createServer((req, res) => {
      seen = req.headers.traceparent as string | undefined;
      res.end('ok');
    });
    const url = await listen(target);
    const caller = await start('fastify', { tracing: { ...fastExport(endpoint), outgoing: false } }, {
      inUsers: async () => (await fetch(url)).status,
    });
    await (await fetch(`${caller.url}/users/1`)).text();
    await caller.obs.shutdown();
    await closeServer(target);
    expect(seen).toBe(undefined);
    expect(receiver.spans.map((s) => s.kind)).toEqual([SERVER_KIND]);
  });
});
