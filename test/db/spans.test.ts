import { afterEach, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { createClient } from 'redis';
import { Redis } from 'ioredis';
import { instrument } from '../../src/index.js';
import type { Periscope } from '../../src/index.js';
import { CLIENT_KIND, fastExport, SERVER_KIND, STATUS_ERROR } from '../tracing/helpers.js';
import type { ReceivedSpan } from '../tracing/helpers.js';
import { lineSink, PG, REDIS_URL, traceReceiver } from './helpers.js';

const otlp = traceReceiver();

let app: FastifyInstance | undefined;
let obs: Periscope | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await obs?.shutdown();
  await app?.close();
  for (const c of cleanups.splice(0)) await c();
  app = undefined;
  obs = undefined;
  otlp.receiver.spans.length = 0;
});

function byTrace(traceId: string): ReceivedSpan[] {
  return otlp.receiver.spans.filter((s) => s.traceId === traceId);
}

async function histogramCount(url: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`db_client_operation_duration_seconds_count{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe.each(['redis', 'ioredis'] as const)('one request with 3 queries and 2 %s commands', (driver) => {
  it('gives 1 SERVER span and 5 CLIENT children with the database conventions, and exact histogram counts', async () => {
    const logs = lineSink();
    app = Fastify();
    obs = instrument(app, { serviceName: 'db-test', shutdown: false, tracing: fastExport(otlp.endpoint), logging: { destination: logs.destination } });
    const pool = obs.instrumentPostgres(new pg.Pool({ ...PG, max: 2 }), { name: 'main' });
    cleanups.push(() => pool.end());
    let set: (k: string, v: string) => Promise<unknown>;
    let get: (k: string) => Promise<unknown>;
    if (driver === 'redis') {
      const client = createClient({ url: REDIS_URL });
      await client.connect();
      cleanups.push(() => client.close());
      set = (k, v) => client.set(k, v);
      get = (k) => client.get(k);
    } else {
      const client = new Redis(6379, '127.0.0.1');
      cleanups.push(async () => client.disconnect());
      set = (k, v) => client.set(k, v);
      get = (k) => client.get(k);
    }
    app.get('/work', async () => {
      const one = await pool.query('SELECT 1 AS one');
      await pool.query('SELECT $1::text AS secret', ['hunter2-secret']);
      // A client from pool.connect(), with the callback form.
      const client = await pool.connect();
      await new Promise<void>((resolve, reject) => client.query('SELECT count(*) FROM pg_class', (err) => (err ? reject(err) : resolve())));
      client.release();
      await set('periscope:db:k', 'hunter2-secret');
      await get('periscope:db:k');
      return { one: one.rows[0] };
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${url}/work`);
    expect(res.status).toBe(200);

    const all = await otlp.receiver.waitFor(6);
    const server = all.find((s) => s.kind === SERVER_KIND)!;
    const spans = byTrace(server.traceId);
    const clients = spans.filter((s) => s.kind === CLIENT_KIND);
    expect(spans.filter((s) => s.kind === SERVER_KIND)).toHaveLength(1);
    expect(clients).toHaveLength(5);
    for (const c of clients) expect(c.parentSpanId).toBe(server.spanId);
    expect(clients.map((c) => c.name).sort()).toEqual(['GET', 'SELECT', 'SELECT', 'SELECT', 'SET']);

    const setSpan = clients.find((c) => c.name === 'SET')!;
    expect(setSpan.attributes).toMatchObject({
      'db.system.name': 'redis',
      'db.operation.name': 'SET',
      'db.namespace': '0',
      'db.query.text': 'SET periscope:db:k ?',
      'server.address': '127.0.0.1',
      'server.port': 6379,
    });
    expect(clients.find((c) => c.name === 'GET')!.attributes['db.query.text']).toBe('GET periscope:db:k');

    const selects = clients.filter((c) => c.name === 'SELECT');
    const secret = selects.find((c) => c.attributes['db.query.text'] === 'SELECT $1::text AS secret')!;
    expect(secret.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT', 'db.namespace': 'test', 'server.address': '127.0.0.1', 'server.port': 5432 });
    expect(typeof secret.attributes['db.client.connection.wait_time']).toBe('number');
    expect(selects.find((c) => String(c.attributes['db.query.text']).includes('pg_class'))!.attributes['db.collection.name']).toBe('pg_class');

    // The histogram counted every call, exactly.
    expect(await histogramCount(url, 'db_system_name="postgresql",db_operation_name="SELECT",error_type=""')).toBe(3);
    expect(await histogramCount(url, 'db_system_name="redis",db_operation_name="SET",error_type=""')).toBe(1);
    expect(await histogramCount(url, 'db_system_name="redis",db_operation_name="GET",error_type=""')).toBe(1);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^db_client_connection_wait_time_seconds_count\{pool_name="main"\} 3$/m);
    expect(metrics).toMatch(/^db_client_connections\{pool_name="main",state="idle"\} 1$/m);

    // The secret is nowhere: spans, log lines, metrics.
    expect(JSON.stringify(otlp.receiver.spans)).not.toContain('hunter2');
    expect(logs.raw.join('')).not.toContain('hunter2');
    expect(metrics).not.toContain('hunter2');
  });
});

describe('exemplars', () => {
  it('the duration histogram carries the request trace id in OpenMetrics', async () => {
    app = Fastify();
    obs = instrument(app, { shutdown: false, tracing: { exporter: 'none' }, logging: false });
    const client = obs.instrumentPostgres(new pg.Client(PG), { name: 'c' });
    await client.connect();
    cleanups.push(() => client.end());
    app.get('/q', async () => (await client.query('SELECT 1')).rowCount);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    await (await fetch(`${url}/q`, { headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` } })).text();
    const om = await (await fetch(`${url}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } })).text();
    const lines = om.split('\n').filter((l) => l.startsWith('db_client_operation_duration_seconds_bucket') && l.includes(' # {'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`trace_id="${trace}"`);
  });
});

describe('errors', () => {
  it('a syntax error gives an ERROR span with error.type and a counted error', async () => {
    app = Fastify();
    obs = instrument(app, { shutdown: false, tracing: fastExport(otlp.endpoint), logging: false });
    const pool = obs.instrumentPostgres(new pg.Pool(PG), { name: 'main' });
    cleanups.push(() => pool.end());
    app.get('/bad', async () => {
      await pool.query('SELEC 1').catch(() => {});
      return 'ok';
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    expect((await fetch(`${url}/bad`)).status).toBe(200);
    const spans = await otlp.receiver.waitFor(2);
    const span = spans.find((s) => s.kind === CLIENT_KIND)!;
    expect(span.name).toBe('SELEC');
    expect(span.status.code).toBe(STATUS_ERROR);
    expect(span.attributes).toMatchObject({ 'error.type': '42601', 'db.response.status_code': '42601', 'db.query.text': 'SELEC 1' });
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
    expect(await histogramCount(url, 'db_system_name="postgresql",db_operation_name="SELEC",error_type="42601"')).toBe(1);
  });

  it('a data error keeps the offending value out of the span', async () => {
    app = Fastify();
    obs = instrument(app, { shutdown: false, tracing: fastExport(otlp.endpoint), logging: false });
    const pool = obs.instrumentPostgres(new pg.Pool(PG), { name: 'main' });
    cleanups.push(() => pool.end());
    app.get('/bad', async () => {
      await pool.query('SELECT $1::int', ['hunter2-secret']).catch(() => {});
      return 'ok';
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    await (await fetch(`${url}/bad`)).text();
    const spans = await otlp.receiver.waitFor(2);
    const span = spans.find((s) => s.kind === CLIENT_KIND)!;
    expect(span.attributes['error.type']).toBe('22P02');
    expect(JSON.stringify(spans)).not.toContain('hunter2');
  });
});

describe('db options', () => {
  it('db: { redis: false } leaves Redis alone; PostgreSQL still traced', async () => {
    app = Fastify();
    obs = instrument(app, { shutdown: false, tracing: fastExport(otlp.endpoint), logging: false, db: { redis: false } });
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    cleanups.push(() => client.close());
    const pool = obs.instrumentPostgres(new pg.Pool(PG), { name: 'main' });
    cleanups.push(() => pool.end());
    app.get('/r', async () => {
      await client.get('periscope:db:none');
      await pool.query('SELECT 1');
      return 'ok';
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    await (await fetch(`${url}/r`)).text();
    const spans = await otlp.receiver.waitFor(2);
    expect(spans.map((s) => s.name).sort()).toEqual(['GET /r', 'SELECT']);
    expect(await histogramCount(url, 'db_system_name="redis",db_operation_name="GET",error_type=""')).toBe(0);
  });

  it('with tracing off, metrics still record', async () => {
    app = Fastify();
    obs = instrument(app, { shutdown: false, tracing: false, logging: false });
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    cleanups.push(() => client.close());
    app.get('/r', async () => {
      await client.get('periscope:db:none');
      await client.multi().set('periscope:db:m', '1').get('periscope:db:m').exec();
      return 'ok';
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    await (await fetch(`${url}/r`)).text();
    expect(await histogramCount(url, 'db_system_name="redis",db_operation_name="GET",error_type=""')).toBe(1);
    // MULTI is one operation: its commands are not counted again.
    expect(await histogramCount(url, 'db_system_name="redis",db_operation_name="MULTI",error_type=""')).toBe(1);
    expect(await histogramCount(url, 'db_system_name="redis",db_operation_name="SET",error_type=""')).toBe(0);
  });

  it('rejects a bad slowQueryMs and a bad instrumentPostgres call with stable codes', () => {
    expect(() => instrument(Fastify(), { db: { slowQueryMs: 0 } })).toThrow(expect.objectContaining({ code: 'PERISCOPE_ERR_INVALID_OPTION', option: 'db.slowQueryMs' }));
    expect(() => instrument(Fastify(), { db: { redis: 'yes' as unknown as boolean } })).toThrow(expect.objectContaining({ code: 'PERISCOPE_ERR_INVALID_OPTION' }));
    app = Fastify();
    obs = instrument(app, { shutdown: false, logging: false });
    expect(() => obs!.instrumentPostgres({}, { name: 'x' })).toThrow(expect.objectContaining({ code: 'PERISCOPE_ERR_INVALID_ARGUMENT' }));
    expect(() => obs!.instrumentPostgres(new pg.Pool(PG), { name: 'has space' })).toThrow(/options.name/);
  });
});
