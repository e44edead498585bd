import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FRAMEWORKS, startApp } from './frameworks.js';
import type { TestApp } from './frameworks.js';
import { fastExport, PARENT_SPAN, PARENT_TRACE, Receiver, SERVER_KIND, STATUS_ERROR, TRACEPARENT } from './helpers.js';

let receiver: Receiver;
let endpoint: string;

beforeAll(async () => {
  receiver = new Receiver();
  endpoint = await receiver.start();
});
afterAll(() => receiver.close());

describe.each(FRAMEWORKS)('SERVER spans on %s', (framework) => {
  let app: TestApp;
  afterEach(async () => {
    await app.obs.shutdown();
    await app.close();
    receiver.spans.length = 0;
  });

  async function spansAfter(count: number) {
    await app.obs.shutdown();
    return receiver.waitFor(count);
  }

  it('continues the caller trace, names the span by route and sets the HTTP attributes', async () => {
    app = await startApp(framework, { serviceName: 'svc-a', version: '1.2.3', tracing: fastExport(endpoint) });
    const res = await fetch(`${app.url}/users/42?secret=x`, { headers: { traceparent: TRACEPARENT, 'user-agent': 'test-agent/1' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { active: { traceId: string; spanId: string } };
    const [span] = await spansAfter(1);
    expect(receiver.spans).toHaveLength(1);
    expect(span!.name).toBe('GET /users/:id');
    expect(span!.kind).toBe(SERVER_KIND);
    expect(span!.traceId).toBe(PARENT_TRACE);
    expect(span!.parentSpanId).toBe(PARENT_SPAN);
    // The handler saw this very span as active, after an await.
    expect(body.active).toEqual({ traceId: PARENT_TRACE, spanId: span!.spanId });
    expect(span!.status.code).toBe(0);
    const port = Number(new URL(app.url).port);
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/users/42',
      'url.scheme': 'http',
      'http.route': '/users/:id',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': port,
      'client.address': '127.0.0.1',
      'network.protocol.version': '1.1',
      'user_agent.original': 'test-agent/1',
    });
    expect(span!.attributes['url.query']).toBe(undefined);
    expect(span!.scope).toBe('periscope');
    expect(span!.resource).toMatchObject({ 'service.name': 'svc-a', 'service.version': '1.2.3', 'process.pid': process.pid });
  });

  it('starts a new root trace without traceparent and names unmatched requests by method only', async () => {
    app = await startApp(framework, { tracing: fastExport(endpoint) });
    expect((await fetch(`${app.url}/nowhere/${Math.random()}`)).status).toBe(404);
    const [span] = await spansAfter(1);
    expect(span!.name).toBe('GET');
    expect(span!.parentSpanId).toBe('');
    expect(span!.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span!.attributes['http.route']).toBe(undefined);
    expect(span!.attributes['http.response.status_code']).toBe(404);
    expect(span!.status.code).toBe(0);
  });

  it('marks a 5xx answer as an error', async () => {
    app = await startApp(framework, { tracing: fastExport(endpoint) });
    expect((await fetch(`${app.url}/unavailable`)).status).toBe(503);
    const [span] = await spansAfter(1);
    expect(span!.name).toBe('GET /unavailable');
    expect(span!.status.code).toBe(STATUS_ERROR);
    expect(span!.attributes['error.type']).toBe('503');
    expect(span!.events).toEqual([]);
  });

  it('keeps the request span active in the handler of a request with a body', async () => {
    app = await startApp(framework, { tracing: fastExport(endpoint) });
    // The body arrives in two socket reads, so the handler continues from a later socket callback.
    const chunks = ['{"hello":', '"world"}'];
    const body2 = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = chunks.shift();
        if (next === undefined) return controller.close();
        await new Promise((r) => setTimeout(r, 20));
        controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const res = await fetch(`${app.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '17', traceparent: TRACEPARENT },
      body: body2,
      duplex: 'half',
    } as RequestInit);
    const body = (await res.json()) as { active: { traceId: string; spanId: string } | null };
    const [span] = await spansAfter(1);
    expect(span!.name).toBe('POST /echo');
    expect(body.active).toEqual({ traceId: PARENT_TRACE, spanId: span!.spanId });
  });

  it("periscope's own endpoints are not traced", async () => {
    app = await startApp(framework, { tracing: fastExport(endpoint) });
    expect((await fetch(`${app.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${app.url}/users/1`)).status).toBe(200);
    const spans = await spansAfter(1);
    expect(spans.map((s) => s.name)).toEqual(['GET /users/:id']);
  });

  if (framework !== 'node-http') {
    it('records a thrown error as an exception event with status ERROR', async () => {
      app = await startApp(framework, { tracing: fastExport(endpoint) });
      expect((await fetch(`${app.url}/boom`)).status).toBe(500);
      const [span] = await spansAfter(1);
      expect(span!.name).toBe('GET /boom');
      expect(span!.status).toEqual({ code: STATUS_ERROR, message: 'kaboom' });
      expect(span!.attributes['error.type']).toBe('TypeError');
      expect(span!.attributes['http.response.status_code']).toBe(500);
      expect(span!.events).toHaveLength(1);
      expect(span!.events[0]!.name).toBe('exception');
      expect(span!.events[0]!.attributes['exception.type']).toBe('TypeError');
      expect(span!.events[0]!.attributes['exception.message']).toBe('kaboom');
      expect(String(span!.events[0]!.attributes['exception.stacktrace'])).toContain('TypeError: kaboom');
    });

    it('records a thrown client error (4xx) as an event but leaves the status unset', async () => {
      app = await startApp(framework, { tracing: fastExport(endpoint) });
      expect((await fetch(`${app.url}/client-error`)).status).toBe(400);
      const [span] = await spansAfter(1);
      expect(span!.status.code).toBe(0);
      expect(span!.events.map((e) => e.attributes['exception.message'])).toEqual(['bad input']);
      expect(span!.attributes['error.type']).toBe(undefined);
    });
  }
});

describe('a server started inside a span', () => {
  it('still gives each request its own root SERVER span, not a child of the startup span', async () => {
    const { createServer } = await import('node:http');
    const { instrument } = await import('../../src/index.js');
    const { listen, closeServer } = await import('./helpers.js');
    const server = createServer((_req, res) => res.end('ok'));
    const obs = instrument(server, { routes: ['/x'], tracing: fastExport(endpoint) });
    const url = await obs.withSpan('startup', () => listen(server));
    await (await fetch(`${url}/x`)).text();
    await obs.shutdown();
    await closeServer(server);
    const spans = await receiver.waitFor(2);
    const request = spans.find((s) => s.name === 'GET /x')!;
    const startup = spans.find((s) => s.name === 'startup')!;
    expect(request.kind).toBe(SERVER_KIND);
    expect(request.parentSpanId).toBe('');
    expect(request.traceId).not.toBe(startup.traceId);
    receiver.spans.length = 0;
  });
});

describe('edge requests on node:http', () => {
  it('an unknown method is named HTTP, recorded as _OTHER with the original kept', async () => {
    const { createServer, request } = await import('node:http');
    const { instrument } = await import('../../src/index.js');
    const { listen, closeServer } = await import('./helpers.js');
    const server = createServer((_req, res) => res.end('ok'));
    const obs = instrument(server, { routes: ['/cache/:key'], tracing: fastExport(endpoint) });
    const url = new URL(await listen(server));
    await new Promise<void>((resolve, reject) => {
      request({ host: url.hostname, port: url.port, path: '/cache/a', method: 'PURGE' }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    await obs.shutdown();
    await closeServer(server);
    const [span] = await receiver.waitFor(1);
    expect(span!.name).toBe('HTTP /cache/:key');
    expect(span!.attributes['http.request.method']).toBe('_OTHER');
    expect(span!.attributes['http.request.method_original']).toBe('PURGE');
    receiver.spans.length = 0;
  });

  it('a request the client abandons ends its span, without a status code', async () => {
    const { createServer } = await import('node:http');
    const { instrument } = await import('../../src/index.js');
    const { listen, closeServer } = await import('./helpers.js');
    let arrived!: () => void;
    const reached = new Promise<void>((r) => (arrived = r));
    const server = createServer(() => arrived());
    const obs = instrument(server, { routes: ['/slow'], tracing: fastExport(endpoint) });
    const url = await listen(server);
    const abort = new AbortController();
    const pending = fetch(`${url}/slow`, { signal: abort.signal }).catch((e: Error) => e.name);
    await reached;
    abort.abort();
    expect(await pending).toBe('AbortError');
    const [span] = await receiver.waitFor(1);
    await obs.shutdown();
    await closeServer(server);
    expect(span!.name).toBe('GET /slow');
    expect(span!.attributes['http.response.status_code']).toBe(undefined);
    expect(span!.status.code).toBe(0);
    receiver.spans.length = 0;
  });
});
