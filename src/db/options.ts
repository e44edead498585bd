import { checkBoolean, concernObject, invalid } from '../core/validate.js';

/** Options of the `db` concern: spans, metrics and slow-operation lines for database and cache calls. */
export interface DbOptions {
  /**
   * Redis calls of `redis` (node-redis 5.12+) and `ioredis` 6+, read from their tracing
   * channels: no preload and no call needed. `false` leaves Redis alone. Default `true`.
   */
  redis?: boolean;
  /**
   * An operation slower than this many ms logs one `warn` line (sanitized statement, duration,
   * trace ID, pool state) and counts in `db_client_slow_operations_total`; `false` turns it off.
   * Default `1000`, the seed's threshold: well above a healthy indexed query (single-digit ms)
   * and a Redis call (sub-ms), so a line means a missing index, a lock or a saturated server.
   */
  slowQueryMs?: number | false;
}

export interface ResolvedDbOptions {
  readonly redis: boolean;
  readonly slowQueryMs: number | false;
}

/** The default slow-operation threshold, in ms. */
export const DEFAULT_SLOW_QUERY_MS = 1000;

/** `db` over its defaults (no environment variable applies); `false` stays false. */
export function resolveDb(value: unknown): ResolvedDbOptions | false {
  const o = concernObject(value, 'db', ['redis', 'slowQueryMs']);
  if (o === false) return false;
  const slow = o.slowQueryMs;
  if (slow !== undefined && slow !== false && (typeof slow !== 'number' || !Number.isInteger(slow) || slow < 1 || slow > 3_600_000)) {
    throw invalid('db.slowQueryMs', slow, 'false or an integer from 1 to 3600000 (milliseconds)');
  }
  return Object.freeze({
    redis: checkBoolean(o.redis, 'db.redis', true),
    slowQueryMs: slow === undefined ? DEFAULT_SLOW_QUERY_MS : (slow as number | false),
  });
}
