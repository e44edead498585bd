/**
 * `periscope/metrics`: what a user of the metrics concern needs besides `instrument()`:
 * the metric classes periscope itself uses (so a metric made with them registers in
 * `obs.registry`), the overflow label and the option types.
 */
export { Counter, Gauge, Histogram, Summary, Registry } from '@prometheus-io/client';
export { OVERFLOW_LABEL } from '../metrics/index.js';
export type { MetricsOptions, NativeHistogramOptions, ResolvedMetricsOptions } from '../metrics/options.js';
export type { MetricsOtlpOptions, MetricsOtlpProtocol, ResolvedMetricsOtlpOptions } from '../metrics/otlp-options.js';
