/** `periscope/health`: the ready-made checkers and the types of checks, probes and shutdown. */
export { eventLoopCheck, heapCheck, httpCheck, postgresCheck, redisCheck } from '../health/index.js';
export type {
  CheckKind,
  CheckOptions,
  CheckOutcome,
  CheckReport,
  CheckResult,
  EventLoopCheckOptions,
  Health,
  HealthCheck,
  HealthSnapshot,
  HealthStatus,
  HealthzBody,
  HeapCheckOptions,
  HttpCheckOptions,
  LifecycleState,
  PgQueryable,
  PoolStats,
  PostgresCheckOptions,
  RedisPingable,
  ShutdownReport,
} from '../health/index.js';
export type { HealthOptions, ShutdownOptions, ResolvedHealthOptions, ResolvedShutdownOptions } from '../health/options.js';
