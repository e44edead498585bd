export { AimdLimit, FixedLimit, Gradient2Limit } from './limits.js';
export type { AimdOptions, Gradient2Options, LimitAlgorithm, LimitBounds, WindowSample } from './limits.js';
export { Limiter, Partition } from './limiter.js';
export type { LimiterOptions, PartitionSpec } from './limiter.js';
export { overloadConcern, algorithmOf } from './concern.js';
export type { OverloadConcern, OverloadHealthCheck, OverloadSinks } from './concern.js';
export { OVERLOAD_DEFAULTS, resolveOverload } from './options.js';
export type { OverloadOptions, OverloadPartition, OverloadReadinessOptions, ResolvedOverloadOptions } from './options.js';
