import { Server as HttpServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { describeValue } from './errors.js';
import { emitEnvWarning, EnvReader, readEnv, resolveIdentity } from './core/env.js';
import type { Env, EnvWarning } from './core/env.js';
import { checkKeys, invalid, isPlainObject, optFunction, optString } from './core/validate.js';
import { resolveMetrics } from './metrics/options.js';
import type { MetricsOptions, ResolvedMetricsOptions } from './metrics/options.js';
import { resolveLogging } from './logging/options.js';
import type { LoggingOptions, ResolvedLoggingOptions } from './logging/options.js';
import { resolveTracing } from './tracing/options.js';
import type { ResolvedTracingOptions, TracingOptions } from './tracing/options.js';
import { resolveHealth, resolveShutdown } from './health/options.js';
import type { HealthOptions, ResolvedHealthOptions, ResolvedShutdownOptions, ShutdownOptions } from './health/options.js';
import { resolveSlowRequests } from './resilience/options.js';
import { resolveDb } from './db/options.js';
import type { DbOptions, ResolvedDbOptions } from './db/options.js';
import type { ResolvedSlowRequestsOptions } from './resilience/options.js';
import { resolveDiagnostics } from './diagnostics/options.js';
import type { DiagnosticsOptions, ResolvedDiagnosticsOptions } from './diagnostics/options.js';
import { resolveOverload } from './overload/options.js';
import { resolveCluster } from './cluster/options.js';
import type { ClusterOptions, ResolvedClusterOptions } from './cluster/options.js';
import type { OverloadOptions, ResolvedOverloadOptions } from './overload/options.js';
import { resolveConsole } from './console/options.js';
import type { ConsoleOptions, ResolvedConsoleOptions } from './console/options.js';

// The root options: the top-level keys only. Each concern's options.ts owns its types, defaults,
// environment variables and validation; this file hands it its key.

export { emitEnvWarning, readEnv };
export type { Env, EnvWarning };

/** Options of {@link instrument}. Every field is optional; options given here win over environment variables. */
export interface PeriscopeOptions {
  /**
   * Service name. Default: `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else the
   * `name` in the app's package.json (the first one at or above the entry script's folder), else `'unknown_service:node'`.
   */
  serviceName?: string;
  /** Service version, in `app_build_info`. Default: the `version` in the app's package.json, else `'0.0.0'`. */
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
  /**
   * Route templates whose requests get no metrics, request log line or span: exact
   * (`'/internal/status'`, `'/users/:id'`) or ending in `/*` (`'/internal/*'` matches
   * `/internal` and everything below). Default: none.
   */
  ignore?: readonly string[];
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
   * Database and cache calls as CLIENT spans, `db_client_*` metrics and slow-operation lines:
   * Redis automatically, PostgreSQL through `obs.instrumentPostgres()`; `false` turns it off.
   * Default `true` (`{ redis: true, slowQueryMs: 1000 }`).
   */
  db?: boolean | DbOptions;
  /**
   * CPU and heap profiles (pprof), heap snapshots, live resources and the effective
   * configuration under `/debug`, and the event-loop stall watchdog. Off by default; on, it
   * needs `auth` or a management `port` on a loopback `host`. Default `false`.
   */
  diagnostics?: false | DiagnosticsOptions;
  /**
   * An adaptive concurrency limit that answers requests over it with 503 and `Retry-After`
   * before the app sees them; `true` for the defaults (Gradient2). Default `false` (off).
   */
  overload?: boolean | OverloadOptions;
  /**
   * In a Node cluster worker (PM2 cluster mode included): the worker answers its periscope
   * primary's scrapes over IPC instead of serving `/metrics` itself, or, with no periscope
   * primary, serves them on `cluster.fallbackPort + slot`. Does nothing outside a cluster
   * worker; `false` makes a worker behave as a lone process. Default `true`.
   */
  cluster?: boolean | ClusterOptions;
  /**
   * The local developer console: routes, traces with their logs, a live log tail, health and
   * breakers in the browser, served on its own listener on 127.0.0.1 behind a random token
   * (`await obs.consoleUrl()`). Refused under `NODE_ENV=production` unless `allowProduction`.
   * Default: `PERISCOPE_CONSOLE` (`1` or `true` turns it on), else `false`.
   */
  console?: boolean | ConsoleOptions;
}

export interface ResolvedOptions {
  readonly serviceName: string;
  readonly version: string;
  readonly commit: string;
  readonly metrics: ResolvedMetricsOptions | false;
  readonly routes: readonly string[];
  readonly routeOf: ((req: IncomingMessage) => string | undefined) | undefined;
  /** Route templates that get no metrics, logs or spans (exact, or a prefix when ending in `/*`). */
  readonly ignore: readonly string[];
  readonly onInternalError: ((error: unknown, where: string) => void) | undefined;
  readonly health: ResolvedHealthOptions | false;
  readonly shutdown: ResolvedShutdownOptions | false;
  readonly server: Server | undefined;
  readonly logging: ResolvedLoggingOptions | false;
  readonly slowRequests: ResolvedSlowRequestsOptions | false;
  readonly tracing: ResolvedTracingOptions | false;
  readonly db: ResolvedDbOptions | false;
  readonly diagnostics: ResolvedDiagnosticsOptions | false;
  readonly overload: ResolvedOverloadOptions | false;
  readonly cluster: ResolvedClusterOptions | false;
  readonly console: ResolvedConsoleOptions | false;
}

const TOP_LEVEL_KEYS = [
  'serviceName',
  'version',
  'commit',
  'metrics',
  'routes',
  'routeOf',
  'ignore',
  'onInternalError',
  'slowRequests',
  'tracing',
  'logging',
  'health',
  'shutdown',
  'server',
  'db',
  'diagnostics',
  'overload',
  'cluster',
  'console',
];

function checkRoutes(value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((r) => typeof r === 'string' && r.startsWith('/'))) {
    throw invalid('routes', value, 'an array of route templates starting with "/", such as "/users/:id"');
  }
  return Object.freeze([...(value as string[])]);
}

/** A template to ignore: starts with `/`, visible ASCII, no query or fragment, `*` only as a final `/*`. */
const IGNORE_TEMPLATE = /^\/[\x21-\x7e]*$/;

function checkIgnore(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  const ok = (r: unknown) =>
    typeof r === 'string' && IGNORE_TEMPLATE.test(r) && !/[?#]/.test(r) && !(r.endsWith('/*') ? r.slice(0, -2) : r).includes('*');
  if (!Array.isArray(value) || !value.every(ok)) {
    throw invalid('ignore', value, 'an array of route templates starting with "/", exact ("/internal/status") or ending in "/*" ("/internal/*")');
  }
  return Object.freeze([...(value as string[])]);
}

function checkServer(value: unknown): Server | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof HttpServer) && !(value instanceof HttpsServer)) throw invalid('server', value, 'a node:http or node:https Server');
  return value;
}

/** Metrics and health on one port share one management server, so they must agree on its host. */
function checkSharedPort(metrics: ResolvedMetricsOptions | false, health: ResolvedHealthOptions | false): void {
  if (metrics === false || health === false || metrics.port === undefined || metrics.port !== health.port || metrics.host === health.host) return;
  throw invalid('health.host', health.host, `the same host as metrics.host on port ${health.port} (${describeValue(metrics.host)})`);
}

/**
 * Merges defaults, the environment and the caller's options into one frozen object,
 * validating as it goes. Never writes to `options`. An invalid option throws
 * `PERISCOPE_ERR_INVALID_OPTION`; an invalid environment value is reported once through
 * `warn` and ignored (treated as unset), as the OpenTelemetry specification asks.
 */
export function resolveOptions(
  options: unknown,
  env: Env = readEnv(),
  warn: (w: EnvWarning) => void = emitEnvWarning,
  taken?: (variables: ReadonlyMap<string, 'env' | 'file'>) => void,
): ResolvedOptions {
  if (options === undefined) options = {};
  if (!isPlainObject(options)) throw invalid('options', options, 'an object');
  checkKeys(options, TOP_LEVEL_KEYS, '');
  const o = options;
  const read = new EnvReader(env, warn);
  const metrics = resolveMetrics(o.metrics, read);
  const health = resolveHealth(o.health, read);
  checkSharedPort(metrics, health);
  const resolved: ResolvedOptions = Object.freeze({
    ...resolveIdentity(o, read),
    commit: optString(o.commit, 'commit') ?? read.text('GIT_COMMIT') ?? read.text('SOURCE_COMMIT') ?? read.text('COMMIT_SHA') ?? 'unknown',
    metrics,
    routes: checkRoutes(o.routes),
    routeOf: optFunction<(req: IncomingMessage) => string | undefined>(o.routeOf, 'routeOf'),
    ignore: checkIgnore(o.ignore),
    onInternalError: optFunction<(error: unknown, where: string) => void>(o.onInternalError, 'onInternalError'),
    slowRequests: resolveSlowRequests(o.slowRequests),
    logging: resolveLogging(o.logging, read),
    tracing: resolveTracing(o.tracing, read),
    health,
    shutdown: resolveShutdown(o.shutdown, read),
    server: checkServer(o.server),
    db: resolveDb(o.db),
    diagnostics: resolveDiagnostics(o.diagnostics, read),
    overload: resolveOverload(o.overload),
    cluster: resolveCluster(o.cluster, read, metrics),
    console: resolveConsole(o.console, read),
  });
  taken?.(read.taken());
  return resolved;
}
