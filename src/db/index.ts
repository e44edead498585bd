export { dbConcern } from './concern.js';
export type { DbConcern, DbSinks, InstrumentPostgresOptions } from './concern.js';
export { resolveDb, DEFAULT_SLOW_QUERY_MS } from './options.js';
export type { DbOptions, ResolvedDbOptions } from './options.js';
export type { PoolStats, SpanSink } from './operation.js';
