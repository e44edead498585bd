import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeTraceRequest } from '../otlp-definitions.js';
import { startApp } from './frameworks.js';
import type { TestApp } from './frameworks.js';
import { closeServer, fastExport, listen, PARENT_SPAN, PARENT_TRACE, SERVER_KIND, TRACEPARENT } from './helpers.js';

interface Received {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { scope: { name: string }; spans: { traceId: string; parentSpanId: string; name: string; kind: number }[] }[];
  }[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A collector that answers the first request 503 with `Retry-After: 0`, then 200; it keeps every body. */
async function collector(): Promise<{ url: string; bodies: Buffer[]; types: string[] }> {
  const bodies: Buffer[] = [];
  const types: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      types.push(req.headers['content-type'] ?? '');
      if (bodies.length === 1) res.writeHead(503, { 'retry-after': '0' }).end();
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  const url = await listen(server);
  cleanups.push(() => closeServer(server));
  return { url, bodies, types };
}

describe('protobuf span export (periscope’s encoder in OpenTelemetry’s exporter transport)', () => {
  it('sends what the official definitions decode to the request’s span, and retries a 503 with the same bytes', async () => {
    const sink = await collector();
    const app: TestApp = await startApp('fastify', { serviceName: 'svc', version: '1.2.3', shutdown: false, tracing: fastExport(sink.url) });
    cleanups.push(() => app.close());
    await (await fetch(`${app.url}/users/7`, { headers: { traceparent: TRACEPARENT } })).text();
    await app.obs.shutdown();
    expect(sink.types).toEqual(['application/x-protobuf', 'application/x-protobuf']);
    expect(sink.bodies[1]!.equals(sink.bodies[0]!)).toBe(true);
    const request = decodeTraceRequest(sink.bodies[1]!) as Received;
    expect(request.resourceSpans).toHaveLength(1);
    const [rs] = request.resourceSpans;
    expect(rs!.resource.attributes.find((kv) => kv.key === 'service.name')?.value).toEqual({ stringValue: 'svc' });
    expect(rs!.scopeSpans.map((ss) => ss.scope.name)).toEqual(['periscope']);
    expect(rs!.scopeSpans[0]!.spans).toMatchObject([{ traceId: PARENT_TRACE, parentSpanId: PARENT_SPAN, name: 'GET /users/:id', kind: SERVER_KIND }]);
  });
});
