export { AimdLimit, FixedLimit, Gradient2Limit } from './limits.js';
export type { AimdOptions, Gradient2Options, LimitAlgorithm, LimitBounds, WindowSample } from './limits.js';
export { Limiter, Partition } from './limiter.js';
export type { LimiterOptions, PartitionSpec } from './limiter.js';
