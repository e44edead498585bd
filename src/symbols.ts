/** Private state lives under these module-local symbols, never under string keys. */
export const kScope = Symbol('periscope.scope');
export const kRouteTemplate = Symbol('periscope.routeTemplate');
export const kRouteCache = Symbol('periscope.routeCache');
export const kInstrumented = Symbol('periscope.instrumented');
/** Marks a registry metric that periscope can write straight into the exposition. */
export const kWriteExposition = Symbol('periscope.writeExposition');
/** Marks a registry histogram whose OTLP points periscope reads straight from its counters. */
export const kOtlpHistogram = Symbol('periscope.otlpHistogram');
