import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readEnv, resolveOptions } from '../../src/options.js';
import { resolveWith, thrown } from '../helpers/options.js';
import type { ResolvedTracingOptions } from '../../src/tracing/options.js';
import { startApp } from './frameworks.js';
import type { TestApp } from './frameworks.js';
import { fastExport, PARENT_SPAN, PARENT_TRACE, Receiver } from './helpers.js';

function tracing(options: unknown, env: NodeJS.ProcessEnv = {}): ResolvedTracingOptions | false {
  return resolveWith({ tracing: options }, env).resolved.tracing;
}

describe('tracing options and OTEL_* environment variables', () => {
  it('defaults: no endpoint, no exporter, parent-based always-on, bounded queue', () => {
    expect(tracing(undefined)).toEqual({
      endpoint: undefined,
      exporter: 'none',
      protocol: 'http/protobuf',
      compression: 'none',
      sampler: { parentBased: true, ratio: 1 },
      headers: {},
      resourceAttributes: {},
      propagators: ['tracecontext', 'baggage'],
      outgoing: true,
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
      scheduledDelayMillis: 5000,
      exportTimeoutMillis: 10_000,
      shutdownTimeoutMillis: 5000,
    });
  });

  it('endpoint: the option wins, then the traces variable as is, then the base variable with /v1/traces', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/custom' };
    expect(tracing({ endpoint: 'http://opt:4318/' }, env)).toMatchObject({ endpoint: 'http://opt:4318/v1/traces', exporter: 'otlp' });
    expect(tracing({ endpoint: 'http://opt:4318/v1/traces' }, env)).toMatchObject({ endpoint: 'http://opt:4318/v1/traces' });
    expect(tracing(true, env)).toMatchObject({ endpoint: 'http://traces:4318/custom', exporter: 'otlp' });
    expect(tracing(true, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318' })).toMatchObject({ endpoint: 'http://base:4318/v1/traces', exporter: 'otlp' });
  });

  it('protocol: the option wins, then OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, then OTEL_EXPORTER_OTLP_PROTOCOL, then http/protobuf', () => {
    const both = { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' };
    expect(tracing({ protocol: 'http/json' }, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' })).toMatchObject({ protocol: 'http/json' });
    expect(tracing(true, both)).toMatchObject({ protocol: 'http/protobuf' });
    expect(tracing(true, { OTEL_EXPORTER_OTLP_PROTOCOL: 'HTTP/JSON' })).toMatchObject({ protocol: 'http/json' });
    expect(tracing(true, {})).toMatchObject({ protocol: 'http/protobuf' });
  });

  it('exporter: the option wins over OTEL_TRACES_EXPORTER; otlp without an endpoint means localhost:4318', () => {
    expect(tracing({ exporter: 'console' }, { OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({ exporter: 'console' });
    expect(tracing(true, { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toMatchObject({ exporter: 'none' });
    expect(tracing(true, { OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({ exporter: 'otlp', endpoint: 'http://localhost:4318/v1/traces' });
  });

  it('sampler: sampleRatio wins; each OTEL_TRACES_SAMPLER value maps to a ratio and parent-basing', () => {
    const s = (env: NodeJS.ProcessEnv, option?: number) => (tracing(option === undefined ? true : { sampleRatio: option }, env) as ResolvedTracingOptions).sampler;
    expect(s({ OTEL_TRACES_SAMPLER: 'always_off' }, 0.25)).toEqual({ parentBased: true, ratio: 0.25 });
    expect(s({ OTEL_TRACES_SAMPLER: 'always_on' })).toEqual({ parentBased: false, ratio: 1 });
    expect(s({ OTEL_TRACES_SAMPLER: 'always_off' })).toEqual({ parentBased: false, ratio: 0 });
    expect(s({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' })).toEqual({ parentBased: false, ratio: 0.1 });
    expect(s({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' })).toEqual({ parentBased: true, ratio: 0.5 });
    expect(s({ OTEL_TRACES_SAMPLER: 'PARENTBASED_ALWAYS_OFF' })).toEqual({ parentBased: true, ratio: 0 });
  });

  it('resource attributes: parsed from OTEL_RESOURCE_ATTRIBUTES, the option wins per key', () => {
    expect(tracing(true, { OTEL_RESOURCE_ATTRIBUTES: 'a=1, b = two%20words ,c=%E2%82%AC' })).toMatchObject({ resourceAttributes: { a: '1', b: 'two words', c: '€' } });
    expect(tracing({ resourceAttributes: { b: 3 } }, { OTEL_RESOURCE_ATTRIBUTES: 'a=1,b=2' })).toMatchObject({ resourceAttributes: { a: '1', b: 3 } });
  });

  it('service name: OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES; the option wins', () => {
    expect(resolveOptions({}, readEnv({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' })).serviceName).toBe('from-attrs');
    expect(resolveOptions({}, readEnv({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs', OTEL_SERVICE_NAME: 'from-name' })).serviceName).toBe('from-name');
    expect(resolveOptions({ serviceName: 'opt' }, readEnv({ OTEL_SERVICE_NAME: 'from-name' })).serviceName).toBe('opt');
  });

  it('OTEL_SDK_DISABLED=true turns tracing off unless the code asks for it', () => {
    expect(tracing(undefined, { OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracing({ exporter: 'console' }, { OTEL_SDK_DISABLED: 'true' })).toMatchObject({ exporter: 'console' });
    expect(tracing(false)).toBe(false);
  });

  it.each([
    [{ tracing: 'yes' }, 'tracing', 'got "yes"; allowed: true, false or an object of tracing options'],
    [{ tracing: { exporter: 'jaeger' } }, 'tracing.exporter', `got "jaeger"; allowed: 'otlp', 'console' or 'none'`],
    [{ tracing: { sampleRatio: 1.5 } }, 'tracing.sampleRatio', 'got 1.5; allowed: a number from 0 to 1'],
    [{ tracing: { endpoint: 'ftp://x' } }, 'tracing.endpoint', 'got "ftp://x"; allowed: an http:// or https:// URL'],
    [{ tracing: { endpoint: 'not a url' } }, 'tracing.endpoint', 'got "not a url"; allowed: an http:// or https:// URL'],
    [{ tracing: { maxQueueSize: 0 } }, 'tracing.maxQueueSize', 'got 0; allowed: an integer from 1 to 1000000'],
    [{ tracing: { maxQueueSize: 10, maxExportBatchSize: 20 } }, 'tracing.maxExportBatchSize', 'got 20; allowed: at most tracing.maxQueueSize (10)'],
    [{ tracing: { headers: { a: 1 } } }, 'tracing.headers', 'got an object; allowed: an object of string header values'],
    [{ tracing: { outgoing: 'no' } }, 'tracing.outgoing', 'got "no"; allowed: true or false'],
  ])('%j throws PERISCOPE_ERR_INVALID_OPTION naming %s', (options, option, detail) => {
    const e = thrown(() => resolveOptions(options, readEnv({})));
    expect(e.code).toBe('PERISCOPE_ERR_INVALID_OPTION');
    expect(e.option).toBe(option);
    expect(e.message).toBe(`PERISCOPE_ERR_INVALID_OPTION: Invalid option \`${option}\`: ${detail}.`);
  });

  it('an unknown tracing option is named with the known ones', () => {
    const e = thrown(() => resolveOptions({ tracing: { sampleRate: 1 } }, readEnv({})));
    expect(e.code).toBe('PERISCOPE_ERR_UNKNOWN_OPTION');
    expect(e.option).toBe('tracing.sampleRate');
  });

  it.each([
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER'],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: 'half' }, 'OTEL_TRACES_SAMPLER_ARG'],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL'],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/xml' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'],
  ])('a bad environment value %j does not throw: one warning naming the variable, and the defaults', (env, name) => {
    const { resolved, warnings } = resolveWith({}, env);
    expect(warnings.map((w) => w.variable)).toEqual([name]);
    expect(resolved.tracing).toEqual(tracing(undefined));
  });
});

describe('sampling and resource in exported spans', () => {
  let receiver: Receiver;
  let endpoint: string;
  let app: TestApp | undefined;
  const saved = process.env.OTEL_RESOURCE_ATTRIBUTES;
  beforeAll(async () => {
    receiver = new Receiver();
    endpoint = await receiver.start();
  });
  afterAll(() => receiver.close());
  afterEach(async () => {
    if (saved === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    else process.env.OTEL_RESOURCE_ATTRIBUTES = saved;
    await app?.obs.shutdown();
    await app?.close();
    app = undefined;
    receiver.spans.length = 0;
    receiver.contentTypes.length = 0;
  });

  it('sampleRatio 0: new traces are not exported, handlers still have trace ids; a sampled parent is followed', async () => {
    app = await startApp('fastify', { tracing: { ...fastExport(endpoint), sampleRatio: 0 } });
    const body = (await (await fetch(`${app.url}/users/1`)).json()) as { active: { traceId: string } };
    expect(body.active.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(body.active.traceId).not.toBe('0'.repeat(32));
    await (await fetch(`${app.url}/users/2`, { headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01` } })).text();
    await app.obs.shutdown();
    expect(receiver.spans.map((s) => s.traceId)).toEqual([PARENT_TRACE]);
  });

  it.each([
    [undefined, 'application/x-protobuf'],
    ['http/json', 'application/json'],
  ] as const)('protocol %s: spans are sent as %s and arrive whole', async (protocol, contentType) => {
    app = await startApp('fastify', { tracing: { ...fastExport(endpoint), ...(protocol ? { protocol } : {}) } });
    await (await fetch(`${app.url}/users/7`, { headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01` } })).text();
    await app.obs.shutdown();
    const [span] = await receiver.waitFor(1);
    expect(receiver.contentTypes).toEqual([contentType]);
    expect(span).toMatchObject({
      traceId: PARENT_TRACE,
      parentSpanId: PARENT_SPAN,
      name: 'GET /users/:id',
      kind: 2,
      status: { code: 0 },
      attributes: { 'http.request.method': 'GET', 'http.route': '/users/:id', 'url.path': '/users/7', 'http.response.status_code': 200 },
    });
    expect(span!.spanId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('OTEL_RESOURCE_ATTRIBUTES and host attributes reach the exported resource', async () => {
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment.name=staging,team=core';
    app = await startApp('express', { serviceName: 'svc', tracing: fastExport(endpoint) });
    await (await fetch(`${app.url}/users/1`)).text();
    await app.obs.shutdown();
    const [span] = await receiver.waitFor(1);
    const { hostname } = await import('node:os');
    expect(span!.resource).toMatchObject({
      'service.name': 'svc',
      'deployment.environment.name': 'staging',
      team: 'core',
      'host.name': hostname(),
      'telemetry.sdk.language': 'nodejs',
      'process.runtime.name': 'nodejs',
    });
  });
});
