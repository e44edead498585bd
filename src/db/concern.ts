import type { Concern, ConcernContext } from '../core/index.js';
import { createError, describeValue } from '../errors.js';
import { DbMetrics } from './metrics.js';
import { DbRecorder } from './operation.js';
import type { PoolStats, SpanSink } from './operation.js';
import type { ResolvedDbOptions } from './options.js';
import { instrumentPg } from './postgres.js';
import { RedisChannels } from './redis.js';

/** What the db concern needs of the others, handed in by `instrument()`. */
export interface DbSinks {
  /** Tracing's span factory; undefined with `tracing: false`. */
  readonly spans: SpanSink | undefined;
  /** Adds a pool to the pool gauges (`db_client_connections`, ...); undefined when they are not served. */
  readonly watchPool: ((name: string, stats: () => PoolStats | undefined) => void) | undefined;
}

/** Options of `obs.instrumentPostgres()`. */
export interface InstrumentPostgresOptions {
  /** The pool's name: the `pool_name` label of the pool metrics and the slow-query line. Letters, digits, `_.-`. */
  name: string;
}

export interface DbConcern extends Concern {
  instrumentPostgres<T extends object>(poolOrClient: T, options: InstrumentPostgresOptions): T;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function checkArguments(target: unknown, options: unknown): string {
  const q = (target as { query?: unknown } | null)?.query;
  if (typeof target !== 'object' || target === null || typeof q !== 'function') {
    throw createError('PERISCOPE_ERR_INVALID_ARGUMENT', ['obs.instrumentPostgres()', 'the first argument', 'a pg Pool or Client (an object with query())', describeValue(target)]);
  }
  const name = (options as { name?: unknown } | null | undefined)?.name;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw createError('PERISCOPE_ERR_INVALID_ARGUMENT', ['obs.instrumentPostgres()', 'options.name', 'a string of 1 to 64 letters, digits, "_", "." or "-"', describeValue(name)]);
  }
  return name;
}

/**
 * The db concern: Redis calls from the drivers' tracing channels, PostgreSQL through
 * `instrumentPostgres`, as CLIENT spans, `db_client_*` metrics and slow-operation lines.
 * With `db: false`, `instrumentPostgres` checks its arguments and returns the pool untouched.
 */
export function dbConcern(ctx: ConcernContext, options: ResolvedDbOptions | false, sinks: DbSinks): DbConcern {
  if (options === false) {
    return {
      name: 'db',
      instrumentPostgres(target, o) {
        checkArguments(target, o);
        return target;
      },
    };
  }
  const metrics = ctx.registry === undefined ? undefined : new DbMetrics(ctx.registry);
  const recorder = new DbRecorder({ spans: sinks.spans, metrics, slowQueryMs: options.slowQueryMs, logger: ctx.logger, report: ctx.report });
  const redis = options.redis ? new RedisChannels(recorder, ctx.report) : undefined;
  redis?.subscribe();
  const watched = new Set<string>();
  return {
    name: 'db',
    instrumentPostgres(target, o) {
      const name = checkArguments(target, o);
      const pool = instrumentPg(target, name, recorder, metrics);
      if (pool !== undefined && !watched.has(name)) {
        watched.add(name);
        sinks.watchPool?.(name, pool.stats);
      }
      return target;
    },
    shutdown: [{ phase: 'close', name: 'db', run: () => redis?.unsubscribe() }],
  };
}
