import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from './frameworks.js';
import type { TestApp } from './frameworks.js';
import { PARENT_SPAN, PARENT_TRACE } from './helpers.js';

// This file registers OpenTelemetry globals, as an app with its own SDK does; vitest runs each
// test file in its own worker context, so the other files never see them.
describe('an app that registered its own global TracerProvider', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const contextManager = new AsyncLocalStorageContextManager();
  const propagator = new W3CTraceContextPropagator();
  let app: TestApp;
  beforeAll(async () => {
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(propagator);
    trace.setGlobalTracerProvider(provider);
    app = await startApp('fastify', { tracing: { endpoint: 'http://127.0.0.1:9/' } });
  });
  afterAll(async () => {
    await app.obs.shutdown();
    await app.close();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  it('gets its spans from that provider, and periscope registers nothing over the app globals', async () => {
    const res = await fetch(`${app.url}/users/5`, { headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01` } });
    expect(res.status).toBe(200);
    await app.obs.withSpan('step', () => undefined);
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.name === 'GET /users/:id')!;
    expect(server.instrumentationScope.name).toBe('periscope');
    expect(server.spanContext().traceId).toBe(PARENT_TRACE);
    expect(server.parentSpanContext?.spanId).toBe(PARENT_SPAN);
    expect(spans.map((s) => s.name).sort()).toEqual(['GET /users/:id', 'step']);
    // The globals are still the app's own objects.
    expect((trace.getTracerProvider() as unknown as { getDelegate(): unknown }).getDelegate()).toBe(provider);
    expect(propagation.fields()).toEqual(propagator.fields());
  });
});
