export { diagnosticsConcern } from './concern.js';
export type { DiagnosticsConcern, DiagnosticsSinks } from './concern.js';
export { DIAGNOSTICS_DEFAULTS, isLoopback, resolveDiagnostics } from './options.js';
export type { DiagnosticsOptions, ResolvedDiagnosticsOptions } from './options.js';
export { cpuProfileToPprof, heapProfileToPprof } from './pprof.js';
export type { CpuProfile, SamplingHeapProfile } from './pprof.js';
export type { Stall } from './watchdog.js';
