import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Server as HttpServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { Registry } from '@prometheus-io/client';
import { createError, describeValue } from './errors.js';
import type { EndpointAuth } from './core/index.js';

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
   * label sets fold into one overflow series and `periscope_series_folded_total` counts them.
   * Default `2000`.
   */
  maxSeries?: number;
  /**
   * Credentials the metrics endpoint requires: `{ bearerToken }` or `{ username, password }`
   * (basic auth). Compared in constant time; anything else gets 401. Default: none.
   */
  auth?: EndpointAuth;
}

/** Options of the health probes (`/livez`, `/readyz`, `/healthz`). */
export interface HealthOptions {
  /** Liveness probe path; `<path>/<check>` runs one check. Default `'/livez'`. */
  livePath?: string;
  /** Readiness probe path; `<path>/<check>` runs one check. Default `'/readyz'`. */
  readyPath?: string;
  /** JSON health document path. Default `'/healthz'`. */
  healthPath?: string;
  /**
   * Serve the probes on a management server on this port instead of on the app (0 picks
   * a free port). The same port as `metrics.port` shares one server. Default: on the app.
   */
  port?: number;
  /** Interface the management server binds to, with `port`. Default: all interfaces. */
  host?: string;
  /** Timeout of each check run, unless the check sets its own. Default `800` (below Kubernetes' 1 s probe timeout). */
  timeoutMs?: number;
  /** How long a check's result is reused by later probes, in ms (0: every probe runs the checks). Default `1000`. */
  cacheMs?: number;
  /** Run every check in the background at this interval, in ms, so probes read the last result at once (0: off). Default `0`. */
  refreshMs?: number;
  /** The built-in liveness check `event_loop`; `false` removes it. Default `{ maxDelayMs: 2000 }`. */
  eventLoop?: false | { maxDelayMs?: number };
}

/** Options of the graceful shutdown. */
export interface ShutdownOptions {
  /** Signals that start the shutdown; a second one forces the exit. Default `['SIGTERM', 'SIGINT']`. */
  signals?: readonly NodeJS.Signals[];
  /**
   * Time between readiness turning 503 and closing the listeners, so load balancers stop
   * routing here first (as a preStop sleep does). Default `5000` when `KUBERNETES_SERVICE_HOST`
   * is set, else `0`.
   */
  drainDelayMs?: number;
  /** Deadline for in-flight requests and shutdown hooks after the drain delay. Default `10000`. */
  timeoutMs?: number;
  /** Exit the process (code 0, or 1 when the deadline passed) after a signal-started shutdown. Default `true`. */
  exit?: boolean;
  /**
   * The time the platform allows between SIGTERM and SIGKILL (Kubernetes'
   * `terminationGracePeriodSeconds`, in ms); periscope warns at start when
   * `drainDelayMs + timeoutMs` exceeds it. Default `30000`.
   */
  gracePeriodMs?: number;
}

/** Options of {@link instrument}. Every field is optional; options given here win over environment variables. */
export interface PeriscopeOptions {
  /** Service name. Default: `OTEL_SERVICE_NAME`, else the `name` in `./package.json`, else `'unknown_service:node'`. */
  serviceName?: string;
  /** Service version, in `app_build_info`. Default: the `version` in `./package.json`, else `'0.0.0'`. */
  version?: string;
  /** Source commit, in `app_build_info`. Default: `GIT_COMMIT`, `SOURCE_COMMIT` or `COMMIT_SHA`, else `'unknown'`. */
  commit?: string;
  /** Prometheus metrics; `false` turns them off. Default `true` (all defaults). */
  metrics?: boolean | MetricsOptions;
  /**
   * node:http only: route templates such as `'/users/:id'` to label requests with.
   * `:name` matches one path segment, a trailing `*` matches the rest. Default: none.
   */
  routes?: readonly string[];
  /** node:http only: returns the route template of a request, or undefined for unmatched. Wins over `routes`. */
  routeOf?: (req: IncomingMessage) => string | undefined;
  /**
   * Receives failures inside periscope on the request path (they never reach the response).
   * Default: a process warning the first time each kind of failure happens.
   */
  onInternalError?: (error: unknown, where: string) => void;
  /** Health probes; `false` turns them off (and `obs.health.register` becomes a no-op). Default `true`. */
  health?: boolean | HealthOptions;
  /** Graceful shutdown on signals; `false` for apps that own their signals (`obs.shutdown()` still drains). Default `true`. */
  shutdown?: boolean | ShutdownOptions;
  /**
   * The app's server, for Express apps instrumented before the first request so that
   * readiness and shutdown know it. Default: learnt from the first request (Express), or the
   * app's own server (Fastify, node:http).
   */
  server?: Server;
  /** JSON logs (pino) with trace IDs and one line per request; `false` turns them off. Default `true` (all defaults). */
  logging?: boolean | LoggingOptions;
  /**
   * Report each request still in flight after `thresholdMs`, once, and count it in
   * `http_slow_requests_total{method}`; `false` turns it off. Default `{ thresholdMs: 5000 }`:
   * far above the p99 of an interactive API (tens to hundreds of ms), below the 30-60 s at
   * which proxies and load balancers give up, so a request flagged is stuck rather than
   * merely slow, and still in flight when someone reads the warning.
   */
  slowRequests?: { thresholdMs?: number } | false;
  /** OpenTelemetry tracing; `false` turns it off. Default `true` (all defaults). */
  tracing?: boolean | TracingOptions;
  /**
   * Route templates whose requests get no metrics, request logs or spans: exact (`'/internal/status'`,
   * `'/users/:id'`) or a prefix ending in `/*`. Default: none.
   */
  ignore?: readonly string[];
}

/** Which span exporter tracing uses. */
export type TracingExporter = 'otlp' | 'console' | 'none';

/** How OTLP export requests are encoded (the values of `OTEL_EXPORTER_OTLP_PROTOCOL`, over HTTP). */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

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
   * Fraction of new traces to sample, 0 to 1; a request with a sampled parent is always sampled
   * (parent-based). Default: `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, else `1`.
   */
  sampleRatio?: number;
  /** Extra HTTP headers on OTLP export requests (an API key, say). Default: none (`OTEL_EXPORTER_OTLP_HEADERS` still applies). */
  headers?: Record<string, string>;
  /** Extra resource attributes; they win over `OTEL_RESOURCE_ATTRIBUTES`. Default: none. */
  resourceAttributes?: Record<string, string | number | boolean>;
  /** CLIENT spans and `traceparent` for outgoing `fetch` and `http.request` calls made inside a request. Default `true`. */
  outgoing?: boolean;
  /** Most finished spans held for export; past it spans are dropped and counted. Default `2048`. */
  maxQueueSize?: number;
  /** Most spans per export request. Default `512`. */
  maxExportBatchSize?: number;
  /** Milliseconds between exports of a partial batch. Default `5000`. */
  scheduledDelayMillis?: number;
  /** Milliseconds one export request may take before it counts as failed. Default `10000`. */
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
  readonly sampler: ResolvedSampler;
  readonly headers: Readonly<Record<string, string>>;
  /** `OTEL_RESOURCE_ATTRIBUTES` merged with the option (the option wins). */
  readonly resourceAttributes: Readonly<Record<string, string | number | boolean>>;
  readonly outgoing: boolean;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMillis: number;
  readonly exportTimeoutMillis: number;
  readonly shutdownTimeoutMillis: number;
}

export interface ResolvedHealthOptions {
  readonly livePath: string;
  readonly readyPath: string;
  readonly healthPath: string;
  readonly port: number | undefined;
  readonly host: string | undefined;
  readonly timeoutMs: number;
  readonly cacheMs: number;
  readonly refreshMs: number;
  readonly eventLoop: false | { readonly maxDelayMs: number };
}

export interface ResolvedShutdownOptions {
  readonly signals: readonly NodeJS.Signals[];
  readonly drainDelayMs: number;
  readonly timeoutMs: number;
  readonly exit: boolean;
  readonly gracePeriodMs: number;
}

/** A pino level name. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** Anything pino can write to: an object with `write(line)`. */
export interface LogStream {
  write(line: string): unknown;
}

/** A log file, optionally rotated by size and/or time through the `pino-roll` transport. */
export interface LogFileDestination {
  /** File path; missing folders are created. */
  path: string;
  /** Rotate the file. Default: no rotation. */
  rotate?: {
    /** Rotate once the file reaches this size: a number of bytes, or a string with unit `k`, `m` or `g` (`'10m'`). Default: no size limit. */
    size?: number | string;
    /** Rotate `'daily'`, `'hourly'` or every this many milliseconds. Default: no time limit. */
    frequency?: 'daily' | 'hourly' | number;
    /** Rotated files kept besides the active one. Default: all kept. */
    keep?: number;
  };
}

/** `'stdout'`, `'stderr'`, a file path, a {@link LogFileDestination}, or a stream. */
export type LogDestination = 'stdout' | 'stderr' | string | LogFileDestination | LogStream;

/** Fields of the request log line; each can be left out with `logging.requests.fields`. */
export type RequestLogField =
  | 'request_id'
  | 'method'
  | 'route'
  | 'path'
  | 'status_code'
  | 'duration_ms'
  | 'bytes'
  | 'client_address'
  | 'user_agent'
  | 'headers';
export const REQUEST_LOG_FIELDS: readonly RequestLogField[] = Object.freeze([
  'request_id', 'method', 'route', 'path', 'status_code', 'duration_ms', 'bytes', 'client_address', 'user_agent', 'headers',
]);
/** Every field but `headers` (request headers are large; redacted when included). */
export const DEFAULT_REQUEST_LOG_FIELDS: readonly RequestLogField[] = Object.freeze(REQUEST_LOG_FIELDS.filter((f) => f !== 'headers'));

/** The request log line: one per completed request. */
export interface RequestLogOptions {
  /** Level per outcome; `'silent'` leaves those requests out. Default `{ success: 'info', clientError: 'warn', serverError: 'error' }`. */
  levels?: { success?: LogLevel; clientError?: LogLevel; serverError?: LogLevel };
  /** Fields written on the line. Default: all of {@link RequestLogField} but `headers`. */
  fields?: readonly RequestLogField[];
}

/** Options for the logging subsystem. */
export interface LoggingOptions {
  /** Lowest level written. Default: `LOG_LEVEL`, else `'info'`. */
  level?: LogLevel;
  /** Where lines go; an array writes to each. Default `'stdout'`. */
  destination?: LogDestination | readonly LogDestination[];
  /**
   * Write each line before the logging call returns. Default `false`: the lines of one
   * event-loop turn are written together at the end of the turn (and on `obs.shutdown()` and
   * process exit).
   */
  sync?: boolean;
  /** More pino redact paths (`'body.password'`, `'*.token'`), replaced by `"[REDACTED]"`. Default: none besides the built-in header paths. */
  redact?: readonly string[];
  /** `'label'` writes `"level":"info"`, `'number'` writes `"level":30`. Default `'label'`. */
  levelFormat?: 'label' | 'number';
  /** The request log line; `false` turns it off. Default `true`. */
  requests?: boolean | RequestLogOptions;
  /**
   * Request IDs: taken from this header when sane (at most `maxLength` visible ASCII characters),
   * else the request's trace ID, else a random UUID; echoed in the response header. `false` turns
   * request IDs off. Default `{ header: 'x-request-id', maxLength: 128 }`.
   */
  requestId?: boolean | { header?: string; maxLength?: number };
}

export interface ResolvedLoggingOptions {
  readonly level: LogLevel;
  readonly destinations: readonly LogDestination[];
  readonly sync: boolean;
  readonly redact: readonly string[];
  readonly levelFormat: 'label' | 'number';
  readonly requests: { readonly levels: { readonly success: LogLevel; readonly clientError: LogLevel; readonly serverError: LogLevel }; readonly fields: readonly RequestLogField[] } | false;
  readonly requestId: { readonly header: string; readonly maxLength: number } | false;
}

/** `slowRequests` after defaults. */
export interface ResolvedSlowRequestsOptions {
  readonly thresholdMs: number;
}

export const DEFAULT_SLOW_REQUEST_MS = 5000;

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
}

export interface ResolvedOptions {
  readonly serviceName: string;
  readonly version: string;
  readonly commit: string;
  readonly metrics: ResolvedMetricsOptions | false;
  readonly routes: readonly string[];
  readonly routeOf: ((req: IncomingMessage) => string | undefined) | undefined;
  readonly onInternalError: ((error: unknown, where: string) => void) | undefined;
  readonly health: ResolvedHealthOptions | false;
  readonly shutdown: ResolvedShutdownOptions | false;
  readonly server: Server | undefined;
  readonly logging: ResolvedLoggingOptions | false;
  readonly slowRequests: ResolvedSlowRequestsOptions | false;
  readonly tracing: ResolvedTracingOptions | false;
  readonly ignore: readonly string[];
}

export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
export const DEFAULT_SIZE_BUCKETS: readonly number[] = Object.freeze([100, 1000, 10000, 100000, 1000000, 10000000]);
export const DEFAULT_MAX_SERIES = 2000;

/** The environment, read once per `instrument()` call through typed getters. */
export interface Env {
  readonly serviceName: string | undefined;
  readonly commit: string | undefined;
  /** `KUBERNETES_SERVICE_HOST` is set: the process runs in a Kubernetes pod. */
  readonly inKubernetes: boolean;
  readonly logLevel: string | undefined;
  /** `OTEL_SDK_DISABLED=true` turns tracing off. */
  readonly otelDisabled: boolean;
  readonly otlpEndpoint: string | undefined;
  readonly otlpTracesEndpoint: string | undefined;
  readonly otlpProtocol: string | undefined;
  readonly otlpTracesProtocol: string | undefined;
  readonly tracesExporter: string | undefined;
  readonly tracesSampler: string | undefined;
  readonly tracesSamplerArg: string | undefined;
  /** `OTEL_RESOURCE_ATTRIBUTES`, parsed. */
  readonly resourceAttributes: Readonly<Record<string, string>>;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): Env {
  const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
  const resourceAttributes = parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES);
  return {
    // The spec ranks OTEL_SERVICE_NAME above a service.name in OTEL_RESOURCE_ATTRIBUTES.
    serviceName: nonEmpty(env.OTEL_SERVICE_NAME) ?? nonEmpty(resourceAttributes['service.name']),
    commit: nonEmpty(env.GIT_COMMIT) ?? nonEmpty(env.SOURCE_COMMIT) ?? nonEmpty(env.COMMIT_SHA),
    inKubernetes: nonEmpty(env.KUBERNETES_SERVICE_HOST) !== undefined,
    logLevel: nonEmpty(env.LOG_LEVEL),
    otelDisabled: nonEmpty(env.OTEL_SDK_DISABLED)?.toLowerCase() === 'true',
    otlpEndpoint: nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT),
    otlpTracesEndpoint: nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
    otlpProtocol: nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL)?.toLowerCase(),
    otlpTracesProtocol: nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)?.toLowerCase(),
    tracesExporter: nonEmpty(env.OTEL_TRACES_EXPORTER)?.toLowerCase(),
    tracesSampler: nonEmpty(env.OTEL_TRACES_SAMPLER)?.toLowerCase(),
    tracesSamplerArg: nonEmpty(env.OTEL_TRACES_SAMPLER_ARG),
    resourceAttributes,
  };
}

/** `key1=value1,key2=value2` (values percent-encoded) as the OpenTelemetry spec defines it; bad pairs are skipped. */
export function parseResourceAttributes(raw: string | undefined): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const pair of raw.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      continue;
    }
    if (key !== '') out[key] = value;
  }
  return out;
}

interface AppPackage {
  name?: string;
  version?: string;
}

function readAppPackage(): AppPackage {
  try {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as unknown;
    return typeof pkg === 'object' && pkg !== null ? (pkg as AppPackage) : {};
  } catch {
    return {};
  }
}

const TOP_LEVEL_KEYS = [
  'ignore', 'serviceName', 'version', 'commit', 'metrics', 'routes', 'routeOf', 'onInternalError', 'slowRequests', 'tracing', 'logging', 'health', 'shutdown', 'server'];
const TRACING_KEYS = [
  'endpoint',
  'exporter',
  'protocol',
  'sampleRatio',
  'headers',
  'resourceAttributes',
  'outgoing',
  'maxQueueSize',
  'maxExportBatchSize',
  'scheduledDelayMillis',
  'exportTimeoutMillis',
  'shutdownTimeoutMillis',
];
const HEALTH_KEYS = ['livePath', 'readyPath', 'healthPath', 'port', 'host', 'timeoutMs', 'cacheMs', 'refreshMs', 'eventLoop'];
const SHUTDOWN_KEYS = ['signals', 'drainDelayMs', 'timeoutMs', 'exit', 'gracePeriodMs'];
/** Signals a process cannot catch, or that Node reserves. */
const UNCATCHABLE_SIGNALS = ['SIGKILL', 'SIGSTOP', 'SIGUSR1'];
const METRICS_KEYS = ['path', 'port', 'host', 'registry', 'defaultMetrics', 'durationBuckets', 'sizeBuckets', 'maxSeries', 'auth'];

function invalid(option: string, value: unknown, allowed: string) {
  return createError('PERISCOPE_ERR_INVALID_OPTION', [option, describeValue(value), allowed], option);
}

function checkKeys(obj: object, known: string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      const option = prefix + key;
      throw createError('PERISCOPE_ERR_UNKNOWN_OPTION', [option, known.map((k) => prefix + k).join(', ')], option);
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function optString(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw invalid(option, value, 'a non-empty string');
  return value;
}

function optFunction<T>(value: unknown, option: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalid(option, value, 'a function');
  return value as T;
}

/** An endpoint path: starts with `/`, no query, no whitespace. */
export function checkPath(value: unknown, option: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\/[\x21-\x7e]*$/.test(value) || value.includes('?') || value.includes('#')) {
    throw invalid(option, value, 'a path starting with "/" without query, fragment or spaces');
  }
  return value;
}

export function checkPort(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw invalid(option, value, 'an integer from 0 to 65535');
  }
  return value;
}

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

function resolveMetrics(value: unknown): ResolvedMetricsOptions | false {
  if (value === false) return false;
  if (value !== undefined && value !== true && !isPlainObject(value)) {
    throw invalid('metrics', value, 'true, false or an object of metrics options');
  }
  const m: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(m, METRICS_KEYS, 'metrics.');
  const maxSeries = m.maxSeries;
  if (maxSeries !== undefined && (typeof maxSeries !== 'number' || !Number.isInteger(maxSeries) || maxSeries < 1 || maxSeries > 1_000_000)) {
    throw invalid('metrics.maxSeries', maxSeries, 'an integer from 1 to 1000000');
  }
  if (m.defaultMetrics !== undefined && typeof m.defaultMetrics !== 'boolean') {
    throw invalid('metrics.defaultMetrics', m.defaultMetrics, 'true or false');
  }
  return Object.freeze({
    path: checkPath(m.path, 'metrics.path', '/metrics'),
    port: checkPort(m.port, 'metrics.port'),
    host: optString(m.host, 'metrics.host'),
    registry: checkRegistry(m.registry, 'metrics.registry'),
    defaultMetrics: (m.defaultMetrics as boolean | undefined) ?? true,
    durationBuckets: checkBuckets(m.durationBuckets, 'metrics.durationBuckets', DEFAULT_DURATION_BUCKETS),
    sizeBuckets: checkBuckets(m.sizeBuckets, 'metrics.sizeBuckets', DEFAULT_SIZE_BUCKETS),
    maxSeries: (maxSeries as number | undefined) ?? DEFAULT_MAX_SERIES,
    auth: checkAuth(m.auth, 'metrics.auth'),
  });
}

function checkMs(value: unknown, option: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(option, value, `an integer from ${min} to ${max} (milliseconds)`);
  }
  return value;
}

function checkBoolean(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(option, value, 'true or false');
  return value;
}

function resolveHealth(value: unknown): ResolvedHealthOptions | false {
  if (value === false) return false;
  if (value !== undefined && value !== true && !isPlainObject(value)) {
    throw invalid('health', value, 'true, false or an object of health options');
  }
  const h: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(h, HEALTH_KEYS, 'health.');
  let eventLoop: ResolvedHealthOptions['eventLoop'] = { maxDelayMs: 2000 };
  if (h.eventLoop === false) eventLoop = false;
  else if (h.eventLoop !== undefined) {
    if (!isPlainObject(h.eventLoop)) throw invalid('health.eventLoop', h.eventLoop, 'false or { maxDelayMs }');
    checkKeys(h.eventLoop, ['maxDelayMs'], 'health.eventLoop.');
    eventLoop = Object.freeze({ maxDelayMs: checkMs(h.eventLoop.maxDelayMs, 'health.eventLoop.maxDelayMs', 2000, 1, 600_000) });
  }
  const livePath = checkPath(h.livePath, 'health.livePath', '/livez');
  const readyPath = checkPath(h.readyPath, 'health.readyPath', '/readyz');
  const healthPath = checkPath(h.healthPath, 'health.healthPath', '/healthz');
  if (new Set([livePath, readyPath, healthPath]).size !== 3) {
    throw invalid('health.healthPath', healthPath, 'three different paths for livePath, readyPath and healthPath');
  }
  return Object.freeze({
    livePath,
    readyPath,
    healthPath,
    port: checkPort(h.port, 'health.port'),
    host: optString(h.host, 'health.host'),
    timeoutMs: checkMs(h.timeoutMs, 'health.timeoutMs', 800, 1, 600_000),
    cacheMs: checkMs(h.cacheMs, 'health.cacheMs', 1000, 0, 3_600_000),
    refreshMs: checkMs(h.refreshMs, 'health.refreshMs', 0, 0, 3_600_000),
    eventLoop,
  });
}

function resolveShutdown(value: unknown, env: Env): ResolvedShutdownOptions | false {
  if (value === false) return false;
  if (value !== undefined && value !== true && !isPlainObject(value)) {
    throw invalid('shutdown', value, 'true, false or an object of shutdown options');
  }
  const s: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(s, SHUTDOWN_KEYS, 'shutdown.');
  let signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
  if (s.signals !== undefined) {
    const ok =
      Array.isArray(s.signals) &&
      s.signals.every((x) => typeof x === 'string' && /^SIG[A-Z0-9]+$/.test(x) && !UNCATCHABLE_SIGNALS.includes(x)) &&
      new Set(s.signals).size === s.signals.length;
    if (!ok) throw invalid('shutdown.signals', s.signals, 'an array of distinct signal names such as "SIGTERM", without SIGKILL, SIGSTOP or SIGUSR1');
    signals = s.signals as NodeJS.Signals[];
  }
  return Object.freeze({
    signals: Object.freeze([...signals]),
    drainDelayMs: checkMs(s.drainDelayMs, 'shutdown.drainDelayMs', env.inKubernetes ? 5000 : 0, 0, 3_600_000),
    timeoutMs: checkMs(s.timeoutMs, 'shutdown.timeoutMs', 10_000, 1, 3_600_000),
    exit: checkBoolean(s.exit, 'shutdown.exit', true),
    gracePeriodMs: checkMs(s.gracePeriodMs, 'shutdown.gracePeriodMs', 30_000, 1, 86_400_000),
  });
}

function checkServer(value: unknown): Server | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof HttpServer) && !(value instanceof HttpsServer)) {
    throw invalid('server', value, 'a node:http or node:https Server');
  }
  return value;
}

const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** Endpoint credentials: `{ bearerToken }` or `{ username, password }`, visible ASCII (no spaces). */
export function checkAuth(value: unknown, option: string): EndpointAuth | undefined {
  if (value === undefined) return undefined;
  const allowed = '{ bearerToken } or { username, password } with non-empty visible-ASCII strings (username without ":")';
  if (!isPlainObject(value)) throw invalid(option, value, allowed);
  const keys = Object.keys(value).sort().join(',');
  const ok = (v: unknown) => typeof v === 'string' && VISIBLE_ASCII.test(v);
  if (keys === 'bearerToken' && ok(value.bearerToken)) return Object.freeze({ bearerToken: value.bearerToken as string });
  if (keys === 'password,username' && ok(value.username) && !(value.username as string).includes(':') && ok(value.password)) {
    return Object.freeze({ username: value.username as string, password: value.password as string });
  }
  // Never echo a secret back in the error message.
  throw invalid(option, '[credentials hidden]', allowed);
}

function resolveSlowRequests(value: unknown): ResolvedSlowRequestsOptions | false {
  if (value === false) return false;
  if (value !== undefined && !isPlainObject(value)) throw invalid('slowRequests', value, 'false or an object { thresholdMs }');
  const o: Record<string, unknown> = value ?? {};
  checkKeys(o, ['thresholdMs'], 'slowRequests.');
  const t = o.thresholdMs;
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 2_147_483_647)) {
    throw invalid('slowRequests.thresholdMs', t, 'an integer from 1 to 2147483647 (milliseconds)');
  }
  return Object.freeze({ thresholdMs: (t as number | undefined) ?? DEFAULT_SLOW_REQUEST_MS });
}

function checkInt(value: unknown, option: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(option, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

function checkUrl(value: string, option: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(option, value, 'an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(option, value, 'an http:// or https:// URL');
  return value;
}

/** A base URL gets the signal path; a URL that already names it is used as is. */
function tracesUrl(base: string): string {
  if (/\/v1\/traces\/?$/.test(base)) return base;
  return base.endsWith('/') ? `${base}v1/traces` : `${base}/v1/traces`;
}

function resolveSampler(ratioOption: unknown, env: Env): ResolvedSampler {
  if (ratioOption !== undefined) {
    if (typeof ratioOption !== 'number' || !Number.isFinite(ratioOption) || ratioOption < 0 || ratioOption > 1) {
      throw invalid('tracing.sampleRatio', ratioOption, 'a number from 0 to 1');
    }
    return Object.freeze({ parentBased: true, ratio: ratioOption });
  }
  const name = env.tracesSampler ?? 'parentbased_always_on';
  const parentBased = name.startsWith('parentbased_');
  const kind = parentBased ? name.slice('parentbased_'.length) : name;
  let ratio: number;
  if (kind === 'always_on') ratio = 1;
  else if (kind === 'always_off') ratio = 0;
  else if (kind === 'traceidratio') {
    const arg = env.tracesSamplerArg;
    ratio = arg === undefined ? 1 : Number(arg);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw invalid('OTEL_TRACES_SAMPLER_ARG', arg, 'a number from 0 to 1');
  } else {
    throw invalid(
      'OTEL_TRACES_SAMPLER',
      env.tracesSampler,
      'always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio',
    );
  }
  return Object.freeze({ parentBased, ratio });
}

function checkStringRecord<T>(value: unknown, option: string, ok: (v: unknown) => boolean, allowed: string): Record<string, T> {
  if (value === undefined) return {};
  if (!isPlainObject(value) || !Object.values(value).every(ok)) throw invalid(option, value, allowed);
  return { ...(value as Record<string, T>) };
}

const PROTOCOLS: readonly string[] = ['http/protobuf', 'http/json'];

/** The option, else the traces-specific variable, else the general one, else protobuf. */
function resolveProtocol(value: unknown, env: Env): OtlpProtocol {
  if (value !== undefined) {
    if (typeof value !== 'string' || !PROTOCOLS.includes(value)) throw invalid('tracing.protocol', value, "'http/protobuf' or 'http/json'");
    return value as OtlpProtocol;
  }
  for (const [name, v] of [['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', env.otlpTracesProtocol], ['OTEL_EXPORTER_OTLP_PROTOCOL', env.otlpProtocol]] as const) {
    if (v === undefined) continue;
    // grpc is a valid value of the variable, but periscope exports over HTTP only.
    if (!PROTOCOLS.includes(v)) throw invalid(name, v, 'http/protobuf or http/json (grpc is not supported)');
    return v as OtlpProtocol;
  }
  return 'http/protobuf';
}

function resolveTracing(value: unknown, env: Env): ResolvedTracingOptions | false {
  if (value === false) return false;
  if (value !== undefined && value !== true && !isPlainObject(value)) {
    throw invalid('tracing', value, 'true, false or an object of tracing options');
  }
  const t: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(t, TRACING_KEYS, 'tracing.');
  // OTEL_SDK_DISABLED turns tracing off unless the code asked for it explicitly.
  if (env.otelDisabled && value === undefined) return false;
  const endpointOption = optString(t.endpoint, 'tracing.endpoint');
  let endpoint: string | undefined;
  if (endpointOption !== undefined) endpoint = tracesUrl(checkUrl(endpointOption, 'tracing.endpoint'));
  else if (env.otlpTracesEndpoint !== undefined) endpoint = checkUrl(env.otlpTracesEndpoint, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  else if (env.otlpEndpoint !== undefined) endpoint = tracesUrl(checkUrl(env.otlpEndpoint, 'OTEL_EXPORTER_OTLP_ENDPOINT'));
  const exporters = ['otlp', 'console', 'none'];
  let exporter: TracingExporter;
  if (t.exporter !== undefined) {
    if (typeof t.exporter !== 'string' || !exporters.includes(t.exporter)) throw invalid('tracing.exporter', t.exporter, "'otlp', 'console' or 'none'");
    exporter = t.exporter as TracingExporter;
  } else if (env.tracesExporter !== undefined) {
    if (!exporters.includes(env.tracesExporter)) throw invalid('OTEL_TRACES_EXPORTER', env.tracesExporter, 'otlp, console or none');
    exporter = env.tracesExporter as TracingExporter;
  } else {
    exporter = endpoint === undefined ? 'none' : 'otlp';
  }
  // The exporter's own default (localhost:4318) applies when 'otlp' is asked for without an endpoint.
  if (exporter === 'otlp' && endpoint === undefined) endpoint = 'http://localhost:4318/v1/traces';
  const protocol = resolveProtocol(t.protocol, env);
  if (t.outgoing !== undefined && typeof t.outgoing !== 'boolean') throw invalid('tracing.outgoing', t.outgoing, 'true or false');
  const maxQueueSize = checkInt(t.maxQueueSize, 'tracing.maxQueueSize', 1, 1_000_000, 2048);
  const maxExportBatchSize = checkInt(t.maxExportBatchSize, 'tracing.maxExportBatchSize', 1, 1_000_000, 512);
  if (maxExportBatchSize > maxQueueSize) {
    throw invalid('tracing.maxExportBatchSize', maxExportBatchSize, `at most tracing.maxQueueSize (${maxQueueSize})`);
  }
  return Object.freeze({
    endpoint,
    exporter,
    protocol,
    sampler: resolveSampler(t.sampleRatio, env),
    headers: Object.freeze(checkStringRecord<string>(t.headers, 'tracing.headers', (v) => typeof v === 'string', 'an object of string header values')),
    resourceAttributes: Object.freeze({
      ...env.resourceAttributes,
      ...checkStringRecord<string | number | boolean>(
        t.resourceAttributes,
        'tracing.resourceAttributes',
        (v) => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)),
        'an object of string, number or boolean values',
      ),
    }),
    outgoing: (t.outgoing as boolean | undefined) ?? true,
    maxQueueSize,
    maxExportBatchSize,
    scheduledDelayMillis: checkInt(t.scheduledDelayMillis, 'tracing.scheduledDelayMillis', 1, 3_600_000, 5000),
    exportTimeoutMillis: checkInt(t.exportTimeoutMillis, 'tracing.exportTimeoutMillis', 1, 600_000, 10_000),
    shutdownTimeoutMillis: checkInt(t.shutdownTimeoutMillis, 'tracing.shutdownTimeoutMillis', 0, 600_000, 5000),
  });
}

function checkRoutes(value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((r) => typeof r === 'string' && r.startsWith('/'))) {
    throw invalid('routes', value, 'an array of route templates starting with "/", such as "/users/:id"');
  }
  return Object.freeze([...(value as string[])]);
}

/**
 * Merges defaults, the environment and the caller's options into one frozen object,
 * validating as it goes. Never writes to `options`.
 */
export function resolveOptions(options: unknown, env: Env = readEnv()): ResolvedOptions {
  if (options === undefined) options = {};
  if (!isPlainObject(options)) throw invalid('options', options, 'an object');
  checkKeys(options, TOP_LEVEL_KEYS, '');
  const o = options;
  let pkg: AppPackage | undefined;
  const appPackage = () => (pkg ??= readAppPackage());
  const serviceName =
    optString(o.serviceName, 'serviceName') ?? env.serviceName ?? nonEmptyString(appPackage().name) ?? 'unknown_service:node';
  const version = optString(o.version, 'version') ?? nonEmptyString(appPackage().version) ?? '0.0.0';
  const metrics = resolveMetrics(o.metrics);
  const health = resolveHealth(o.health);
  // Metrics and health on one port share one management server, so they must agree on its host.
  if (metrics !== false && health !== false && metrics.port !== undefined && metrics.port === health.port && metrics.host !== health.host) {
    throw invalid('health.host', health.host, `the same host as metrics.host on port ${health.port} (${describeValue(metrics.host)})`);
  }
  return Object.freeze({
    serviceName,
    version,
    commit: optString(o.commit, 'commit') ?? env.commit ?? 'unknown',
    metrics,
    routes: checkRoutes(o.routes),
    routeOf: optFunction<(req: IncomingMessage) => string | undefined>(o.routeOf, 'routeOf'),
    onInternalError: optFunction<(error: unknown, where: string) => void>(o.onInternalError, 'onInternalError'),
    slowRequests: resolveSlowRequests(o.slowRequests),
    logging: resolveLogging(o.logging, env),
    tracing: resolveTracing(o.tracing, env),
    health,
    shutdown: resolveShutdown(o.shutdown, env),
    server: checkServer(o.server),
    ignore: checkRoutes((o as { ignore?: unknown }).ignore),
  });
}

function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

const LOGGING_KEYS = ['level', 'destination', 'sync', 'redact', 'levelFormat', 'requests', 'requestId'];
const REQUEST_LOG_KEYS = ['levels', 'fields'];
const LEVEL_KEYS = ['success', 'clientError', 'serverError'];
const REQUEST_ID_KEYS = ['header', 'maxLength'];
const LEVELS_ALLOWED = LOG_LEVELS.map((l) => `"${l}"`).join(', ');

function checkLevel(value: unknown, option: string, fallback: LogLevel): LogLevel {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(LOG_LEVELS as readonly string[]).includes(value)) throw invalid(option, value, `one of ${LEVELS_ALLOWED}`);
  return value as LogLevel;
}

function checkDestination(value: unknown, option: string): LogDestination {
  if (value === 'stdout' || value === 'stderr') return value;
  if (typeof value === 'string') {
    if (value.trim() === '') throw invalid(option, value, '"stdout", "stderr", a file path, { path, rotate } or a stream');
    return value;
  }
  if (typeof value === 'object' && value !== null && typeof (value as LogStream).write === 'function') return value as LogStream;
  if (isPlainObject(value)) {
    checkKeys(value, ['path', 'rotate'], `${option}.`);
    const path = optString(value.path, `${option}.path`);
    if (path === undefined) throw invalid(`${option}.path`, value.path, 'a file path');
    if (value.rotate === undefined) return Object.freeze({ path });
    if (!isPlainObject(value.rotate)) throw invalid(`${option}.rotate`, value.rotate, 'an object with size, frequency and/or keep');
    const r = value.rotate;
    checkKeys(r, ['size', 'frequency', 'keep'], `${option}.rotate.`);
    const size = r.size;
    if (size !== undefined && !((typeof size === 'number' && Number.isInteger(size) && size > 0) || (typeof size === 'string' && /^[1-9][0-9]*[kmg]?$/i.test(size)))) {
      throw invalid(`${option}.rotate.size`, size, 'a positive integer number of bytes or a string such as "512k", "10m" or "1g"');
    }
    const frequency = r.frequency;
    if (frequency !== undefined && frequency !== 'daily' && frequency !== 'hourly' && !(typeof frequency === 'number' && Number.isInteger(frequency) && frequency >= 1000)) {
      throw invalid(`${option}.rotate.frequency`, frequency, '"daily", "hourly" or a whole number of milliseconds of at least 1000');
    }
    if (size === undefined && frequency === undefined) throw invalid(`${option}.rotate`, r, 'an object with size and/or frequency');
    const keep = r.keep;
    if (keep !== undefined && (typeof keep !== 'number' || !Number.isInteger(keep) || keep < 1)) throw invalid(`${option}.rotate.keep`, keep, 'a positive integer');
    return Object.freeze({ path, rotate: Object.freeze({ size: size as number | string | undefined, frequency: frequency as 'daily' | 'hourly' | number | undefined, keep: keep as number | undefined }) });
  }
  throw invalid(option, value, '"stdout", "stderr", a file path, { path, rotate } or a stream with a write method');
}

function resolveRequestLog(value: unknown): ResolvedLoggingOptions['requests'] {
  if (value === false) return false;
  if (value !== undefined && value !== true && !isPlainObject(value)) throw invalid('logging.requests', value, 'true, false or an object with levels and fields');
  const r: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(r, REQUEST_LOG_KEYS, 'logging.requests.');
  if (r.levels !== undefined && !isPlainObject(r.levels)) throw invalid('logging.requests.levels', r.levels, 'an object with success, clientError and/or serverError');
  const levels: Record<string, unknown> = isPlainObject(r.levels) ? r.levels : {};
  checkKeys(levels, LEVEL_KEYS, 'logging.requests.levels.');
  let fields = DEFAULT_REQUEST_LOG_FIELDS;
  if (r.fields !== undefined) {
    if (!Array.isArray(r.fields) || !r.fields.every((f) => (REQUEST_LOG_FIELDS as readonly unknown[]).includes(f))) {
      throw invalid('logging.requests.fields', r.fields, `an array of ${REQUEST_LOG_FIELDS.map((f) => `"${f}"`).join(', ')}`);
    }
    fields = Object.freeze([...(r.fields as RequestLogField[])]);
  }
  return Object.freeze({
    levels: Object.freeze({
      success: checkLevel(levels.success, 'logging.requests.levels.success', 'info'),
      clientError: checkLevel(levels.clientError, 'logging.requests.levels.clientError', 'warn'),
      serverError: checkLevel(levels.serverError, 'logging.requests.levels.serverError', 'error'),
    }),
    fields,
  });
}

function resolveRequestId(value: unknown): ResolvedLoggingOptions['requestId'] {
  if (value === false) return false;
  if (value !== undefined && value !== true && !isPlainObject(value)) throw invalid('logging.requestId', value, 'true, false or an object with header and maxLength');
  const r: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(r, REQUEST_ID_KEYS, 'logging.requestId.');
  const header = r.header;
  if (header !== undefined && (typeof header !== 'string' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(header))) {
    throw invalid('logging.requestId.header', header, 'an HTTP header name such as "x-request-id"');
  }
  const maxLength = r.maxLength;
  if (maxLength !== undefined && (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 1 || maxLength > 1024)) {
    throw invalid('logging.requestId.maxLength', maxLength, 'an integer from 1 to 1024');
  }
  return Object.freeze({ header: ((header as string | undefined) ?? 'x-request-id').toLowerCase(), maxLength: (maxLength as number | undefined) ?? 128 });
}

/** Logging options over `LOG_LEVEL`; exported for `createLogger()` in `periscope/logging`. */
export function resolveLogging(value: unknown, env: Env = readEnv()): ResolvedLoggingOptions | false {
  if (value === false) return false;
  if (value !== undefined && value !== true && !isPlainObject(value)) throw invalid('logging', value, 'true, false or an object of logging options');
  const l: Record<string, unknown> = isPlainObject(value) ? value : {};
  checkKeys(l, LOGGING_KEYS, 'logging.');
  const rawDestinations = l.destination === undefined ? ['stdout'] : Array.isArray(l.destination) ? (l.destination as unknown[]) : [l.destination];
  if (rawDestinations.length === 0) throw invalid('logging.destination', l.destination, 'at least one destination');
  const destinations = Object.freeze(rawDestinations.map((d, i) => checkDestination(d, Array.isArray(l.destination) ? `logging.destination[${i}]` : 'logging.destination')));
  if (l.sync !== undefined && typeof l.sync !== 'boolean') throw invalid('logging.sync', l.sync, 'true or false');
  if (l.redact !== undefined && (!Array.isArray(l.redact) || !l.redact.every((p) => typeof p === 'string' && p !== ''))) {
    throw invalid('logging.redact', l.redact, 'an array of pino redact paths such as "body.password" or "*.token"');
  }
  if (l.levelFormat !== undefined && l.levelFormat !== 'label' && l.levelFormat !== 'number') throw invalid('logging.levelFormat', l.levelFormat, '"label" or "number"');
  return Object.freeze({
    // The option wins; LOG_LEVEL is only read (and only validated) when the option is absent.
    level: l.level !== undefined ? checkLevel(l.level, 'logging.level', 'info') : checkLevel(env.logLevel?.toLowerCase(), 'LOG_LEVEL', 'info'),
    destinations,
    sync: (l.sync as boolean | undefined) ?? false,
    redact: Object.freeze([...((l.redact as string[] | undefined) ?? [])]),
    levelFormat: (l.levelFormat as 'label' | 'number' | undefined) ?? 'label',
    requests: resolveRequestLog(l.requests),
    requestId: resolveRequestId(l.requestId),
  });
}
