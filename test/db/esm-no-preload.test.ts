import { afterEach, describe, expect, it } from 'vitest';
import { RunningChild } from '../child-process.js';
import { CLIENT_KIND, SERVER_KIND } from '../tracing/helpers.js';
import { traceReceiver } from './helpers.js';

// The built package in a child process, as a user runs it: `node app.mjs`, no preload flag.
const fixture = new URL('./fixtures/esm-app.mjs', import.meta.url).pathname;

const otlp = traceReceiver();

let child: RunningChild | undefined;
afterEach(async () => {
  await child?.stop('SIGTERM');
  child = undefined;
  otlp.receiver.spans.length = 0;
});

describe.each(['redis', 'ioredis'])('an ESM Fastify app with %s and no preload', (driver) => {
  it('sends 1 SERVER span and 5 CLIENT children for 3 queries and 2 Redis commands', async () => {
    child = new RunningChild(process.execPath, [fixture], { env: { ...process.env, OTLP_URL: otlp.endpoint, DRIVER: driver, NODE_OPTIONS: '' } });
    const out = await child.until('listening ');
    const url = /listening (\S+)/.exec(out)![1]!;
    const res = await fetch(`${url}/orders/7`);
    expect(await res.json()).toEqual({ cached: 'cached' });

    const spans = await otlp.receiver.waitFor(6);
    expect(spans).toHaveLength(6);
    const server = spans.find((s) => s.kind === SERVER_KIND)!;
    expect(server.name).toBe('GET /orders/:id');
    const clients = spans.filter((s) => s.kind === CLIENT_KIND);
    expect(clients.map((s) => s.name)).toEqual(['SELECT', 'SELECT', 'SELECT', 'SET', 'GET']);
    for (const c of clients) {
      expect(c.traceId).toBe(server.traceId);
      expect(c.parentSpanId).toBe(server.spanId);
    }
    expect(clients.map((c) => c.attributes['db.system.name'])).toEqual(['postgresql', 'postgresql', 'postgresql', 'redis', 'redis']);
    expect(clients.map((c) => c.attributes['db.query.text'])).toEqual([
      'SELECT 1',
      'SELECT $1::int AS id',
      'SELECT count(*) AS n FROM pg_class',
      'SET order:7 ?',
      'GET order:7',
    ]);
    expect(clients[2]!.attributes['db.collection.name']).toBe('pg_class');
    expect(clients[3]!.attributes).toMatchObject({ 'db.namespace': '0', 'server.address': '127.0.0.1', 'server.port': 6379 });
    expect(child.stderr).toBe('');
  });
});
