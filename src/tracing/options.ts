import type { EnvReader } from '../core/env.js';
import { sanitizeText } from '../core/index.js';
import { checkBoolean, checkInt, checkRecord, concernObject, invalid, isHttpUrl, oneOf, optString, otlpSignalUrl } from '../core/validate.js';

/** Which span exporter tracing uses. */
export type TracingExporter = 'otlp' | 'console' | 'none';

/** How OTLP export requests are encoded (the values of `OTEL_EXPORTER_OTLP_PROTOCOL`, over HTTP). */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** Compression of OTLP export request bodies (the values of `OTEL_EXPORTER_OTLP_COMPRESSION`). */
export type OtlpCompression = 'gzip' | 'none';

/** A W3C propagator periscope reads and writes headers with (the values of `OTEL_PROPAGATORS`). */
export type TracingPropagator = 'tracecontext' | 'baggage';

/** Options for OpenTelemetry tracing. Each wins over its environment variable. */
export interface TracingOptions {
  /**
   * OTLP/HTTP endpoint: a base URL such as `http://collector:4318` (`/v1/traces` is appended),
   * or a URL that already ends in `/v1/traces`. Default: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
   * (used as is), else `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended), else none.
   */
  endpoint?: string;
  /**
   * `'otlp'` sends spans to `endpoint`, `'console'` prints them, `'none'` exports nothing (spans
   * are still made, so logs carry trace IDs). Default: `OTEL_TRACES_EXPORTER`, else `'otlp'`
   * when an endpoint is set, else `'none'`.
   */
  exporter?: TracingExporter;
  /**
   * Encoding of OTLP export requests. Default: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
   * `OTEL_EXPORTER_OTLP_PROTOCOL`, else `'http/protobuf'` (the OTLP default; about 2x cheaper
   * to encode than JSON, and 2.4x smaller).
   */
  protocol?: OtlpProtocol;
  /**
   * Compression of OTLP export requests. Default: `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION`, else
   * `OTEL_EXPORTER_OTLP_COMPRESSION`, else `'none'`.
   */
  compression?: OtlpCompression;
  /**
   * Fraction of new traces to sample, 0 to 1; a request with a sampled parent is always sampled
   * (parent-based). Default: `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, else `1`.
   */
  sampleRatio?: number;
  /**
   * Extra HTTP headers on OTLP export requests (an API key, say); they win over
   * `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, which wins over `OTEL_EXPORTER_OTLP_HEADERS`. Default: none.
   */
  headers?: Record<string, string>;
  /** Extra resource attributes; they win over `OTEL_RESOURCE_ATTRIBUTES`. Default: none. */
  resourceAttributes?: Record<string, string | number | boolean>;
  /**
   * Header formats read from incoming requests and written on outgoing calls; `[]` reads and
   * writes none, so every request starts a new trace. Default: `OTEL_PROPAGATORS`, else
   * `['tracecontext', 'baggage']`.
   */
  propagators?: readonly TracingPropagator[];
  /** CLIENT spans and `traceparent` for outgoing `fetch` and `http.request` calls made inside a request. Default `true`. */
  outgoing?: boolean;
  /** Most finished spans held for export; past it spans are dropped and counted. Default: `OTEL_BSP_MAX_QUEUE_SIZE`, else `2048`. */
  maxQueueSize?: number;
  /** Most spans per export request. Default: `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, else `512` (at most `maxQueueSize`). */
  maxExportBatchSize?: number;
  /** Milliseconds between exports of a partial batch. Default: `OTEL_BSP_SCHEDULE_DELAY`, else `5000`. */
  scheduledDelayMillis?: number;
  /**
   * Milliseconds one export request may take before it counts as failed. Default: the smaller of
   * `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` (else `OTEL_EXPORTER_OTLP_TIMEOUT`) and `OTEL_BSP_EXPORT_TIMEOUT`,
   * else `10000`.
   */
  exportTimeoutMillis?: number;
  /** Milliseconds `shutdown()` waits for pending spans to be exported. Default `5000`. */
  shutdownTimeoutMillis?: number;
}

/** A sampler in the terms of `OTEL_TRACES_SAMPLER`. */
export interface ResolvedSampler {
  readonly parentBased: boolean;
  /** 1 samples every new trace, 0 none. */
  readonly ratio: number;
}

export interface ResolvedTracingOptions {
  /** Full OTLP traces URL, or undefined. */
  readonly endpoint: string | undefined;
  readonly exporter: TracingExporter;
  readonly protocol: OtlpProtocol;
  readonly compression: OtlpCompression;
  readonly sampler: ResolvedSampler;
  /** `OTEL_EXPORTER_OTLP_HEADERS`, then `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, then the option, merged. */
  readonly headers: Readonly<Record<string, string>>;
  /** `OTEL_RESOURCE_ATTRIBUTES` merged with the option (the option wins). */
  readonly resourceAttributes: Readonly<Record<string, string | number | boolean>>;
  readonly propagators: readonly TracingPropagator[];
  readonly outgoing: boolean;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMillis: number;
  readonly exportTimeoutMillis: number;
  readonly shutdownTimeoutMillis: number;
}

/** The defaults of the tracing options that have one, written once. */
export const TRACING_DEFAULTS = Object.freeze({
  protocol: 'http/protobuf' as OtlpProtocol,
  compression: 'none' as OtlpCompression,
  sampler: Object.freeze({ parentBased: true, ratio: 1 }) as ResolvedSampler,
  propagators: Object.freeze(['tracecontext', 'baggage']) as readonly TracingPropagator[],
  outgoing: true,
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 5000,
  exportTimeoutMillis: 10_000,
  shutdownTimeoutMillis: 5000,
  /** The OTLP exporter's own default, used when `'otlp'` is asked for without an endpoint. */
  endpoint: 'http://localhost:4318/v1/traces',
});

const KEYS = [
  'endpoint',
  'exporter',
  'protocol',
  'compression',
  'sampleRatio',
  'headers',
  'resourceAttributes',
  'propagators',
  'outgoing',
  'maxQueueSize',
  'maxExportBatchSize',
  'scheduledDelayMillis',
  'exportTimeoutMillis',
  'shutdownTimeoutMillis',
];
const EXPORTERS: readonly TracingExporter[] = ['otlp', 'console', 'none'];
const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json'];
const COMPRESSIONS: readonly OtlpCompression[] = ['gzip', 'none'];
const PROPAGATORS: readonly TracingPropagator[] = ['tracecontext', 'baggage'];
const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;
const MAX_SIZE = 1_000_000;


/** The option when given (validated), else the variable's value, else the default: the variable is only read when needed. */
function intOr(value: unknown, option: string, min: number, max: number, fromEnv: () => number | undefined, fallback: number): number {
  return value !== undefined ? checkInt(value, option, min, max, fallback) : (fromEnv() ?? fallback);
}


function resolveEndpoint(value: unknown, read: EnvReader): string | undefined {
  const option = optString(value, 'tracing.endpoint');
  if (option !== undefined) {
    if (!isHttpUrl(option)) throw invalid('tracing.endpoint', option, 'an http:// or https:// URL');
    return otlpSignalUrl(option, 'traces');
  }
  const traces = read.url('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (traces !== undefined) return traces;
  const base = read.url('OTEL_EXPORTER_OTLP_ENDPOINT');
  return base === undefined ? undefined : otlpSignalUrl(base, 'traces');
}

function resolveSampler(ratioOption: unknown, read: EnvReader): ResolvedSampler {
  if (ratioOption !== undefined) {
    if (typeof ratioOption !== 'number' || !Number.isFinite(ratioOption) || ratioOption < 0 || ratioOption > 1) {
      throw invalid('tracing.sampleRatio', ratioOption, 'a number from 0 to 1');
    }
    return Object.freeze({ parentBased: true, ratio: ratioOption });
  }
  const name = read.oneOf('OTEL_TRACES_SAMPLER', SAMPLERS);
  if (name === undefined) return TRACING_DEFAULTS.sampler;
  const parentBased = name.startsWith('parentbased_');
  const kind = parentBased ? name.slice('parentbased_'.length) : name;
  // The spec's default argument of the ratio samplers is 1.0.
  const ratio = kind === 'always_on' ? 1 : kind === 'always_off' ? 0 : (read.number('OTEL_TRACES_SAMPLER_ARG', 0, 1) ?? 1);
  return Object.freeze({ parentBased, ratio });
}


function resolvePropagators(value: unknown, read: EnvReader): readonly TracingPropagator[] {
  if (value !== undefined) {
    if (!Array.isArray(value) || !value.every((p) => PROPAGATORS.includes(p as TracingPropagator)) || new Set(value).size !== value.length) {
      throw invalid('tracing.propagators', value, "an array of distinct 'tracecontext' and 'baggage' ([] for none)");
    }
    return Object.freeze([...(value as TracingPropagator[])]);
  }
  const raw = read.string('OTEL_PROPAGATORS');
  if (raw === undefined) return TRACING_DEFAULTS.propagators;
  const names = raw.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  const known = PROPAGATORS.filter((p) => names.includes(p));
  const unknown = names.filter((p) => p !== 'none' && !PROPAGATORS.includes(p as TracingPropagator));
  if (unknown.length > 0) {
    const allowed = 'a comma-separated list of tracecontext, baggage or none';
    read.ignore('OTEL_PROPAGATORS', raw, allowed, (shown) => `periscope: OTEL_PROPAGATORS="${shown}": skipping ${sanitizeText(unknown.join(', '), 128)}; allowed: ${allowed}.`);
  }
  // 'none' wins over anything listed with it.
  if (names.includes('none')) return Object.freeze([]);
  return known.length > 0 ? Object.freeze(known) : TRACING_DEFAULTS.propagators;
}

/** The queue and batch sizes: option, else `OTEL_BSP_*`, else the default; a batch never exceeds the queue. */
function resolveSizes(t: Record<string, unknown>, read: EnvReader): { maxQueueSize: number; maxExportBatchSize: number } {
  const d = TRACING_DEFAULTS;
  const maxQueueSize = intOr(t.maxQueueSize, 'tracing.maxQueueSize', 1, MAX_SIZE, () => read.int('OTEL_BSP_MAX_QUEUE_SIZE', 1, MAX_SIZE), d.maxQueueSize);
  let batch: number | undefined;
  if (t.maxExportBatchSize !== undefined) {
    batch = checkInt(t.maxExportBatchSize, 'tracing.maxExportBatchSize', 1, MAX_SIZE, d.maxExportBatchSize);
    if (batch > maxQueueSize) throw invalid('tracing.maxExportBatchSize', batch, `at most tracing.maxQueueSize (${maxQueueSize})`);
  } else {
    batch = read.int('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1, maxQueueSize);
  }
  return { maxQueueSize, maxExportBatchSize: batch ?? Math.min(d.maxExportBatchSize, maxQueueSize) };
}

/** The export timeout: the option, else whichever of the OTLP and batch timeouts is set and smaller (the first to expire). */
function resolveExportTimeout(value: unknown, read: EnvReader): number {
  if (value !== undefined) return checkInt(value, 'tracing.exportTimeoutMillis', 1, 600_000, TRACING_DEFAULTS.exportTimeoutMillis);
  const otlp = read.int('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 1, 600_000) ?? read.int('OTEL_EXPORTER_OTLP_TIMEOUT', 1, 600_000);
  const bsp = read.int('OTEL_BSP_EXPORT_TIMEOUT', 1, 600_000);
  if (otlp === undefined && bsp === undefined) return TRACING_DEFAULTS.exportTimeoutMillis;
  return Math.min(otlp ?? Infinity, bsp ?? Infinity);
}

/** `tracing` over the `OTEL_*` variables and the defaults; `false` stays false. */
export function resolveTracing(value: unknown, read: EnvReader): ResolvedTracingOptions | false {
  const t = concernObject(value, 'tracing', KEYS);
  if (t === false) return false;
  // OTEL_SDK_DISABLED turns tracing off unless the code asked for it explicitly.
  if (value === undefined && read.bool('OTEL_SDK_DISABLED') === true) return false;
  const d = TRACING_DEFAULTS;
  let endpoint = resolveEndpoint(t.endpoint, read);
  const exporter = oneOf(t.exporter, 'tracing.exporter', EXPORTERS) ?? read.oneOf('OTEL_TRACES_EXPORTER', EXPORTERS) ?? (endpoint === undefined ? 'none' : 'otlp');
  if (exporter === 'otlp' && endpoint === undefined) endpoint = d.endpoint;
  const noGrpc = 'http/protobuf or http/json (grpc is not supported)';
  return Object.freeze({
    endpoint,
    exporter,
    protocol:
      oneOf(t.protocol, 'tracing.protocol', PROTOCOLS) ??
      read.oneOf('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', PROTOCOLS, noGrpc) ??
      read.oneOf('OTEL_EXPORTER_OTLP_PROTOCOL', PROTOCOLS, noGrpc) ??
      d.protocol,
    compression:
      oneOf(t.compression, 'tracing.compression', COMPRESSIONS) ??
      read.oneOf('OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', COMPRESSIONS) ??
      read.oneOf('OTEL_EXPORTER_OTLP_COMPRESSION', COMPRESSIONS) ??
      d.compression,
    sampler: resolveSampler(t.sampleRatio, read),
    headers: Object.freeze({
      ...read.keyValues('OTEL_EXPORTER_OTLP_HEADERS', { hideValue: true }),
      ...read.keyValues('OTEL_EXPORTER_OTLP_TRACES_HEADERS', { hideValue: true }),
      ...checkRecord<string>(t.headers, 'tracing.headers', (v) => typeof v === 'string', 'an object of string header values'),
    }),
    resourceAttributes: Object.freeze({
      ...read.keyValues('OTEL_RESOURCE_ATTRIBUTES'),
      ...checkRecord<string | number | boolean>(
        t.resourceAttributes,
        'tracing.resourceAttributes',
        (v) => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)),
        'an object of string, number or boolean values',
      ),
    }),
    propagators: resolvePropagators(t.propagators, read),
    outgoing: checkBoolean(t.outgoing, 'tracing.outgoing', d.outgoing),
    ...resolveSizes(t, read),
    scheduledDelayMillis: intOr(
      t.scheduledDelayMillis,
      'tracing.scheduledDelayMillis',
      1,
      3_600_000,
      () => read.int('OTEL_BSP_SCHEDULE_DELAY', 1, 3_600_000),
      d.scheduledDelayMillis,
    ),
    exportTimeoutMillis: resolveExportTimeout(t.exportTimeoutMillis, read),
    shutdownTimeoutMillis: checkInt(t.shutdownTimeoutMillis, 'tracing.shutdownTimeoutMillis', 0, 600_000, d.shutdownTimeoutMillis),
  });
}
