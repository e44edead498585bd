import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from './frameworks.js';
import type { TestApp } from './frameworks.js';
import { fastExport, Receiver, SERVER_KIND } from './helpers.js';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

interface ChildSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
}

describe('interop with @opentelemetry/instrumentation-http', () => {
  let receiver: Receiver;
  let app: TestApp;
  beforeAll(async () => {
    receiver = new Receiver();
    app = await startApp('fastify', { tracing: fastExport(await receiver.start()) });
  });
  afterAll(async () => {
    await app.obs.shutdown();
    await app.close();
    await receiver.close();
  });

  it('a caller traced by the official HTTP instrumentation, in another process: the trace continues', async () => {
    const { stdout } = await run(process.execPath, [fixture('otel-http-client.cjs'), `${app.url}/users/9`], { timeout: 15_000 });
    const clientSpans = JSON.parse(stdout) as ChildSpan[];
    const root = clientSpans.find((s) => s.name === 'client-work')!;
    const client = clientSpans.find((s) => s.kind === SpanKind.CLIENT)!;
    expect(client.parentSpanId).toBe(root.spanId);
    await app.obs.shutdown();
    const [server] = await receiver.waitFor(1);
    expect(server!.kind).toBe(SERVER_KIND);
    expect(server!.name).toBe('GET /users/:id');
    expect(server!.traceId).toBe(root.traceId);
    expect(server!.parentSpanId).toBe(client.spanId);
  });
});

describe('periscope next to an app that runs the official HTTP instrumentation itself', () => {
  // The fixture loads periscope from dist/, which `npm test` builds first.
  it('makes no second SERVER span, continues the existing one and says so once', async () => {
    const { stdout } = await run(process.execPath, [fixture('double-server-span.mjs')], { timeout: 15_000 });
    const out = JSON.parse(stdout) as { spans: { name: string; kind: number; scope: string; spanId: string }[]; seen: string[]; warnings: string[] };
    const servers = out.spans.filter((s) => s.kind === SpanKind.SERVER);
    expect(servers).toHaveLength(3);
    expect(servers.every((s) => s.scope === '@opentelemetry/instrumentation-http')).toBe(true);
    expect(out.spans.filter((s) => s.scope === 'periscope')).toEqual([]);
    // The handler ran inside the instrumentation's span.
    expect(out.seen).toEqual(servers.map((s) => s.spanId));
    expect(out.warnings).toHaveLength(1);
    expect(out.warnings[0]).toContain('already made the SERVER span');
  });
});
