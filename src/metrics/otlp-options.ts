import type { EnvReader } from '../core/env.js';
import { checkInt, checkRecord, concernObject, invalid, isHttpUrl, oneOf, optString, otlpSignalUrl } from '../core/validate.js';

/** How OTLP metric export requests are encoded. */
export type MetricsOtlpProtocol = 'http/protobuf' | 'http/json';

/**
 * Push of the same registry `/metrics` serves to an OpenTelemetry Collector over OTLP/HTTP,
 * as cumulative sums, gauges and histograms. Each option wins over its environment variable.
 */
export interface MetricsOtlpOptions {
  /**
   * A base URL such as `http://collector:4318` (`/v1/metrics` is appended), or a URL that already
   * ends in `/v1/metrics`. Default: `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (used as is), else
   * `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/metrics` appended), else `http://localhost:4318/v1/metrics`.
   */
  endpoint?: string;
  /** Default: `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else `'http/protobuf'`. */
  protocol?: MetricsOtlpProtocol;
  /** Milliseconds between exports. Default: `OTEL_METRIC_EXPORT_INTERVAL`, else `60000` (the specification's). */
  intervalMs?: number;
  /**
   * Milliseconds one export may take before it counts as failed (at most `intervalMs`). Default:
   * the smaller of `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT` (else `OTEL_EXPORTER_OTLP_TIMEOUT`) and
   * `OTEL_METRIC_EXPORT_TIMEOUT`, else `10000`.
   */
  timeoutMs?: number;
  /** Extra HTTP headers; they win over `OTEL_EXPORTER_OTLP_METRICS_HEADERS`, which wins over `OTEL_EXPORTER_OTLP_HEADERS`. */
  headers?: Record<string, string>;
  /** Default: `OTEL_EXPORTER_OTLP_METRICS_COMPRESSION`, else `OTEL_EXPORTER_OTLP_COMPRESSION`, else `'none'`. */
  compression?: 'gzip' | 'none';
}

export interface ResolvedMetricsOtlpOptions {
  /** The full `/v1/metrics` URL. */
  readonly endpoint: string;
  readonly protocol: MetricsOtlpProtocol;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly compression: 'gzip' | 'none';
  /** `OTEL_RESOURCE_ATTRIBUTES`: the resource when tracing is off (with tracing on, the spans' resource is used). */
  readonly resourceAttributes: Readonly<Record<string, string>>;
}

export const METRICS_OTLP_DEFAULTS = Object.freeze({
  endpoint: 'http://localhost:4318/v1/metrics',
  protocol: 'http/protobuf' as MetricsOtlpProtocol,
  intervalMs: 60_000,
  timeoutMs: 10_000,
  compression: 'none' as 'gzip' | 'none',
});

const KEYS = ['endpoint', 'protocol', 'intervalMs', 'timeoutMs', 'headers', 'compression'];
const PROTOCOLS: readonly MetricsOtlpProtocol[] = ['http/protobuf', 'http/json'];
const COMPRESSIONS: readonly ('gzip' | 'none')[] = ['gzip', 'none'];
const EXPORTERS = ['otlp', 'prometheus', 'console', 'none'];
const MAX_MS = 3_600_000;

/** True when `OTEL_METRICS_EXPORTER` (a comma-separated list) names `otlp`. */
function envAsksForOtlp(read: EnvReader): boolean {
  const raw = read.string('OTEL_METRICS_EXPORTER');
  if (raw === undefined) return false;
  const names = raw.split(',').map((n) => n.trim().toLowerCase()).filter((n) => n !== '');
  const unknown = names.filter((n) => !EXPORTERS.includes(n));
  if (unknown.length > 0) read.ignore('OTEL_METRICS_EXPORTER', raw, 'a comma-separated list of otlp, prometheus or none (/metrics is always served)');
  return names.includes('otlp') && !names.includes('none');
}

function resolveEndpoint(value: unknown, read: EnvReader): string {
  const option = optString(value, 'metrics.otlp.endpoint');
  if (option !== undefined) {
    if (!isHttpUrl(option)) throw invalid('metrics.otlp.endpoint', option, 'an http:// or https:// URL');
    return otlpSignalUrl(option, 'metrics');
  }
  const own = read.url('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT');
  if (own !== undefined) return own;
  const base = read.url('OTEL_EXPORTER_OTLP_ENDPOINT');
  return base === undefined ? METRICS_OTLP_DEFAULTS.endpoint : otlpSignalUrl(base, 'metrics');
}

/**
 * `metrics.otlp` over the `OTEL_*` variables. Off (`false`) unless the option asks for it or
 * `OTEL_METRICS_EXPORTER` names `otlp`: `/metrics` is periscope's first way out, and an
 * `OTEL_EXPORTER_OTLP_ENDPOINT` set for spans alone must not start a second copy of every series.
 */
export function resolveMetricsOtlp(value: unknown, read: EnvReader): ResolvedMetricsOtlpOptions | false {
  const o = concernObject(value, 'metrics.otlp', KEYS);
  if (o === false) return false;
  if (value === undefined && (!envAsksForOtlp(read) || read.bool('OTEL_SDK_DISABLED') === true)) return false;
  const d = METRICS_OTLP_DEFAULTS;
  const noGrpc = 'http/protobuf or http/json (grpc is not supported)';
  const intervalMs =
    o.intervalMs !== undefined ? checkInt(o.intervalMs, 'metrics.otlp.intervalMs', 100, MAX_MS, d.intervalMs, 'milliseconds') : (read.int('OTEL_METRIC_EXPORT_INTERVAL', 100, MAX_MS) ?? d.intervalMs);
  let timeoutMs: number;
  if (o.timeoutMs !== undefined) {
    timeoutMs = checkInt(o.timeoutMs, 'metrics.otlp.timeoutMs', 1, MAX_MS, d.timeoutMs, 'milliseconds');
    if (timeoutMs > intervalMs) throw invalid('metrics.otlp.timeoutMs', timeoutMs, `at most metrics.otlp.intervalMs (${intervalMs})`);
  } else {
    const exporter = read.int('OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', 1, MAX_MS) ?? read.int('OTEL_EXPORTER_OTLP_TIMEOUT', 1, MAX_MS);
    const reader = read.int('OTEL_METRIC_EXPORT_TIMEOUT', 1, MAX_MS);
    // The reader refuses a timeout above its interval: the next export would start before this one ends.
    timeoutMs = Math.min(exporter ?? reader ?? d.timeoutMs, reader ?? Infinity, intervalMs);
  }
  return Object.freeze({
    endpoint: resolveEndpoint(o.endpoint, read),
    protocol:
      oneOf(o.protocol, 'metrics.otlp.protocol', PROTOCOLS) ??
      read.oneOf('OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', PROTOCOLS, noGrpc) ??
      read.oneOf('OTEL_EXPORTER_OTLP_PROTOCOL', PROTOCOLS, noGrpc) ??
      d.protocol,
    intervalMs,
    timeoutMs,
    headers: Object.freeze({
      ...read.keyValues('OTEL_EXPORTER_OTLP_HEADERS', { hideValue: true }),
      ...read.keyValues('OTEL_EXPORTER_OTLP_METRICS_HEADERS', { hideValue: true }),
      ...checkRecord<string>(o.headers, 'metrics.otlp.headers', (v) => typeof v === 'string', 'an object of string header values'),
    }),
    compression:
      oneOf(o.compression, 'metrics.otlp.compression', COMPRESSIONS) ??
      read.oneOf('OTEL_EXPORTER_OTLP_METRICS_COMPRESSION', COMPRESSIONS) ??
      read.oneOf('OTEL_EXPORTER_OTLP_COMPRESSION', COMPRESSIONS) ??
      d.compression,
    resourceAttributes: Object.freeze({ ...read.keyValues('OTEL_RESOURCE_ATTRIBUTES') }),
  });
}
