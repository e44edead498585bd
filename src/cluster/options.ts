import type { Registry } from '@prometheus-io/client';
import type { EnvReader } from '../core/env.js';
import { checkBoolean, checkInt, checkKeys, checkPath, checkPort, concernObject, invalid, isPlainObject, oneOf, optString } from '../core/validate.js';

/** `cluster` in a worker's `instrument()` options: how it finds its primary. Every field is optional. */
export interface ClusterOptions {
  /**
   * How long a cluster worker waits for a periscope primary (`instrumentPrimary()`) to answer
   * its hello before it serves its own metrics on `fallbackPort + slot`. Default `1000`.
   */
  primaryTimeoutMs?: number;
  /**
   * The first port of the fallback: a worker whose primary is not periscope's (PM2 cluster
   * mode, a custom primary) serves `/metrics` on this port plus its slot. Default:
   * `metrics.port`, else `9464`.
   */
  fallbackPort?: number;
  /** The interface the fallback server binds to. Default: `metrics.host`, else all interfaces. */
  fallbackHost?: string;
}

export interface ResolvedClusterOptions {
  readonly primaryTimeoutMs: number;
  readonly fallbackPort: number;
  readonly fallbackHost: string | undefined;
  /** `NODE_APP_INSTANCE` (PM2's instance number), when set: the slot of this worker without a periscope primary. */
  readonly instance: number | undefined;
}

export const CLUSTER_DEFAULTS = Object.freeze({
  primaryTimeoutMs: 1000,
  fallbackPort: 9464,
  collectTimeoutMs: 2000,
  minReadyWorkers: 1,
  metricsPort: 9464,
  shutdownTimeoutMs: 30_000,
});

const KEYS = ['primaryTimeoutMs', 'fallbackPort', 'fallbackHost'];

/**
 * `cluster`: `false` makes a cluster worker behave as a lone process; `true`, `undefined` or an
 * object turn the worker side on (it does nothing outside a cluster worker). `metrics` gives the
 * fallback port's default.
 */
export function resolveCluster(value: unknown, read: EnvReader, metrics: { port: number | undefined; host: string | undefined } | false): ResolvedClusterOptions | false {
  const o = concernObject(value, 'cluster', KEYS);
  if (o === false) return false;
  const fallbackPort = checkPort(o.fallbackPort, 'cluster.fallbackPort') ?? (metrics === false ? undefined : metrics.port) ?? CLUSTER_DEFAULTS.fallbackPort;
  return Object.freeze({
    primaryTimeoutMs: checkInt(o.primaryTimeoutMs, 'cluster.primaryTimeoutMs', 1, 60_000, CLUSTER_DEFAULTS.primaryTimeoutMs, 'milliseconds'),
    fallbackPort,
    fallbackHost: optString(o.fallbackHost, 'cluster.fallbackHost') ?? (metrics === false ? undefined : metrics.host),
    instance: read.int('NODE_APP_INSTANCE', 0, 65_535),
  });
}

/** Options of {@link instrumentPrimary}. Every field is optional. */
export interface PrimaryOptions {
  /** The merged `/metrics` and the primary's probes, on their own port (never the app's). */
  metrics?: PrimaryMetricsOptions;
  /** How the primary collects from its workers and when it is ready. */
  cluster?: PrimaryClusterOptions;
  /** The probes' paths; `false` serves none. Default `true`: `/livez`, `/readyz`, `/healthz`. */
  health?: boolean | { livePath?: string; readyPath?: string; healthPath?: string };
  /**
   * On SIGTERM or SIGINT: readiness off, each worker sent SIGTERM (each drains with its own
   * periscope shutdown), the primary's server closed once every worker exited (or at
   * `timeoutMs`, when the rest get SIGKILL), then the process exits. `false` leaves the signals
   * to the app. Default `true` (`{ timeoutMs: 30000 }`).
   */
  shutdown?: boolean | { timeoutMs?: number; exit?: boolean };
  /** `version` in `/healthz`. Default: the app's package.json `version`, else `'0.0.0'`. */
  version?: string;
}

export interface PrimaryMetricsOptions {
  /** Port of the primary's server (0 picks a free one). Default `9464`. */
  port?: number;
  /** Interface it binds to. Default: all interfaces. */
  host?: string;
  /** Path of the merged exposition. Default `/metrics`. */
  path?: string;
  /** The primary's own registry, merged with the workers'. Default: a new one. */
  registry?: Registry;
  /** The primary's own process and runtime metrics. Default `true`. */
  defaultMetrics?: boolean;
}

export interface PrimaryClusterOptions {
  /** How long each worker has to answer a scrape. Default `2000` (well under Prometheus' 10 s scrape timeout). */
  collectTimeoutMs?: number;
  /**
   * A worker that did not answer in time: `'omit'` serves the scrape anyway (its counters at
   * their last values, its gauges left out, `periscope_cluster_worker_up` 0); `'fail'` answers
   * 503. Default `'omit'`.
   */
  onWorkerTimeout?: 'omit' | 'fail';
  /** `/readyz` is 200 while at least this many workers are ready. Default `1`. */
  minReadyWorkers?: number;
}

export interface ResolvedPrimaryOptions {
  readonly version: string;
  readonly metrics: { readonly port: number; readonly host: string | undefined; readonly path: string; readonly registry: Registry | undefined; readonly defaultMetrics: boolean };
  readonly cluster: { readonly collectTimeoutMs: number; readonly onWorkerTimeout: 'omit' | 'fail'; readonly minReadyWorkers: number };
  readonly health: { readonly livePath: string; readonly readyPath: string; readonly healthPath: string } | false;
  readonly shutdown: { readonly timeoutMs: number; readonly exit: boolean } | false;
}

function sub(value: unknown, option: string, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  const o = concernObject(value, option, keys);
  if (o === false) throw invalid(option, value, `an object of ${option} options`);
  return o;
}

/** Resolves and freezes {@link PrimaryOptions}; throws `PERISCOPE_ERR_INVALID_OPTION` / `_UNKNOWN_OPTION`. */
export function resolvePrimary(options: unknown, version: string): ResolvedPrimaryOptions {
  if (options === undefined) options = {};
  if (!isPlainObject(options)) throw invalid('options', options, 'an object');
  checkKeys(options, ['metrics', 'cluster', 'health', 'shutdown', 'version'], '');
  const o = options;
  const m = sub(o.metrics, 'metrics', ['port', 'host', 'path', 'registry', 'defaultMetrics']);
  const c = sub(o.cluster, 'cluster', ['collectTimeoutMs', 'onWorkerTimeout', 'minReadyWorkers']);
  const h = concernObject(o.health, 'health', ['livePath', 'readyPath', 'healthPath']);
  const s = concernObject(o.shutdown, 'shutdown', ['timeoutMs', 'exit']);
  const registry = m.registry;
  if (registry !== undefined && (typeof registry !== 'object' || registry === null || typeof (registry as { getMetricsAsArray?: unknown }).getMetricsAsArray !== 'function')) {
    throw invalid('metrics.registry', registry, 'a Registry of the Prometheus client');
  }
  return Object.freeze({
    version: optString(o.version, 'version') ?? version,
    metrics: Object.freeze({
      port: checkPort(m.port, 'metrics.port') ?? CLUSTER_DEFAULTS.metricsPort,
      host: optString(m.host, 'metrics.host'),
      path: checkPath(m.path, 'metrics.path', '/metrics'),
      registry: registry as Registry | undefined,
      defaultMetrics: checkBoolean(m.defaultMetrics, 'metrics.defaultMetrics', true),
    }),
    cluster: Object.freeze({
      collectTimeoutMs: checkInt(c.collectTimeoutMs, 'cluster.collectTimeoutMs', 1, 60_000, CLUSTER_DEFAULTS.collectTimeoutMs, 'milliseconds'),
      onWorkerTimeout: oneOf(c.onWorkerTimeout, 'cluster.onWorkerTimeout', ['omit', 'fail'] as const) ?? 'omit',
      minReadyWorkers: checkInt(c.minReadyWorkers, 'cluster.minReadyWorkers', 0, 65_535, CLUSTER_DEFAULTS.minReadyWorkers),
    }),
    health:
      h === false
        ? false
        : Object.freeze({
            livePath: checkPath(h.livePath, 'health.livePath', '/livez'),
            readyPath: checkPath(h.readyPath, 'health.readyPath', '/readyz'),
            healthPath: checkPath(h.healthPath, 'health.healthPath', '/healthz'),
          }),
    shutdown:
      s === false
        ? false
        : Object.freeze({
            timeoutMs: checkInt(s.timeoutMs, 'shutdown.timeoutMs', 0, 3_600_000, CLUSTER_DEFAULTS.shutdownTimeoutMs, 'milliseconds'),
            exit: checkBoolean(s.exit, 'shutdown.exit', true),
          }),
  });
}
