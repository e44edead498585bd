export { main } from './main.js';
export { LogSummary, summarize, formatSummary, MAX_ROUTES, MAX_MESSAGES, OTHER_ROUTES } from './summary.js';
export type { Summary, RouteSummary } from './summary.js';
export { QuantileSketch, RELATIVE_ACCURACY } from './sketch.js';
export { TopK } from './top-k.js';
