import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_VARS } from '../src/core/env.js';
import type { EnvVar } from '../src/core/env.js';
import { readEnv, resolveOptions } from '../src/options.js';
import type { EnvWarning, ResolvedOptions } from '../src/options.js';
import type { ResolvedTracingOptions } from '../src/tracing/options.js';
import type { ResolvedMetricsOptions } from '../src/metrics/options.js';
import type { ResolvedMetricsOtlpOptions } from '../src/metrics/otlp-options.js';

// Every variable periscope reads (src/core/env.ts ENV_VARS), each with a valid value that
// changes the resolved options exactly and an invalid one that warns once and leaves the
// default, as the OpenTelemetry environment-variable specification asks.

const identity = { serviceName: 'svc', version: '1.0.0' };

/** A secret file as Kubernetes mounts one: the value and a trailing newline. */
const SECRET_FILE = join(mkdtempSync(join(tmpdir(), 'periscope-env-')), 'secret');
writeFileSync(SECRET_FILE, 'from-a-file\n');

function resolve(env: NodeJS.ProcessEnv, options: Record<string, unknown> = identity): { resolved: ResolvedOptions; warnings: EnvWarning[] } {
  const warnings: EnvWarning[] = [];
  const resolved = resolveOptions(options, readEnv(env), (w) => warnings.push(w));
  return { resolved, warnings };
}

const tracing = (r: ResolvedOptions) => r.tracing as ResolvedTracingOptions;
const otlp = (r: ResolvedOptions) => (r.metrics as ResolvedMetricsOptions).otlp as ResolvedMetricsOtlpOptions | false;
const pushed = (r: ResolvedOptions) => otlp(r) as ResolvedMetricsOtlpOptions;
/** The OTLP metric push is on only when asked for: these rows ask through the environment. */
const pushing = { OTEL_METRICS_EXPORTER: 'otlp' };

interface Row {
  variable: EnvVar;
  /** Other variables the row needs set (the sampler for its argument). */
  with?: NodeJS.ProcessEnv;
  /** Options passed in code. */
  options?: Record<string, unknown>;
  pick: (r: ResolvedOptions) => unknown;
  valid: string;
  expected: unknown;
  /** null: every value is valid (free text, or a presence flag). */
  invalid: string | null;
  fallback?: unknown;
  /** The value the warning reports, when not the one set (header values are hidden). */
  reported?: string;
}

const ROWS: Row[] = [
  { variable: 'OTEL_SERVICE_NAME', options: { version: '1' }, pick: (r) => r.serviceName, valid: 'checkout', expected: 'checkout', invalid: null },
  {
    variable: 'OTEL_RESOURCE_ATTRIBUTES',
    pick: (r) => tracing(r).resourceAttributes,
    valid: 'team=core, deployment.environment.name=staging%20eu',
    expected: { team: 'core', 'deployment.environment.name': 'staging eu' },
    invalid: 'team=core,oops',
    fallback: {},
  },
  { variable: 'OTEL_SDK_DISABLED', pick: (r) => r.tracing === false, valid: 'TRUE', expected: true, invalid: 'yes', fallback: false },
  { variable: 'OTEL_TRACES_EXPORTER', pick: (r) => tracing(r).exporter, valid: 'console', expected: 'console', invalid: 'zipkin', fallback: 'none' },
  {
    variable: 'OTEL_TRACES_SAMPLER',
    pick: (r) => tracing(r).sampler,
    valid: 'always_off',
    expected: { parentBased: false, ratio: 0 },
    invalid: 'sometimes',
    fallback: { parentBased: true, ratio: 1 },
  },
  {
    variable: 'OTEL_TRACES_SAMPLER_ARG',
    with: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' },
    pick: (r) => tracing(r).sampler,
    valid: '0.25',
    expected: { parentBased: true, ratio: 0.25 },
    invalid: 'abc',
    fallback: { parentBased: true, ratio: 1 },
  },
  {
    variable: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    pick: (r) => tracing(r).endpoint,
    valid: 'http://collector:4318',
    expected: 'http://collector:4318/v1/traces',
    invalid: 'not a url',
    fallback: undefined,
  },
  {
    variable: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    pick: (r) => tracing(r).endpoint,
    valid: 'https://collector:4318/custom',
    expected: 'https://collector:4318/custom',
    invalid: 'collector:4318',
    fallback: undefined,
  },
  { variable: 'OTEL_EXPORTER_OTLP_PROTOCOL', pick: (r) => tracing(r).protocol, valid: 'http/json', expected: 'http/json', invalid: 'grpc', fallback: 'http/protobuf' },
  { variable: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', pick: (r) => tracing(r).protocol, valid: 'HTTP/JSON', expected: 'http/json', invalid: 'http/xml', fallback: 'http/protobuf' },
  {
    variable: 'OTEL_EXPORTER_OTLP_HEADERS',
    pick: (r) => tracing(r).headers,
    valid: 'api-key=secret,x-tenant=a%20b',
    expected: { 'api-key': 'secret', 'x-tenant': 'a b' },
    invalid: 'api-key:secret',
    fallback: {},
    reported: '[hidden]',
  },
  {
    variable: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
    pick: (r) => tracing(r).headers,
    valid: 'x-tenant=t1',
    expected: { 'x-tenant': 't1' },
    invalid: '=t1',
    fallback: {},
    reported: '[hidden]',
  },
  { variable: 'OTEL_EXPORTER_OTLP_TIMEOUT', pick: (r) => tracing(r).exportTimeoutMillis, valid: '2500', expected: 2500, invalid: 'abc', fallback: 10_000 },
  { variable: 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', pick: (r) => tracing(r).exportTimeoutMillis, valid: '3000', expected: 3000, invalid: '0', fallback: 10_000 },
  { variable: 'OTEL_EXPORTER_OTLP_COMPRESSION', pick: (r) => tracing(r).compression, valid: 'gzip', expected: 'gzip', invalid: 'zstd', fallback: 'none' },
  { variable: 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', pick: (r) => tracing(r).compression, valid: 'GZIP', expected: 'gzip', invalid: 'brotli', fallback: 'none' },
  { variable: 'OTEL_BSP_SCHEDULE_DELAY', pick: (r) => tracing(r).scheduledDelayMillis, valid: '250', expected: 250, invalid: '-1', fallback: 5000 },
  { variable: 'OTEL_BSP_EXPORT_TIMEOUT', pick: (r) => tracing(r).exportTimeoutMillis, valid: '4000', expected: 4000, invalid: 'soon', fallback: 10_000 },
  { variable: 'OTEL_BSP_MAX_QUEUE_SIZE', pick: (r) => tracing(r).maxQueueSize, valid: '4096', expected: 4096, invalid: '0', fallback: 2048 },
  // A batch larger than the queue (2048 by default) is out of range.
  { variable: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', pick: (r) => tracing(r).maxExportBatchSize, valid: '128', expected: 128, invalid: '4096', fallback: 512 },
  {
    variable: 'OTEL_PROPAGATORS',
    pick: (r) => tracing(r).propagators,
    valid: 'none',
    expected: [],
    invalid: 'b3',
    fallback: ['tracecontext', 'baggage'],
  },
  { variable: 'OTEL_METRICS_EXPORTER', pick: (r) => otlp(r) !== false, valid: 'otlp,prometheus', expected: true, invalid: 'statsd', fallback: false },
  {
    variable: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
    with: pushing,
    pick: (r) => pushed(r).endpoint,
    valid: 'http://collector:4318/custom',
    expected: 'http://collector:4318/custom',
    invalid: 'not a url',
    fallback: 'http://localhost:4318/v1/metrics',
  },
  { variable: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', with: pushing, pick: (r) => pushed(r).protocol, valid: 'http/json', expected: 'http/json', invalid: 'grpc', fallback: 'http/protobuf' },
  {
    variable: 'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
    with: pushing,
    pick: (r) => pushed(r).headers,
    valid: 'api-key=s3cret',
    expected: { 'api-key': 's3cret' },
    invalid: '=t1',
    fallback: {},
    reported: '[hidden]',
  },
  { variable: 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', with: pushing, pick: (r) => pushed(r).timeoutMs, valid: '3000', expected: 3000, invalid: '0', fallback: 10_000 },
  { variable: 'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION', with: pushing, pick: (r) => pushed(r).compression, valid: 'gzip', expected: 'gzip', invalid: 'zstd', fallback: 'none' },
  { variable: 'OTEL_METRIC_EXPORT_INTERVAL', with: pushing, pick: (r) => pushed(r).intervalMs, valid: '15000', expected: 15_000, invalid: '50', fallback: 60_000 },
  { variable: 'OTEL_METRIC_EXPORT_TIMEOUT', with: pushing, pick: (r) => pushed(r).timeoutMs, valid: '5000', expected: 5000, invalid: 'soon', fallback: 10_000 },
  { variable: 'LOG_LEVEL', pick: (r) => (r.logging as { level: string }).level, valid: 'DEBUG', expected: 'debug', invalid: 'loud', fallback: 'info' },
  { variable: 'GIT_COMMIT', pick: (r) => r.commit, valid: 'abc123', expected: 'abc123', invalid: null },
  { variable: 'SOURCE_COMMIT', pick: (r) => r.commit, valid: 'def456', expected: 'def456', invalid: null },
  { variable: 'COMMIT_SHA', pick: (r) => r.commit, valid: '0a1b2c', expected: '0a1b2c', invalid: null },
  { variable: 'PERISCOPE_METRICS_TOKEN', pick: (r) => (r.metrics as { auth: unknown }).auth, valid: 'tok3n', expected: { bearerToken: 'tok3n' }, invalid: null },
  { variable: 'PERISCOPE_METRICS_TOKEN_FILE', pick: (r) => (r.metrics as { auth: unknown }).auth, valid: SECRET_FILE, expected: { bearerToken: 'from-a-file' }, invalid: null },
  { variable: 'PERISCOPE_METRICS_USERNAME', with: { PERISCOPE_METRICS_PASSWORD: 'pa55' }, pick: (r) => (r.metrics as { auth: unknown }).auth, valid: 'ops', expected: { username: 'ops', password: 'pa55' }, invalid: null },
  { variable: 'PERISCOPE_METRICS_PASSWORD', with: { PERISCOPE_METRICS_USERNAME: 'ops' }, pick: (r) => (r.metrics as { auth: unknown }).auth, valid: 'pa55', expected: { username: 'ops', password: 'pa55' }, invalid: null },
  { variable: 'PERISCOPE_METRICS_PASSWORD_FILE', with: { PERISCOPE_METRICS_USERNAME: 'ops' }, pick: (r) => (r.metrics as { auth: unknown }).auth, valid: SECRET_FILE, expected: { username: 'ops', password: 'from-a-file' }, invalid: null },
  { variable: 'PERISCOPE_HEALTH_TOKEN', pick: (r) => (r.health as { auth: unknown }).auth, valid: 'tok3n', expected: { bearerToken: 'tok3n' }, invalid: null },
  { variable: 'PERISCOPE_HEALTH_TOKEN_FILE', pick: (r) => (r.health as { auth: unknown }).auth, valid: SECRET_FILE, expected: { bearerToken: 'from-a-file' }, invalid: null },
  { variable: 'PERISCOPE_HEALTH_USERNAME', with: { PERISCOPE_HEALTH_PASSWORD: 'pa55' }, pick: (r) => (r.health as { auth: unknown }).auth, valid: 'ops', expected: { username: 'ops', password: 'pa55' }, invalid: null },
  { variable: 'PERISCOPE_HEALTH_PASSWORD', with: { PERISCOPE_HEALTH_USERNAME: 'ops' }, pick: (r) => (r.health as { auth: unknown }).auth, valid: 'pa55', expected: { username: 'ops', password: 'pa55' }, invalid: null },
  { variable: 'PERISCOPE_HEALTH_PASSWORD_FILE', with: { PERISCOPE_HEALTH_USERNAME: 'ops' }, pick: (r) => (r.health as { auth: unknown }).auth, valid: SECRET_FILE, expected: { username: 'ops', password: 'from-a-file' }, invalid: null },
  { variable: 'PERISCOPE_DIAGNOSTICS_TOKEN', options: { ...identity, diagnostics: { stallMs: false } }, pick: (r) => (r.diagnostics as { auth: unknown }).auth, valid: 'tok3n', expected: { bearerToken: 'tok3n' }, invalid: null },
  { variable: 'PERISCOPE_DIAGNOSTICS_TOKEN_FILE', options: { ...identity, diagnostics: { stallMs: false } }, pick: (r) => (r.diagnostics as { auth: unknown }).auth, valid: SECRET_FILE, expected: { bearerToken: 'from-a-file' }, invalid: null },
  { variable: 'PERISCOPE_DIAGNOSTICS_USERNAME', with: { PERISCOPE_DIAGNOSTICS_PASSWORD: 'pa55' }, options: { ...identity, diagnostics: { stallMs: false } }, pick: (r) => (r.diagnostics as { auth: unknown }).auth, valid: 'ops', expected: { username: 'ops', password: 'pa55' }, invalid: null },
  { variable: 'PERISCOPE_DIAGNOSTICS_PASSWORD', with: { PERISCOPE_DIAGNOSTICS_USERNAME: 'ops' }, options: { ...identity, diagnostics: { stallMs: false } }, pick: (r) => (r.diagnostics as { auth: unknown }).auth, valid: 'pa55', expected: { username: 'ops', password: 'pa55' }, invalid: null },
  { variable: 'PERISCOPE_DIAGNOSTICS_PASSWORD_FILE', with: { PERISCOPE_DIAGNOSTICS_USERNAME: 'ops' }, options: { ...identity, diagnostics: { stallMs: false } }, pick: (r) => (r.diagnostics as { auth: unknown }).auth, valid: SECRET_FILE, expected: { username: 'ops', password: 'from-a-file' }, invalid: null },
  { variable: 'PERISCOPE_CONSOLE', pick: (r) => r.console !== false, valid: '1', expected: true, invalid: 'yes', fallback: false },
  // Under production the console turned on by the environment alone stays off (with a warning): see test/console/options.test.ts.
  { variable: 'NODE_ENV', with: { PERISCOPE_CONSOLE: '1' }, pick: (r) => r.console !== false, valid: 'development', expected: true, invalid: null },
  { variable: 'KUBERNETES_SERVICE_HOST', pick: (r) => (r.shutdown as { drainDelayMs: number }).drainDelayMs, valid: '10.96.0.1', expected: 5000, invalid: null },
  { variable: 'NODE_APP_INSTANCE', pick: (r) => (r.cluster as { instance: number | undefined }).instance, valid: '3', expected: 3, invalid: 'first', fallback: undefined },
];

describe('environment variables', () => {
  it('the table covers every variable periscope reads, and the README names each', () => {
    expect(ROWS.map((r) => r.variable).sort()).toEqual([...ENV_VARS].sort());
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(ENV_VARS.filter((v) => !readme.includes(`\`${v}\``))).toEqual([]);
  });

  it.each(ROWS)('$variable: a valid value changes the resolved options exactly, without warnings', (row) => {
    const { resolved, warnings } = resolve({ ...row.with, [row.variable]: row.valid }, row.options);
    expect(row.pick(resolved)).toEqual(row.expected);
    expect(warnings).toEqual([]);
  });

  it.each(ROWS.filter((r) => r.invalid !== null))('$variable=$invalid: one warning naming the variable and the value, and the default', (row) => {
    const { resolved, warnings } = resolve({ ...row.with, [row.variable]: row.invalid! }, row.options);
    expect(row.pick(resolved)).toEqual(row.fallback);
    expect(warnings.map((w) => [w.variable, w.value])).toEqual([[row.variable, row.reported ?? row.invalid]]);
    expect(warnings[0]!.message).toContain(row.variable);
    expect(warnings[0]!.message).toContain(warnings[0]!.allowed);
    // Unset, the same default.
    expect(row.pick(resolve({ ...row.with }, row.options).resolved)).toEqual(row.fallback);
  });

  it('the warning says what is allowed; each variable warns in the order it is read', () => {
    const { warnings } = resolve({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_SAMPLER: 'bogus' });
    expect(warnings).toEqual([
      {
        variable: 'OTEL_EXPORTER_OTLP_PROTOCOL',
        value: 'grpc',
        allowed: 'http/protobuf or http/json (grpc is not supported)',
        message: 'periscope: ignoring OTEL_EXPORTER_OTLP_PROTOCOL="grpc"; allowed: http/protobuf or http/json (grpc is not supported). It is treated as unset.',
      },
      {
        variable: 'OTEL_TRACES_SAMPLER',
        value: 'bogus',
        allowed: 'always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio',
        message:
          'periscope: ignoring OTEL_TRACES_SAMPLER="bogus"; allowed: always_on, always_off, traceidratio, parentbased_always_on, ' +
          'parentbased_always_off, parentbased_traceidratio. It is treated as unset.',
      },
    ]);
  });

  it('an option in code wins, and the variable it overrides is not read, so it never warns', () => {
    const env = {
      LOG_LEVEL: 'loud',
      OTEL_TRACES_SAMPLER: 'bogus',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd',
      OTEL_PROPAGATORS: 'b3',
      OTEL_BSP_MAX_QUEUE_SIZE: 'x',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'x',
      OTEL_BSP_SCHEDULE_DELAY: 'x',
      OTEL_EXPORTER_OTLP_TIMEOUT: 'x',
      OTEL_TRACES_EXPORTER: 'zipkin',
    };
    const { resolved, warnings } = resolve(env, {
      ...identity,
      logging: { level: 'warn' },
      tracing: {
        endpoint: 'http://opt:4318',
        exporter: 'otlp',
        sampleRatio: 0.5,
        protocol: 'http/json',
        compression: 'gzip',
        propagators: ['baggage'],
        maxQueueSize: 100,
        maxExportBatchSize: 10,
        scheduledDelayMillis: 20,
        exportTimeoutMillis: 30,
      },
    });
    expect(warnings).toEqual([]);
    expect(tracing(resolved)).toMatchObject({
      endpoint: 'http://opt:4318/v1/traces',
      sampler: { parentBased: true, ratio: 0.5 },
      protocol: 'http/json',
      compression: 'gzip',
      propagators: ['baggage'],
      maxQueueSize: 100,
      maxExportBatchSize: 10,
      scheduledDelayMillis: 20,
      exportTimeoutMillis: 30,
    });
  });

  it('the traces-specific variable wins over the general one; headers merge, the option last', () => {
    const { resolved, warnings } = resolve(
      {
        OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
        OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3000',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip',
        OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=1',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'b=2,c=2',
      },
      { ...identity, tracing: { headers: { c: '3' } } },
    );
    expect(warnings).toEqual([]);
    expect(tracing(resolved)).toMatchObject({ exportTimeoutMillis: 3000, compression: 'gzip', headers: { a: '1', b: '2', c: '3' } });
  });

  it('the export timeout is the smaller of the OTLP and batch timeouts (the first to expire)', () => {
    expect(tracing(resolve({ OTEL_EXPORTER_OTLP_TIMEOUT: '8000', OTEL_BSP_EXPORT_TIMEOUT: '3000' }).resolved).exportTimeoutMillis).toBe(3000);
    expect(tracing(resolve({ OTEL_EXPORTER_OTLP_TIMEOUT: '2000', OTEL_BSP_EXPORT_TIMEOUT: '30000' }).resolved).exportTimeoutMillis).toBe(2000);
  });

  it('batch size: at most the queue size, from the variable or the option; the default shrinks with a small queue', () => {
    expect(tracing(resolve({ OTEL_BSP_MAX_QUEUE_SIZE: '100' }).resolved)).toMatchObject({ maxQueueSize: 100, maxExportBatchSize: 100 });
    const { resolved, warnings } = resolve({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '200' });
    expect(tracing(resolved)).toMatchObject({ maxQueueSize: 100, maxExportBatchSize: 100 });
    expect(warnings.map((w) => [w.variable, w.value, w.allowed])).toEqual([['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', '200', 'an integer from 1 to 100']]);
  });

  it('OTEL_PROPAGATORS: unknown entries are skipped with one warning; none wins; duplicates and case do not matter', () => {
    const mixed = resolve({ OTEL_PROPAGATORS: 'tracecontext, b3, jaeger' });
    expect(tracing(mixed.resolved).propagators).toEqual(['tracecontext']);
    expect(mixed.warnings.map((w) => [w.variable, w.value])).toEqual([['OTEL_PROPAGATORS', 'tracecontext, b3, jaeger']]);
    expect(mixed.warnings[0]!.message).toBe(
      'periscope: OTEL_PROPAGATORS="tracecontext, b3, jaeger": skipping b3, jaeger; allowed: a comma-separated list of tracecontext, baggage or none.',
    );
    expect(tracing(resolve({ OTEL_PROPAGATORS: 'Baggage,baggage' }).resolved).propagators).toEqual(['baggage']);
    expect(tracing(resolve({ OTEL_PROPAGATORS: 'tracecontext,none' }).resolved).propagators).toEqual([]);
  });

  it('a variable read by two concerns warns once (OTEL_RESOURCE_ATTRIBUTES: the service name and the resource)', () => {
    const { resolved, warnings } = resolve({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=x,broken' }, { version: '1' });
    expect(warnings.map((w) => w.variable).filter((v) => v === 'OTEL_RESOURCE_ATTRIBUTES')).toEqual(['OTEL_RESOURCE_ATTRIBUTES']);
    expect(tracing(resolved).resourceAttributes).toEqual({});
  });

  it('blank values count as unset', () => {
    const { resolved, warnings } = resolve({ LOG_LEVEL: '  ', OTEL_TRACES_SAMPLER: '', OTEL_SERVICE_NAME: ' ' }, { ...identity, serviceName: undefined });
    expect(warnings.filter((w) => w.variable !== 'package.json')).toEqual([]);
    expect((resolved.logging as { level: string }).level).toBe('info');
  });
});

// Issue 16, item 7: length bounds. What the OpenTelemetry resource SDK specification bounds is
// rejected (warned once, treated as unset); free text is cut with a warning; every value a
// warning echoes is sanitized and at most 128 bytes.
describe('environment value lengths', () => {
  const capped = (v: string) => `${v.slice(0, 114)}…[truncated]`;
  const endpoint = (n: number) => `http://collector:4318/${'p'.repeat(n - 'http://collector:4318/'.length)}`;
  const otlpUrl = 'an http:// or https:// URL of at most 8000 characters';

  it.each([
    ['OTEL_EXPORTER_OTLP_ENDPOINT', (r: ResolvedOptions) => tracing(r).endpoint, `${endpoint(8000)}/v1/traces`],
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', (r: ResolvedOptions) => tracing(r).endpoint, endpoint(8000)],
  ] as const)('%s: 8000 characters are taken, 8001 ignored with one capped warning', (variable, pick, taken) => {
    const ok = resolve({ [variable]: endpoint(8000) });
    expect([pick(ok.resolved), ok.warnings]).toEqual([taken, []]);
    const long = resolve({ [variable]: endpoint(8001) });
    expect(pick(long.resolved)).toBe(undefined);
    expect(long.warnings).toEqual([
      {
        variable,
        value: capped(endpoint(8001)),
        allowed: otlpUrl,
        message: `periscope: ignoring ${variable}="${capped(endpoint(8001))}"; allowed: ${otlpUrl}. It is treated as unset.`,
      },
    ]);
  });

  it('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 100 KB ignored, the default endpoint kept', () => {
    const { resolved, warnings } = resolve({ ...pushing, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: endpoint(100_000) });
    expect(pushed(resolved).endpoint).toBe('http://localhost:4318/v1/metrics');
    expect(warnings.map((w) => [w.variable, w.value, w.allowed])).toEqual([['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', capped(endpoint(100_000)), otlpUrl]]);
  });

  it('OTEL_RESOURCE_ATTRIBUTES: each value at most 255 characters, the list at most 8192; past either the list is ignored whole', () => {
    const ok = resolve({ OTEL_RESOURCE_ATTRIBUTES: `team=${'t'.repeat(255)},zone=a` });
    expect([tracing(ok.resolved).resourceAttributes, ok.warnings]).toEqual([{ team: 't'.repeat(255), zone: 'a' }, []]);

    const longValue = `zone=a,team=${'t'.repeat(256)}`;
    const one = resolve({ OTEL_RESOURCE_ATTRIBUTES: longValue });
    expect(tracing(one.resolved).resourceAttributes).toEqual({});
    expect(pushed(resolve({ ...pushing, OTEL_RESOURCE_ATTRIBUTES: longValue }).resolved).resourceAttributes).toEqual({});
    expect(one.warnings.map((w) => [w.variable, w.value, w.allowed])).toEqual([
      ['OTEL_RESOURCE_ATTRIBUTES', capped(longValue), 'comma-separated key=value pairs, each value at most 255 characters'],
    ]);

    // 50 attributes of 200 characters: every value within bounds, the list over 8192.
    const many = Array.from({ length: 50 }, (_, i) => `k${i}=${'v'.repeat(200)}`).join(',');
    const whole = resolve({ OTEL_RESOURCE_ATTRIBUTES: many });
    expect(tracing(whole.resolved).resourceAttributes).toEqual({});
    expect(whole.warnings.map((w) => [w.variable, w.value, w.allowed])).toEqual([
      ['OTEL_RESOURCE_ATTRIBUTES', capped(many), 'comma-separated key=value pairs of at most 8192 characters in all'],
    ]);
  });

  it('service.name in OTEL_RESOURCE_ATTRIBUTES past 255 characters is not the service name', () => {
    const { resolved, warnings } = resolve({ OTEL_RESOURCE_ATTRIBUTES: `service.name=${'s'.repeat(300)}` }, { version: '1', serviceName: undefined });
    expect(resolved.serviceName).not.toContain('sss');
    expect(warnings.filter((w) => w.variable === 'OTEL_RESOURCE_ATTRIBUTES')).toHaveLength(1);
  });

  it('*_HEADERS: a long value is fine (tokens are long), the list past 8192 characters is ignored, the value hidden', () => {
    const jwt = `authorization=Bearer%20${'j'.repeat(4000)}`;
    expect(tracing(resolve({ OTEL_EXPORTER_OTLP_HEADERS: jwt }).resolved).headers).toEqual({ authorization: `Bearer ${'j'.repeat(4000)}` });
    const { resolved, warnings } = resolve({ OTEL_EXPORTER_OTLP_HEADERS: `${jwt},x=${'x'.repeat(5000)}` });
    expect(tracing(resolved).headers).toEqual({});
    expect(warnings.map((w) => [w.variable, w.value, w.allowed])).toEqual([
      ['OTEL_EXPORTER_OTLP_HEADERS', '[hidden]', 'comma-separated key=value pairs of at most 8192 characters in all'],
    ]);
  });

  it('OTEL_SERVICE_NAME: 255 characters kept, 100 KB cut to 255 with one warning', () => {
    const noName = { version: '1' };
    expect(resolve({ OTEL_SERVICE_NAME: 'n'.repeat(255) }, noName)).toMatchObject({ resolved: { serviceName: 'n'.repeat(255) }, warnings: [] });
    const { resolved, warnings } = resolve({ OTEL_SERVICE_NAME: 'n'.repeat(100_000) }, noName);
    expect(resolved.serviceName).toBe('n'.repeat(255));
    expect(warnings).toEqual([
      {
        variable: 'OTEL_SERVICE_NAME',
        value: capped('n'.repeat(100_000)),
        allowed: 'at most 255 characters',
        message: `periscope: OTEL_SERVICE_NAME="${capped('n'.repeat(100_000))}" is 100000 characters long; cut to its first 255.`,
      },
    ]);
  });

  it('the commit variables are cut at 255 characters too, never inside a surrogate pair', () => {
    expect(resolve({ GIT_COMMIT: 'c'.repeat(300) }).resolved.commit).toBe('c'.repeat(255));
    expect(resolve({ COMMIT_SHA: `${'c'.repeat(254)}😀x` }).resolved.commit).toBe('c'.repeat(254));
  });

  it('a value echoed in a warning is sanitized: capped at 128 bytes, credentials masked, control characters escaped', () => {
    const huge = resolve({ LOG_LEVEL: 'x'.repeat(100_000) }).warnings[0]!;
    expect([huge.value, Buffer.byteLength(huge.message) < 400]).toEqual([capped('x'.repeat(100_000)), true]);
    const forged = resolve({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://user:pw@c\n{"level":50}' }).warnings[0]!;
    expect(forged.value).toBe('ftp://******@c\\n{"level":50}');
    expect(forged.message).toBe(`periscope: ignoring OTEL_EXPORTER_OTLP_ENDPOINT="ftp://******@c\\n{"level":50}"; allowed: ${otlpUrl}. It is treated as unset.`);
    const propagators = resolve({ OTEL_PROPAGATORS: `tracecontext,${'b'.repeat(100_000)}` }).warnings[0]!;
    expect(propagators.message).toBe(
      `periscope: OTEL_PROPAGATORS="${capped(`tracecontext,${'b'.repeat(100_000)}`)}": skipping ${capped('b'.repeat(100_000))}; allowed: a comma-separated list of tracecontext, baggage or none.`,
    );
  });
});
