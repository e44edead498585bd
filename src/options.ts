import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
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
  /**
   * Report each request still in flight after `thresholdMs`, once, and count it in
   * `http_slow_requests_total{method}`; `false` turns it off. Default `{ thresholdMs: 5000 }`:
   * far above the p99 of an interactive API (tens to hundreds of ms), below the 30-60 s at
   * which proxies and load balancers give up, so a request flagged is stuck rather than
   * merely slow, and still in flight when someone reads the warning.
   */
  slowRequests?: { thresholdMs?: number } | false;
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
  readonly slowRequests: ResolvedSlowRequestsOptions | false;
}

export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
export const DEFAULT_SIZE_BUCKETS: readonly number[] = Object.freeze([100, 1000, 10000, 100000, 1000000, 10000000]);
export const DEFAULT_MAX_SERIES = 2000;

/** The environment, read once per `instrument()` call through typed getters. */
export interface Env {
  readonly serviceName: string | undefined;
  readonly commit: string | undefined;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): Env {
  const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
  return {
    serviceName: nonEmpty(env.OTEL_SERVICE_NAME),
    commit: nonEmpty(env.GIT_COMMIT) ?? nonEmpty(env.SOURCE_COMMIT) ?? nonEmpty(env.COMMIT_SHA),
  };
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

const TOP_LEVEL_KEYS = ['serviceName', 'version', 'commit', 'metrics', 'routes', 'routeOf', 'onInternalError', 'slowRequests'];
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
  return Object.freeze({
    serviceName,
    version,
    commit: optString(o.commit, 'commit') ?? env.commit ?? 'unknown',
    metrics: resolveMetrics(o.metrics),
    routes: checkRoutes(o.routes),
    routeOf: optFunction<(req: IncomingMessage) => string | undefined>(o.routeOf, 'routeOf'),
    onInternalError: optFunction<(error: unknown, where: string) => void>(o.onInternalError, 'onInternalError'),
    slowRequests: resolveSlowRequests(o.slowRequests),
  });
}

function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}
