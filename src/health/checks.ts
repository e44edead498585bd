import { createError, describeValue } from '../errors.js';
import { sanitizeText } from '../core/index.js';
import type { LoggerLike } from '../core/index.js';


/** The state of one check, or of the service as a whole. */
export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

/** What a check may resolve to. */
export interface CheckResult {
  readonly status: HealthStatus;
  /** Said in the verbose bodies and in `/healthz`. Default: none. */
  readonly message?: string;
  /** Extra facts shown in `/healthz` (pool sizes, heap usage). Default: none. */
  readonly details?: Readonly<Record<string, number | string | boolean>>;
}

/**
 * A check resolves to a {@link CheckResult}, `true`/`undefined` (healthy) or `false`
 * (unhealthy); throwing or rejecting means unhealthy with the error's message.
 */
export type CheckOutcome = CheckResult | boolean | undefined | void;

/** Connection pool sizes a checker can report, exported as pool metrics. */
export interface PoolStats {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
  /** The pool's configured maximum, when known. */
  readonly max?: number;
}

/**
 * A health check. It receives an AbortSignal that fires at the check's timeout, so a
 * well-behaved check stops its own work. Built-in checkers may carry `poolStats` (read
 * at scrape time) and `close` (called when periscope shuts down).
 */
export interface HealthCheck {
  (signal: AbortSignal): CheckOutcome | Promise<CheckOutcome>;
  readonly poolStats?: () => PoolStats | undefined;
  readonly close?: () => void;
}

/** Which probes run a check. */
export type CheckKind = 'readiness' | 'liveness';

/** Options of `obs.health.register()`. */
export interface CheckOptions {
  /** An unhealthy critical check makes the service unhealthy (503); a non-critical one only degraded. Default `true`. */
  critical?: boolean;
  /** Longest a run may take before it counts as unhealthy (timed out). Default: `health.timeoutMs` (800). */
  timeoutMs?: number;
  /**
   * `'liveness'` checks run on `/livez` (and every other probe); `'readiness'` checks run on
   * `/readyz` and `/healthz` only, so a dependency outage never restarts the pod. Default `'readiness'`.
   */
  kind?: CheckKind;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The options object of a call such as `postgresCheck(pool, options)`: `{}` when undefined;
 * anything but a plain object is a wrong argument, and a key outside `known` (a typo, which
 * JavaScript would otherwise ignore) an unknown option named `<prefix><key>`.
 */
export function optionsOf(call: string, value: unknown, known: readonly string[], prefix: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    throw createError('PERISCOPE_ERR_INVALID_ARGUMENT', [call, 'options', `an object with ${known.join(', ')} (each optional)`, describeValue(value)]);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw createError('PERISCOPE_ERR_UNKNOWN_OPTION', [prefix + key, known.join(', ')], prefix + key);
  }
  return value;
}

const CHECK_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const CHECK_OPTION_KEYS: readonly string[] = ['critical', 'timeoutMs', 'kind'];

/** `obs.health.register()`'s arguments after validation; `timeoutMs` undefined means the default. */
export interface Registration {
  readonly name: string;
  readonly check: HealthCheck;
  readonly critical: boolean;
  readonly kind: CheckKind;
  readonly timeoutMs: number | undefined;
}

/**
 * Validates `obs.health.register(name, check, options)`. Wrong arguments speak of
 * `health.register()`; options are named `health.register("<name>").<option>`, and an
 * unknown one (`{ critcal: false }`) is refused rather than leaving the check critical.
 */
export function validateRegistration(name: unknown, check: unknown, options: unknown): Registration {
  const call = 'health.register()';
  if (typeof name !== 'string' || !CHECK_NAME.test(name)) {
    throw createError('PERISCOPE_ERR_INVALID_ARGUMENT', [call, 'the name', 'a string of letters, digits, "_", "." and "-", 1 to 64 characters', describeValue(name)]);
  }
  if (typeof check !== 'function') {
    throw createError('PERISCOPE_ERR_INVALID_ARGUMENT', [call, `check ${JSON.stringify(name)}`, 'a function (signal) => result', describeValue(check)]);
  }
  const prefix = `health.register(${JSON.stringify(name)}).`;
  const o = optionsOf(call, options, CHECK_OPTION_KEYS, prefix);
  const invalid = (key: string, allowed: string) => createError('PERISCOPE_ERR_INVALID_OPTION', [prefix + key, describeValue(o[key]), allowed], prefix + key);
  const { critical, timeoutMs, kind } = o;
  if (critical !== undefined && typeof critical !== 'boolean') throw invalid('critical', 'true or false');
  if (kind !== undefined && kind !== 'readiness' && kind !== 'liveness') throw invalid('kind', '"readiness" or "liveness"');
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000)) {
    throw invalid('timeoutMs', 'an integer from 1 to 600000 (milliseconds)');
  }
  return {
    name,
    check: check as HealthCheck,
    critical: critical ?? true,
    kind: (kind as CheckKind | undefined) ?? 'readiness',
    timeoutMs: timeoutMs as number | undefined,
  };
}

/** One run of one check, as the probes and `/healthz` report it. */
export interface CheckReport {
  readonly name: string;
  readonly status: HealthStatus;
  readonly critical: boolean;
  readonly kind: CheckKind;
  readonly message: string | undefined;
  readonly details: Readonly<Record<string, number | string | boolean>> | undefined;
  /** Milliseconds the run took (its timeout when it timed out). */
  readonly latencyMs: number;
  /** The run did not settle within its timeout. */
  readonly timedOut: boolean;
  /** `Date.now()` when the run finished. */
  readonly checkedAt: number;
}

/** Where check results go besides the probes (instrument.ts wires it to the metrics registry). */
export interface HealthSink {
  checkFinished(report: CheckReport): void;
}

export interface CheckRunnerOptions {
  /** Default timeout of a run. */
  timeoutMs: number;
  /** How long a result is reused by later probes. */
  cacheMs: number;
  /** Run every check in the background at this interval (0: off). */
  refreshMs: number;
  sink: HealthSink | undefined;
  /** Where a change of a check's status is logged. Default: not logged. */
  logger?: LoggerLike;
  report(error: unknown, where: string): void;
}

/** The messages of the line a check's change of status writes. */
export const CHECK_TRANSITION_MESSAGES: Readonly<Record<HealthStatus, string>> = Object.freeze({
  healthy: 'health check recovered',
  degraded: 'health check degraded',
  unhealthy: 'health check failed',
});

const STATUSES: readonly string[] = ['healthy', 'degraded', 'unhealthy'];

class Entry {
  inflight: Promise<CheckReport> | undefined = undefined;
  last: CheckReport | undefined = undefined;
  constructor(
    readonly name: string,
    readonly check: HealthCheck,
    readonly critical: boolean,
    readonly kind: CheckKind,
    readonly timeoutMs: number,
  ) {}
}

function normalize(outcome: unknown): { status: HealthStatus; message: string | undefined; details: CheckResult['details'] } {
  if (outcome === undefined || outcome === true) return { status: 'healthy', message: undefined, details: undefined };
  if (outcome === false) return { status: 'unhealthy', message: undefined, details: undefined };
  if (typeof outcome === 'object' && outcome !== null && STATUSES.includes((outcome as CheckResult).status)) {
    const r = outcome as CheckResult;
    return { status: r.status, message: typeof r.message === 'string' ? r.message : undefined, details: r.details };
  }
  return { status: 'unhealthy', message: 'check resolved to an unrecognised value', details: undefined };
}

/**
 * The one point where a check's result becomes what periscope stores, serves (`/healthz`, the
 * verbose probes) and logs (the status-change lines): its message and its text details pass
 * the sanitizer once, so a driver error's `postgres://user:pass@...`, a newline that would
 * start a forged probe line, or a megabyte of text never leave the process as they came.
 */
function safeDetails(details: CheckResult['details']): CheckResult['details'] {
  if (details === undefined || details === null || typeof details !== 'object') return undefined;
  const out: Record<string, number | string | boolean> = {};
  let n = 0;
  for (const [key, value] of Object.entries(details)) {
    // A check's details are a few facts; a runaway object is cut rather than served whole.
    if (++n > 32) break;
    const k = sanitizeText(key, 64);
    if (typeof value === 'string') out[k] = sanitizeText(value);
    else if (typeof value === 'number' || typeof value === 'boolean') out[k] = value;
    else out[k] = sanitizeText(String(value));
  }
  return Object.freeze(out);
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * Owns the registered checks: runs them with a timeout and an AbortSignal, shares one
 * in-flight run between concurrent probes, caches results, and optionally refreshes them
 * in the background.
 */
export class CheckRunner {
  readonly #entries = new Map<string, Entry>();
  readonly #options: CheckRunnerOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: CheckRunnerOptions) {
    this.#options = options;
    if (options.refreshMs > 0) {
      this.#timer = setInterval(() => this.#refresh(), options.refreshMs);
      this.#timer.unref();
    }
  }

  add(name: string, check: HealthCheck, options: Required<CheckOptions>): void {
    this.#entries.set(name, new Entry(name, check, options.critical, options.kind, options.timeoutMs));
    // With background refresh, the first result is ready before the first probe asks.
    if (this.#timer !== undefined) void this.#run(this.#entries.get(name)!);
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  names(kind?: CheckKind): string[] {
    const out: string[] = [];
    for (const e of this.#entries.values()) if (kind === undefined || e.kind === kind) out.push(e.name);
    return out;
  }

  /** Latest pool sizes of the checks that report them. */
  poolStats(): [string, PoolStats][] {
    const out: [string, PoolStats][] = [];
    for (const e of this.#entries.values()) {
      if (e.check.poolStats === undefined) continue;
      try {
        const stats = e.check.poolStats();
        if (stats !== undefined) out.push([e.name, stats]);
      } catch (error) {
        this.#options.report(error, `health-pool-stats:${e.name}`);
      }
    }
    return out;
  }

  /** The last finished report of a check, without running it. */
  last(name: string): CheckReport | undefined {
    return this.#entries.get(name)?.last;
  }

  /**
   * Reports of the named checks (all when undefined), run or taken from the cache.
   * Never rejects and never takes longer than the longest timeout among them.
   */
  collect(names: readonly string[]): Promise<CheckReport[]> {
    const runs: Promise<CheckReport>[] = [];
    for (const name of names) {
      const entry = this.#entries.get(name);
      if (entry !== undefined) runs.push(this.#get(entry));
    }
    return Promise.all(runs);
  }

  #get(entry: Entry): Promise<CheckReport> {
    const last = entry.last;
    if (last !== undefined && (this.#timer !== undefined || Date.now() - last.checkedAt < this.#options.cacheMs)) {
      return Promise.resolve(last);
    }
    return this.#run(entry);
  }

  #refresh(): void {
    for (const entry of this.#entries.values()) void this.#run(entry);
  }

  #run(entry: Entry): Promise<CheckReport> {
    if (entry.inflight !== undefined) return entry.inflight;
    const started = performance.now();
    const controller = new AbortController();
    const finish = (status: HealthStatus, message: string | undefined, details: CheckResult['details'], timedOut: boolean): CheckReport => {
      const report: CheckReport = Object.freeze({
        name: entry.name,
        status,
        critical: entry.critical,
        kind: entry.kind,
        message: message === undefined ? undefined : sanitizeText(message),
        details: safeDetails(details),
        latencyMs: timedOut ? entry.timeoutMs : Math.round((performance.now() - started) * 1000) / 1000,
        timedOut,
        checkedAt: Date.now(),
      });
      const previous = entry.last;
      entry.last = report;
      entry.inflight = undefined;
      if (status !== (previous?.status ?? 'healthy')) this.#transition(report, previous === undefined ? 'unknown' : previous.status);
      try {
        this.#options.sink?.checkFinished(report);
      } catch (error) {
        this.#options.report(error, 'health-sink');
      }
      return report;
    };
    const run = new Promise<CheckReport>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        controller.abort(new DOMException(`health check timed out after ${entry.timeoutMs} ms`, 'TimeoutError'));
        resolve(finish('unhealthy', `timed out after ${entry.timeoutMs} ms`, undefined, true));
      }, entry.timeoutMs);
      timer.unref();
      const done = (status: HealthStatus, message: string | undefined, details: CheckResult['details']) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(finish(status, message, details, false));
      };
      // The executor turns a synchronous throw into a rejection, and settles only after
      // `entry.inflight` below is set, so a sync failure cannot leave a stale in-flight run.
      new Promise<CheckOutcome>((r) => r(entry.check(controller.signal))).then(
        (outcome) => {
          const r = normalize(outcome);
          done(r.status, r.message, r.details);
        },
        (error: unknown) => done('unhealthy', errorMessage(error), undefined),
      );
    });
    entry.inflight = run;
    return run;
  }

  /**
   * One line per change of a check's status, so that an outage and its end are in the logs
   * and not only in the probes: warn when it fails or degrades, info when it recovers. A
   * first result that is healthy changes nothing; a first result that is not comes `from`
   * `'unknown'`.
   */
  #transition(report: CheckReport, from: HealthStatus | 'unknown'): void {
    const logger = this.#options.logger;
    if (logger === undefined) return;
    const fields = { check: report.name, from, to: report.status, message: report.message ?? null, latency_ms: report.latencyMs };
    try {
      if (report.status === 'healthy') logger.info(fields, CHECK_TRANSITION_MESSAGES.healthy);
      else logger.warn(fields, CHECK_TRANSITION_MESSAGES[report.status]);
    } catch (error) {
      this.#options.report(error, 'health-log');
    }
  }

  /** Stops the background refresh and releases the checkers' resources. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const e of this.#entries.values()) {
      try {
        e.check.close?.();
      } catch (error) {
        this.#options.report(error, `health-close:${e.name}`);
      }
    }
  }
}

/**
 * Folds check reports into one status: a critical check unhealthy makes the whole
 * unhealthy; a non-critical one unhealthy, or any degraded, makes it degraded.
 */
export function aggregate(reports: readonly CheckReport[]): HealthStatus {
  let status: HealthStatus = 'healthy';
  for (const r of reports) {
    if (r.status === 'unhealthy') {
      if (r.critical) return 'unhealthy';
      status = 'degraded';
    } else if (r.status === 'degraded') {
      status = 'degraded';
    }
  }
  return status;
}
