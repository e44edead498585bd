/** Private state lives under these module-local symbols, never under string keys. */
export const kScope = Symbol('periscope.scope');
export const kRouteTemplate = Symbol('periscope.routeTemplate');
export const kRouteCache = Symbol('periscope.routeCache');
export const kInstrumented = Symbol('periscope.instrumented');
/** Marks a registry metric that periscope can write straight into the exposition. */
export const kWriteExposition = Symbol('periscope.writeExposition');
/** Marks a registry histogram whose series periscope reads straight from its counters (OTLP, protobuf). */
export const kHistogramSeries = Symbol('periscope.histogramSeries');
