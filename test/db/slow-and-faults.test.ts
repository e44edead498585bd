import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { createClient } from 'redis';
import { instrument } from '../../src/index.js';
import type { Periscope } from '../../src/index.js';
import { CLIENT_KIND, fastExport, STATUS_ERROR } from '../tracing/helpers.js';
import { freePort, lineSink, PG, traceReceiver } from './helpers.js';

const otlp = traceReceiver();

let app: FastifyInstance | undefined;
let obs: Periscope | undefined;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  await obs?.shutdown();
  await app?.close();
  for (const c of cleanups.splice(0).reverse()) await c();
  app = undefined;
  obs = undefined;
  otlp.receiver.spans.length = 0;
});

describe('slow queries', () => {
  it('SELECT pg_sleep(0.3) over slowQueryMs 200 logs exactly one slow line with the trace ID and pool state, and counts it', async () => {
    const logs = lineSink();
    app = Fastify();
    obs = instrument(app, { shutdown: false, tracing: fastExport(otlp.endpoint), logging: { destination: logs.destination, requests: false }, db: { slowQueryMs: 200 } });
    const pool = obs.instrumentPostgres(new pg.Pool({ ...PG, max: 3 }), { name: 'main' });
    cleanups.push(() => pool.end());
    app.get('/slow', async () => {
      await pool.query('SELECT 1');
      await pool.query('SELECT pg_sleep(0.3)');
      return 'ok';
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    expect((await fetch(`${url}/slow`)).status).toBe(200);
    const spans = await otlp.receiver.waitFor(3);
    const traceId = spans[0]!.traceId;

    const slow = logs.lines.filter((l) => l.msg === 'slow database operation');
    expect(slow).toHaveLength(1);
    expect(slow[0]).toMatchObject({
      level: 'warn',
      trace_id: traceId,
      db_system_name: 'postgresql',
      db_operation_name: 'SELECT',
      db_query_text: 'SELECT pg_sleep(0.3)',
      slow_query_ms: 200,
      pool_name: 'main',
      pool: { total: 1, idle: 0, waiting: 0, max: 3 },
    });
    expect(slow[0]!.duration_ms).toBeGreaterThanOrEqual(300);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^db_client_slow_operations_total\{db_system_name="postgresql",db_operation_name="SELECT"\} 1$/m);
  });

  it('slowQueryMs: false logs nothing', async () => {
    const logs = lineSink();
    app = Fastify();
    obs = instrument(app, { shutdown: false, tracing: false, logging: { destination: logs.destination, requests: false }, db: { slowQueryMs: false } });
    const client = obs.instrumentPostgres(new pg.Client(PG), { name: 'c' });
    await client.connect();
    cleanups.push(() => client.end());
    await client.query('SELECT pg_sleep(0.05)');
    expect(logs.lines.filter((l) => l.msg === 'slow database operation')).toHaveLength(0);
  });
});

describe('a private Redis killed mid-test', () => {
  let port: number;
  let server: ChildProcess | undefined;

  async function startRedis(): Promise<void> {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    server.stdout!.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.on('data', (c: string) => {
        out += c;
        if (out.includes('Ready to accept connections')) resolve();
      });
      server!.once('exit', () => reject(new Error(`redis-server exited: ${out}`)));
    });
  }

  async function killRedis(): Promise<void> {
    const s = server!;
    server = undefined;
    s.kill('SIGKILL');
    await once(s, 'exit');
  }

  it('gives error spans, never crashes the app, and recovers when Redis is back', async () => {
    port = await freePort();
    await startRedis();
    cleanups.push(() => (server === undefined ? undefined : killRedis()));
    app = Fastify();
    obs = instrument(app, { shutdown: false, tracing: fastExport(otlp.endpoint), logging: false });
    const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: () => 20 }, disableOfflineQueue: true });
    client.on('error', () => {});
    await client.connect();
    cleanups.push(() => client.destroy());
    app.get('/r', async () => {
      try {
        return { ok: await client.get('periscope:fault') };
      } catch (error) {
        return { failed: (error as Error).constructor.name };
      }
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    expect(await (await fetch(`${url}/r`)).json()).toEqual({ ok: null });

    // node:events once() would reject on the client's 'error' events, which are expected here.
    const next = (event: string) => new Promise<void>((resolve) => client.once(event, () => resolve()));
    const reconnecting = next('reconnecting');
    await killRedis();
    await reconnecting;
    const down = (await (await fetch(`${url}/r`)).json()) as { failed?: string };
    expect(down.failed).toBeDefined();

    const ready = next('ready');
    await startRedis();
    await ready;
    expect(await (await fetch(`${url}/r`)).json()).toEqual({ ok: null });

    const spans = await otlp.receiver.waitFor(6);
    const gets = spans.filter((s) => s.kind === CLIENT_KIND && s.name === 'GET');
    expect(gets.map((s) => s.status.code)).toEqual([0, STATUS_ERROR, 0]);
    expect(gets[1]!.attributes['error.type']).toBe(down.failed);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^db_client_operation_duration_seconds_count\\{db_system_name="redis",db_operation_name="GET",error_type="${down.failed}"\\} 1$`, 'm'));
    expect(metrics).toMatch(/^db_client_operation_duration_seconds_count\{db_system_name="redis",db_operation_name="GET",error_type=""\} 2$/m);
  });
});
