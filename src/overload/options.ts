import { checkBoolean, checkKeys, concernObject, invalid, isPlainObject } from '../core/validate.js';

/** A group of routes with a guaranteed share of the concurrency limit. */
export interface OverloadPartition {
  /** Its `partition` label: letters, digits, `_.-`, at most 64; not `all`. */
  name: string;
  /**
   * Route templates whose requests belong to it, matched on the request URL at start:
   * `'/api/*'`, `'/users/:id'`. The first partition that matches wins.
   */
  routes: readonly string[];
  /** Fraction of the limit it may always use, 0 < share <= 1; the shares add up to at most 1. */
  share: number;
}

/** When shedding should make the service unready (or degraded). */
export interface OverloadReadinessOptions {
  /**
   * Fraction of requests shed, since the check last ran, at or above which the `overload`
   * check is unhealthy. Default `0.1`.
   */
  shedRatio?: number;
  /**
   * `true` (default): the check is critical, so `/readyz` answers 503 and load balancers move
   * traffic to other instances. `false`: only `/healthz` shows the service degraded.
   */
  critical?: boolean;
}

/** Options of the adaptive concurrency limit (`overload`). Every field is optional. */
export interface OverloadOptions {
  /**
   * `'gradient'` (Gradient2: the limit follows the ratio of long-term to short-term latency),
   * `'aimd'` (grows by one, backs off 10% when latency doubles) or a fixed number. Default
   * `'gradient'`.
   */
  limit?: 'gradient' | 'aimd' | number;
  /** Lowest adaptive limit. Default `10`. */
  minLimit?: number;
  /** Highest adaptive limit. Default `1000`. The limit starts at 100 (within these bounds). */
  maxLimit?: number;
  /** Gradient2's weight of each new estimate, 0 < smoothing <= 1. Default `0.2`. */
  smoothing?: number;
  /**
   * Route groups with guaranteed shares of the limit. A request is shed only when the whole
   * limit is in use and its partition uses its share; requests of no partition have no
   * guaranteed share. Default: none.
   */
  partitions?: readonly OverloadPartition[];
  /**
   * Registers an `overload` health check that fails while shedding is above a ratio. `true`
   * for the defaults. Default `false`: see the README on why it is a choice.
   */
  readiness?: boolean | OverloadReadinessOptions;
}

export interface ResolvedOverloadOptions {
  readonly limit: 'gradient' | 'aimd' | number;
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly initialLimit: number;
  readonly smoothing: number;
  readonly partitions: readonly Readonly<OverloadPartition>[];
  readonly readiness: Readonly<Required<OverloadReadinessOptions>> | false;
}

export const OVERLOAD_DEFAULTS = Object.freeze({ limit: 'gradient' as const, minLimit: 10, maxLimit: 1000, initialLimit: 100, smoothing: 0.2, shedRatio: 0.1 });

const KEYS = ['limit', 'minLimit', 'maxLimit', 'smoothing', 'partitions', 'readiness'];
const MAX_LIMIT = 1_000_000;
const PARTITION_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const ROUTE = /^\/[\x21-\x7e]*$/;

function limitOf(value: unknown): 'gradient' | 'aimd' | number {
  if (value === undefined) return OVERLOAD_DEFAULTS.limit;
  if (value === 'gradient' || value === 'aimd') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_LIMIT) return value;
  throw invalid('overload.limit', value, `'gradient', 'aimd' or an integer from 1 to ${MAX_LIMIT}`);
}

function bound(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw invalid(option, value, `an integer from 1 to ${MAX_LIMIT}`);
  }
  return value;
}

function fraction(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) throw invalid(option, value, 'a number greater than 0 and at most 1');
  return value;
}

function partitionsOf(value: unknown): readonly Readonly<OverloadPartition>[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) throw invalid('overload.partitions', value, 'an array of { name, routes, share }');
  const names = new Set<string>();
  let total = 0;
  const out = value.map((p: unknown, i) => {
    const at = `overload.partitions[${i}]`;
    if (!isPlainObject(p)) throw invalid(at, p, 'an object { name, routes, share }');
    checkKeys(p, ['name', 'routes', 'share'], `${at}.`);
    if (typeof p.name !== 'string' || !PARTITION_NAME.test(p.name) || p.name === 'all' || names.has(p.name)) {
      throw invalid(`${at}.name`, p.name, "a unique name of 1 to 64 letters, digits, '_', '.' or '-', other than 'all'");
    }
    names.add(p.name);
    const routes = p.routes;
    if (!Array.isArray(routes) || routes.length === 0 || !routes.every((r) => typeof r === 'string' && ROUTE.test(r) && !/[?#]/.test(r))) {
      throw invalid(`${at}.routes`, routes, 'a non-empty array of route templates starting with "/" ("/api/*", "/users/:id")');
    }
    const share = fraction(p.share, `${at}.share`, Number.NaN);
    if (Number.isNaN(share)) throw invalid(`${at}.share`, p.share, 'a number greater than 0 and at most 1');
    total += share;
    return Object.freeze({ name: p.name, routes: Object.freeze([...(routes as string[])]), share });
  });
  // A little slack for sums such as 0.7 + 0.2 + 0.1 in binary floating point.
  if (total > 1 + 1e-9) throw invalid('overload.partitions', `shares adding up to ${total}`, 'shares adding up to at most 1');
  return Object.freeze(out);
}

function readinessOf(value: unknown): Readonly<Required<OverloadReadinessOptions>> | false {
  const o = concernObject(value ?? false, 'overload.readiness', ['shedRatio', 'critical']);
  if (o === false) return false;
  return Object.freeze({
    shedRatio: fraction(o.shedRatio, 'overload.readiness.shedRatio', OVERLOAD_DEFAULTS.shedRatio),
    critical: checkBoolean(o.critical, 'overload.readiness.critical', true),
  });
}

/** `overload`: off unless asked for (`true` or an object). */
export function resolveOverload(value: unknown): ResolvedOverloadOptions | false {
  if (value === undefined || value === false) return false;
  const o = concernObject(value, 'overload', KEYS);
  if (o === false) return false;
  const minLimit = bound(o.minLimit, 'overload.minLimit', OVERLOAD_DEFAULTS.minLimit);
  const maxLimit = bound(o.maxLimit, 'overload.maxLimit', Math.max(OVERLOAD_DEFAULTS.maxLimit, minLimit));
  if (maxLimit < minLimit) throw invalid('overload.maxLimit', maxLimit, `an integer at least overload.minLimit (${minLimit})`);
  return Object.freeze({
    limit: limitOf(o.limit),
    minLimit,
    maxLimit,
    initialLimit: Math.min(maxLimit, Math.max(minLimit, OVERLOAD_DEFAULTS.initialLimit)),
    smoothing: fraction(o.smoothing, 'overload.smoothing', OVERLOAD_DEFAULTS.smoothing),
    partitions: partitionsOf(o.partitions),
    readiness: readinessOf(o.readiness),
  });
}
