import type { Registry } from '@prometheus-io/client';
import type { EndpointAuth } from '../core/index.js';
import type { EnvReader } from '../core/env.js';
import { authOption, checkBoolean, checkInt, checkPath, checkPort, concernObject, invalid, optString } from '../core/validate.js';
import { DEFAULT_MAX_BUCKETS, DEFAULT_SCHEMA } from './native-histogram.js';
import { resolveMetricsOtlp } from './otlp-options.js';
import type { MetricsOtlpOptions, ResolvedMetricsOtlpOptions } from './otlp-options.js';

/** Options for the Prometheus metrics subsystem. */
export interface MetricsOptions {
  /** Path that serves the exposition. Default `'/metrics'`. */
  path?: string;
  /**
   * Serve `/metrics` on a separate management server on this port instead of on the app
   * (0 picks a free port). Default: served on the app itself.
   */
  port?: number;
  /** Interface the management server binds to, with `port`. Default: all interfaces. */
  host?: string;
  /** A registry to put periscope's metrics in. Default: a new Registry owned by this `instrument()` call. */
  registry?: Registry;
  /** Collect the Prometheus client's process and Node.js runtime metrics. Default `true`. */
  defaultMetrics?: boolean;
  /** Upper bounds, in seconds, of `http_request_duration_seconds`. Default `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`. */
  durationBuckets?: readonly number[];
  /** Upper bounds, in bytes, of `http_response_size_bytes`. Default `[100, 1000, 10000, 100000, 1000000, 10000000]`. */
  sizeBuckets?: readonly number[];
  /**
   * Most label sets (method, route, status_code) the request metrics keep. Past it, new
   * label sets fold into one overflow series, and `periscope_series_folded_total` counts the
   * requests recorded there.
   * Default `2000`.
   */
  maxSeries?: number;
  /**
   * Credentials the metrics endpoint requires: `{ bearerToken }` or `{ username, password }`
   * (basic auth). Compared in constant time; anything else gets 401. Default: none.
   */
  auth?: EndpointAuth;
  /**
   * Also push every metric of the registry to an OpenTelemetry Collector over OTLP/HTTP: `true`
   * for the defaults, or {@link MetricsOtlpOptions}. Default: off, unless `OTEL_METRICS_EXPORTER`
   * names `otlp`.
   */
  otlp?: boolean | MetricsOtlpOptions;
  /**
   * Also keep `http_request_duration_seconds` as a Prometheus native histogram, served in the
   * protobuf exposition beside its classic buckets (and pushed over OTLP as an exponential
   * histogram): `true` for client_golang's defaults, or {@link NativeHistogramOptions}. Default `false`.
   */
  nativeHistograms?: boolean | NativeHistogramOptions;
}

/** The resolution and size of native histograms. */
export interface NativeHistogramOptions {
  /** Resolution: each power of two is split into 2^schema buckets (-4 to 8). Default `3` (factor 1.09). */
  schema?: number;
  /** Most buckets a series keeps; past it the resolution is halved. Default `160`. */
  maxBuckets?: number;
}

export interface ResolvedMetricsOptions {
  readonly path: string;
  readonly port: number | undefined;
  readonly host: string | undefined;
  readonly registry: Registry | undefined;
  readonly defaultMetrics: boolean;
  readonly durationBuckets: readonly number[];
  readonly sizeBuckets: readonly number[];
  readonly maxSeries: number;
  readonly auth: EndpointAuth | undefined;
  readonly otlp: ResolvedMetricsOtlpOptions | false;
  readonly nativeHistograms: { readonly schema: number; readonly maxBuckets: number } | false;
}

export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
export const DEFAULT_SIZE_BUCKETS: readonly number[] = Object.freeze([100, 1000, 10000, 100000, 1000000, 10000000]);
export const DEFAULT_MAX_SERIES = 2000;

const KEYS = ['path', 'port', 'host', 'registry', 'defaultMetrics', 'durationBuckets', 'sizeBuckets', 'maxSeries', 'auth', 'otlp', 'nativeHistograms'];
const NATIVE_KEYS = ['schema', 'maxBuckets'];

function checkBuckets(value: unknown, option: string, fallback: readonly number[]): readonly number[] {
  if (value === undefined) return fallback;
  const ok =
    Array.isArray(value) &&
    value.length > 0 &&
    value.length <= 64 &&
    value.every((v, i) => typeof v === 'number' && Number.isFinite(v) && v > 0 && (i === 0 || v > (value[i - 1] as number)));
  if (!ok) throw invalid(option, value, 'a non-empty array of at most 64 finite numbers above 0, strictly increasing');
  return Object.freeze([...(value as number[])]);
}

function checkRegistry(value: unknown, option: string): Registry | undefined {
  if (value === undefined) return undefined;
  const r = value as Partial<Registry> | null;
  if (typeof r !== 'object' || r === null || typeof r.registerMetric !== 'function' || typeof r.getMetricsAsArray !== 'function') {
    throw invalid(option, value, 'a Registry from @prometheus-io/client or prom-client');
  }
  return value as Registry;
}

function checkNative(value: unknown): ResolvedMetricsOptions['nativeHistograms'] {
  const n = concernObject(value ?? false, 'metrics.nativeHistograms', NATIVE_KEYS);
  if (n === false) return false;
  return Object.freeze({
    schema: checkInt(n.schema, 'metrics.nativeHistograms.schema', -4, 8, DEFAULT_SCHEMA),
    maxBuckets: checkInt(n.maxBuckets, 'metrics.nativeHistograms.maxBuckets', 1, 10_000, DEFAULT_MAX_BUCKETS),
  });
}

/** `metrics` over its defaults (only `metrics.otlp` reads environment variables); `false` stays false. */
export function resolveMetrics(value: unknown, read: EnvReader): ResolvedMetricsOptions | false {
  const m = concernObject(value, 'metrics', KEYS);
  if (m === false) return false;
  return Object.freeze({
    path: checkPath(m.path, 'metrics.path', '/metrics'),
    port: checkPort(m.port, 'metrics.port'),
    host: optString(m.host, 'metrics.host'),
    registry: checkRegistry(m.registry, 'metrics.registry'),
    defaultMetrics: checkBoolean(m.defaultMetrics, 'metrics.defaultMetrics', true),
    durationBuckets: checkBuckets(m.durationBuckets, 'metrics.durationBuckets', DEFAULT_DURATION_BUCKETS),
    sizeBuckets: checkBuckets(m.sizeBuckets, 'metrics.sizeBuckets', DEFAULT_SIZE_BUCKETS),
    maxSeries: checkInt(m.maxSeries, 'metrics.maxSeries', 1, 1_000_000, DEFAULT_MAX_SERIES),
    auth: authOption(m.auth, 'metrics.auth', read, 'METRICS'),
    otlp: resolveMetricsOtlp(m.otlp, read),
    nativeHistograms: checkNative(m.nativeHistograms),
  });
}
