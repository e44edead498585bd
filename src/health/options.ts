import type { EndpointAuth } from '../core/index.js';
import type { EnvReader } from '../core/env.js';
import { authOption, checkBoolean, checkInt, checkKeys, checkPath, checkPort, concernObject, invalid, isPlainObject, optString } from '../core/validate.js';

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
  /**
   * Credentials the details require: `{ bearerToken }` or `{ username, password }` (basic auth),
   * compared in constant time, as `metrics.auth`. They guard `?verbose`, the per-check paths,
   * the failure lines of the text probes and `/healthz`'s version, state and checks. The status
   * codes of `/livez`, `/readyz` and `/healthz` stay open (Kubernetes sends no credentials): a
   * request without credentials gets the bare answer, one with wrong credentials asking for
   * details gets 401. Default: none (details open).
   */
  auth?: EndpointAuth;
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
  readonly auth: EndpointAuth | undefined;
}

export interface ResolvedShutdownOptions {
  readonly signals: readonly NodeJS.Signals[];
  readonly drainDelayMs: number;
  readonly timeoutMs: number;
  readonly exit: boolean;
  readonly gracePeriodMs: number;
}

/** `health: true`, resolved: every default of the health options, written once. */
export const HEALTH_DEFAULTS: ResolvedHealthOptions = Object.freeze({
  livePath: '/livez',
  readyPath: '/readyz',
  healthPath: '/healthz',
  port: undefined,
  host: undefined,
  timeoutMs: 800,
  cacheMs: 1000,
  refreshMs: 0,
  eventLoop: Object.freeze({ maxDelayMs: 2000 }),
  auth: undefined,
});

/** `shutdown: true` outside Kubernetes, resolved: every default of the shutdown options, written once. */
export const SHUTDOWN_DEFAULTS: ResolvedShutdownOptions = Object.freeze({
  signals: Object.freeze(['SIGTERM', 'SIGINT'] as NodeJS.Signals[]),
  drainDelayMs: 0,
  timeoutMs: 10_000,
  exit: true,
  gracePeriodMs: 30_000,
});

/** The drain delay when `KUBERNETES_SERVICE_HOST` is set: time for endpoints to stop routing here. */
export const KUBERNETES_DRAIN_DELAY_MS = 5000;

/**
 * What the graceful shutdown runs with under `shutdown: false`: the app owns its signals, so
 * none are installed and nothing exits; `obs.shutdown()` still drains, with no drain delay.
 */
export const SHUTDOWN_OFF: ResolvedShutdownOptions = Object.freeze({ ...SHUTDOWN_DEFAULTS, signals: Object.freeze([] as NodeJS.Signals[]), exit: false });

const HEALTH_KEYS = ['livePath', 'readyPath', 'healthPath', 'port', 'host', 'timeoutMs', 'cacheMs', 'refreshMs', 'eventLoop', 'auth'];
const SHUTDOWN_KEYS = ['signals', 'drainDelayMs', 'timeoutMs', 'exit', 'gracePeriodMs'];
/** Signals a process cannot catch, or that Node reserves. */
const UNCATCHABLE_SIGNALS = ['SIGKILL', 'SIGSTOP', 'SIGUSR1'];
const MS = 'milliseconds';

function resolveEventLoop(value: unknown): ResolvedHealthOptions['eventLoop'] {
  if (value === undefined) return HEALTH_DEFAULTS.eventLoop;
  if (value === false) return false;
  if (!isPlainObject(value)) throw invalid('health.eventLoop', value, 'false or { maxDelayMs }');
  checkKeys(value, ['maxDelayMs'], 'health.eventLoop.');
  const fallback = (HEALTH_DEFAULTS.eventLoop as { maxDelayMs: number }).maxDelayMs;
  return Object.freeze({ maxDelayMs: checkInt(value.maxDelayMs, 'health.eventLoop.maxDelayMs', 1, 600_000, fallback, MS) });
}

/** `health` over {@link HEALTH_DEFAULTS} (no environment variable applies); `false` stays false. */
export function resolveHealth(value: unknown, read: EnvReader): ResolvedHealthOptions | false {
  const h = concernObject(value, 'health', HEALTH_KEYS);
  if (h === false) return false;
  const d = HEALTH_DEFAULTS;
  const livePath = checkPath(h.livePath, 'health.livePath', d.livePath);
  const readyPath = checkPath(h.readyPath, 'health.readyPath', d.readyPath);
  const healthPath = checkPath(h.healthPath, 'health.healthPath', d.healthPath);
  if (new Set([livePath, readyPath, healthPath]).size !== 3) {
    throw invalid('health.healthPath', healthPath, 'three different paths for livePath, readyPath and healthPath');
  }
  return Object.freeze({
    livePath,
    readyPath,
    healthPath,
    port: checkPort(h.port, 'health.port'),
    host: optString(h.host, 'health.host'),
    timeoutMs: checkInt(h.timeoutMs, 'health.timeoutMs', 1, 600_000, d.timeoutMs, MS),
    cacheMs: checkInt(h.cacheMs, 'health.cacheMs', 0, 3_600_000, d.cacheMs, MS),
    refreshMs: checkInt(h.refreshMs, 'health.refreshMs', 0, 3_600_000, d.refreshMs, MS),
    eventLoop: resolveEventLoop(h.eventLoop),
    auth: authOption(h.auth, 'health.auth', read, 'HEALTH'),
  });
}

function checkSignals(value: unknown): readonly NodeJS.Signals[] {
  if (value === undefined) return SHUTDOWN_DEFAULTS.signals;
  const ok =
    Array.isArray(value) &&
    value.every((x) => typeof x === 'string' && /^SIG[A-Z0-9]+$/.test(x) && !UNCATCHABLE_SIGNALS.includes(x)) &&
    new Set(value).size === value.length;
  if (!ok) throw invalid('shutdown.signals', value, 'an array of distinct signal names such as "SIGTERM", without SIGKILL, SIGSTOP or SIGUSR1');
  return Object.freeze([...(value as NodeJS.Signals[])]);
}

/** `shutdown` over {@link SHUTDOWN_DEFAULTS}; `KUBERNETES_SERVICE_HOST` sets the drain delay's default. `false` stays false. */
export function resolveShutdown(value: unknown, read: EnvReader): ResolvedShutdownOptions | false {
  const s = concernObject(value, 'shutdown', SHUTDOWN_KEYS);
  if (s === false) return false;
  const d = SHUTDOWN_DEFAULTS;
  const drainDelay = read.present('KUBERNETES_SERVICE_HOST') ? KUBERNETES_DRAIN_DELAY_MS : d.drainDelayMs;
  return Object.freeze({
    signals: checkSignals(s.signals),
    drainDelayMs: checkInt(s.drainDelayMs, 'shutdown.drainDelayMs', 0, 3_600_000, drainDelay, MS),
    timeoutMs: checkInt(s.timeoutMs, 'shutdown.timeoutMs', 1, 3_600_000, d.timeoutMs, MS),
    exit: checkBoolean(s.exit, 'shutdown.exit', d.exit),
    gracePeriodMs: checkInt(s.gracePeriodMs, 'shutdown.gracePeriodMs', 1, 86_400_000, d.gracePeriodMs, MS),
  });
}
