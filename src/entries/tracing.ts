/** `periscope/tracing`: the tracer's name (to find periscope's spans) and the tracing option types. */
export { TRACER_NAME } from '../tracing/index.js';
export type { OtlpProtocol, TracingExporter, TracingOptions, ResolvedTracingOptions } from '../tracing/options.js';
