import { propagation } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from './frameworks.js';
import type { TestApp } from './frameworks.js';
import { fastExport, PARENT_SPAN, PARENT_TRACE, Receiver, TRACEPARENT } from './helpers.js';

// The OTel variables that reach the exporter and the propagators, proven with a real OTLP
// receiver and real requests. instrument() reads process.env, so each test sets and restores it.

const VARS = ['OTEL_EXPORTER_OTLP_COMPRESSION', 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'OTEL_PROPAGATORS'];

describe('OTEL_* variables on the wire', () => {
  let receiver: Receiver;
  let endpoint: string;
  let app: TestApp | undefined;
  const saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));
  beforeAll(async () => {
    receiver = new Receiver();
    endpoint = await receiver.start();
  });
  afterAll(() => receiver.close());
  afterEach(async () => {
    for (const v of VARS) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
    await app?.obs.shutdown();
    await app?.close();
    app = undefined;
    receiver.spans.length = 0;
    receiver.contentTypes.length = 0;
    receiver.contentEncodings.length = 0;
    receiver.headers.length = 0;
  });

  const options = () => ({ serviceName: 'svc', version: '1', shutdown: false as const, tracing: fastExport(endpoint) });

  it.each([
    ['OTEL_EXPORTER_OTLP_COMPRESSION=gzip', { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }, {}],
    ['OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=gzip over OTEL_EXPORTER_OTLP_COMPRESSION=none', { OTEL_EXPORTER_OTLP_COMPRESSION: 'none', OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip' }, {}],
    ["tracing.compression: 'gzip'", {}, { compression: 'gzip' as const }],
  ])('%s: the receiver gets gzip bodies and decodes the spans', async (_name, env, tracingOptions) => {
    Object.assign(process.env, env);
    app = await startApp('fastify', { ...options(), tracing: { ...fastExport(endpoint), ...tracingOptions } });
    await (await fetch(`${app.url}/users/7`, { headers: { traceparent: TRACEPARENT } })).text();
    await app.obs.shutdown();
    const [span] = await receiver.waitFor(1);
    expect(receiver.contentEncodings).toEqual(['gzip']);
    expect(receiver.contentTypes).toEqual(['application/x-protobuf']);
    expect(span).toMatchObject({ traceId: PARENT_TRACE, parentSpanId: PARENT_SPAN, name: 'GET /users/:id' });
  });

  it('without compression the bodies are plain', async () => {
    app = await startApp('fastify', options());
    await (await fetch(`${app.url}/users/7`)).text();
    await app.obs.shutdown();
    await receiver.waitFor(1);
    expect(receiver.contentEncodings).toEqual(['']);
  });

  it('OTEL_EXPORTER_OTLP_TRACES_HEADERS is merged over OTEL_EXPORTER_OTLP_HEADERS, and tracing.headers over both', async () => {
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-api-key=general,x-tenant=general';
    process.env.OTEL_EXPORTER_OTLP_TRACES_HEADERS = 'x-tenant=traces,x-team=a%20b';
    app = await startApp('express', { ...options(), tracing: { ...fastExport(endpoint), headers: { 'x-team': 'code' } } });
    await (await fetch(`${app.url}/users/1`)).text();
    await app.obs.shutdown();
    await receiver.waitFor(1);
    const [headers] = receiver.headers;
    expect([headers!['x-api-key'], headers!['x-tenant'], headers!['x-team']]).toEqual(['general', 'traces', 'code']);
  });

  it('OTEL_PROPAGATORS=none: a request with traceparent and baggage starts a new trace and carries no baggage', async () => {
    process.env.OTEL_PROPAGATORS = 'none';
    app = await startApp('fastify', options(), { inUsers: async () => propagation.getActiveBaggage()?.getAllEntries() ?? null });
    const res = await fetch(`${app.url}/users/1`, { headers: { traceparent: TRACEPARENT, baggage: 'tenant=acme' } });
    const body = (await res.json()) as { active: { traceId: string }; extra: unknown };
    expect(body.active.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(body.active.traceId).not.toBe(PARENT_TRACE);
    expect(body.extra).toBe(null);
    await app.obs.shutdown();
    const [span] = await receiver.waitFor(1);
    expect(span).toMatchObject({ traceId: body.active.traceId, parentSpanId: '' });
  });

  it('by default the same request continues the trace and carries the baggage', async () => {
    app = await startApp('fastify', options(), { inUsers: async () => propagation.getActiveBaggage()?.getAllEntries() ?? null });
    const res = await fetch(`${app.url}/users/1`, { headers: { traceparent: TRACEPARENT, baggage: 'tenant=acme' } });
    const body = (await res.json()) as { active: { traceId: string }; extra: unknown };
    expect(body.active.traceId).toBe(PARENT_TRACE);
    expect(body.extra).toEqual([['tenant', { value: 'acme' }]]);
  });
});
