import { getHeapStatistics } from 'node:v8';
import { createError, describeValue } from '../errors.js';
import { maskCredentials } from '../core/index.js';
import { optionsOf } from './checks.js';
import type { CheckResult, HealthCheck, PoolStats } from './checks.js';

function wrongArgument(call: string, what: string, allowed: string, value: unknown): Error {
  return createError('PERISCOPE_ERR_INVALID_ARGUMENT', [call, what, allowed, describeValue(value)]);
}

function invalidOption(option: string, value: unknown, allowed: string): Error {
  return createError('PERISCOPE_ERR_INVALID_OPTION', [option, describeValue(value), allowed], option);
}

/*
 * Built-in checkers. Each takes the user's own client object and touches it only through
 * the few members described by the structural types below, so periscope depends on no
 * driver and works with whichever version the application installed.
 */

/** The part of a `pg` Client or Pool a check uses. */
export interface PgQueryable {
  query(text: string): Promise<unknown>;
}

interface PgPoolLike extends PgQueryable {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  readonly options?: { readonly max?: number };
}

function isPgPool(client: PgQueryable): client is PgPoolLike {
  const p = client as Partial<PgPoolLike>;
  return typeof p.totalCount === 'number' && typeof p.idleCount === 'number' && typeof p.waitingCount === 'number';
}

/** Options of {@link postgresCheck}. */
export interface PostgresCheckOptions {
  /** The statement to run. Default `'SELECT 1'`. */
  query?: string;
}

/**
 * A PostgreSQL check for a `pg` Pool or Client: runs `SELECT 1`. For a Pool it also reports
 * the pool's total, idle and waiting clients (as `db_client_connections` and
 * `db_client_connection_pending_requests` metrics and in `/healthz`), and is degraded while
 * requests wait for a connection, so pool exhaustion shows before it becomes an outage.
 */
export function postgresCheck(client: PgQueryable, options?: PostgresCheckOptions): HealthCheck {
  if (typeof (client as Partial<PgQueryable> | null)?.query !== 'function') {
    throw wrongArgument('postgresCheck()', 'the client', 'a pg Pool or Client (an object with query())', client);
  }
  const o = optionsOf('postgresCheck()', options, ['query'], 'postgresCheck().');
  if (o.query !== undefined && (typeof o.query !== 'string' || o.query.trim() === '')) {
    throw invalidOption('postgresCheck().query', o.query, 'a non-empty SQL statement');
  }
  const query = (o.query as string | undefined) ?? 'SELECT 1';
  const pool = isPgPool(client) ? client : undefined;
  const stats = (): PoolStats | undefined =>
    pool === undefined ? undefined : { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options?.max };
  const check = async (): Promise<CheckResult> => {
    await client.query(query);
    const s = stats();
    if (s === undefined) return { status: 'healthy' };
    const details = { total: s.total, idle: s.idle, waiting: s.waiting, ...(s.max === undefined ? {} : { max: s.max }) };
    if (s.waiting > 0) {
      return { status: 'degraded', message: `${s.waiting} request${s.waiting === 1 ? '' : 's'} waiting for a pool connection`, details };
    }
    return { status: 'healthy', details };
  };
  return Object.assign(check, { poolStats: stats });
}

/** The part of an `ioredis` client or a node-redis (`redis` v4+) client a check uses. */
export interface RedisPingable {
  ping(): Promise<unknown>;
  /** ioredis: `'ready'` when connected. */
  readonly status?: unknown;
  /** node-redis: true when connected. */
  readonly isReady?: unknown;
}

/**
 * A Redis check for an `ioredis` or `redis` (node-redis v4 and later) client: PING, expecting
 * PONG. A client that knows it is disconnected fails at once instead of queueing the PING
 * until it reconnects.
 */
export function redisCheck(client: RedisPingable): HealthCheck {
  if (typeof (client as Partial<RedisPingable> | null)?.ping !== 'function') {
    throw wrongArgument('redisCheck()', 'the client', 'an ioredis or node-redis client (an object with ping())', client);
  }
  return async (): Promise<CheckResult> => {
    if (typeof client.status === 'string' && client.status !== 'ready') {
      return { status: 'unhealthy', message: `connection ${client.status}` };
    }
    if (client.isReady === false) return { status: 'unhealthy', message: 'client not connected' };
    const reply = await client.ping();
    if (reply !== 'PONG') return { status: 'unhealthy', message: `unexpected PING reply ${JSON.stringify(reply)}` };
    return { status: 'healthy' };
  };
}

/** Options of {@link httpCheck}. */
export interface HttpCheckOptions {
  /** Request headers. Default: none. */
  headers?: Record<string, string>;
}

/**
 * An HTTP dependency check: GET `url`; a 2xx answer is healthy, any other status degraded,
 * and a network error or timeout unhealthy. Credentials in the URL (`http://user:pw@host/`)
 * are sent as a Basic `Authorization` header (unless `headers` sets one) and taken out of the
 * URL, which fetch would refuse and which must never be echoed with them.
 */
export function httpCheck(url: string | URL, options?: HttpCheckOptions): HealthCheck {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' || url instanceof URL ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    // The argument may hold a password even when it is no valid URL.
    throw wrongArgument('httpCheck()', 'the url', 'an absolute http:// or https:// URL', typeof url === 'string' ? maskCredentials(url) : url);
  }
  const o = optionsOf('httpCheck()', options, ['headers'], 'httpCheck().');
  const headers = o.headers;
  if (headers !== undefined && (typeof headers !== 'object' || headers === null || Array.isArray(headers) || !Object.values(headers).every((v) => typeof v === 'string'))) {
    throw invalidOption('httpCheck().headers', headers, 'an object of header names to string values');
  }
  const sent: Record<string, string> = { ...(headers as Record<string, string> | undefined) };
  if (parsed.username !== '' || parsed.password !== '') {
    const given = Object.keys(sent).some((k) => k.toLowerCase() === 'authorization');
    if (!given) {
      // The URL holds them percent-encoded; Basic auth carries them as typed (RFC 7617).
      const user = safeDecode(parsed.username);
      const password = safeDecode(parsed.password);
      sent.authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
    }
    parsed.username = '';
    parsed.password = '';
  }
  const target = parsed.href;
  const init = { method: 'GET', headers: sent };
  return async (signal): Promise<CheckResult> => {
    let res: Response;
    try {
      res = await fetch(target, { ...init, signal });
    } catch (error) {
      // fetch says only "fetch failed"; the reason (ECONNREFUSED, DNS) is in its cause.
      const cause = (error as { cause?: unknown }).cause;
      throw cause instanceof Error ? cause : error;
    }
    // Drop the body so the connection returns to the pool.
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return { status: 'healthy' };
    return { status: 'degraded', message: `HTTP ${res.status}`, details: { status_code: res.status } };
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Options of {@link eventLoopCheck}. */
export interface EventLoopCheckOptions {
  /** Unhealthy when the event loop was blocked longer than this since the last run. Default `2000`. */
  maxDelayMs?: number;
}

/**
 * A liveness check: unhealthy when the event loop was blocked for longer than
 * `maxDelayMs` at any moment since the previous run. An unref'd interval (a tenth of the
 * limit, 10 to 500 ms) notes how late it fires; `perf_hooks.monitorEventLoopDelay` was
 * measured missing a 150 ms block in about half the runs here, so it is not used.
 */
export function eventLoopCheck(options?: EventLoopCheckOptions): HealthCheck {
  const o = optionsOf('eventLoopCheck()', options, ['maxDelayMs'], 'eventLoopCheck().');
  const max = o.maxDelayMs;
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 600_000)) {
    throw invalidOption('eventLoopCheck().maxDelayMs', max, 'an integer from 1 to 600000 (milliseconds)');
  }
  const maxDelayMs = (max as number | undefined) ?? 2000;
  const interval = Math.min(500, Math.max(10, Math.round(maxDelayMs / 10)));
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const lag = now - last - interval;
    if (lag > worst) worst = lag;
    last = now;
  }, interval);
  timer.unref();
  const check = (): CheckResult => {
    // After a block that just ended the tick may not have fired yet: count its lateness
    // now, and move its start so that the tick does not count the same block again.
    const now = performance.now();
    const pending = now - last - interval;
    if (pending > 0) last = now - interval;
    const maxMs = Math.round(Math.max(worst, pending, 0) * 100) / 100;
    worst = 0;
    const details = { max_delay_ms: maxMs };
    if (maxMs > maxDelayMs) return { status: 'unhealthy', message: `event loop blocked for ${maxMs} ms (limit ${maxDelayMs} ms)`, details };
    return { status: 'healthy', details };
  };
  return Object.assign(check, { close: () => clearInterval(timer) });
}

/** Options of {@link heapCheck}. */
export interface HeapCheckOptions {
  /** Degraded when the used heap exceeds this fraction of the heap limit. Default `0.9`. */
  maxUsedRatio?: number;
}

/** Degraded when the V8 heap is nearly full (used above `maxUsedRatio` of the limit). */
export function heapCheck(options?: HeapCheckOptions): HealthCheck {
  const o = optionsOf('heapCheck()', options, ['maxUsedRatio'], 'heapCheck().');
  const ratio = o.maxUsedRatio;
  if (ratio !== undefined && (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1))) {
    throw invalidOption('heapCheck().maxUsedRatio', ratio, 'a number from 0 to 1 (0.9 is 90%)');
  }
  const maxUsedRatio = (ratio as number | undefined) ?? 0.9;
  return (): CheckResult => {
    const h = getHeapStatistics();
    const ratio = Math.round((h.used_heap_size / h.heap_size_limit) * 1000) / 1000;
    const details = { used_bytes: h.used_heap_size, limit_bytes: h.heap_size_limit, used_ratio: ratio };
    if (ratio > maxUsedRatio) return { status: 'degraded', message: `heap ${Math.round(ratio * 100)}% full`, details };
    return { status: 'healthy', details };
  };
}
