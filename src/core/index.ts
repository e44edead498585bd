export { Core, scopeOf, STATUS_CLIENT_CLOSED, UNMATCHED_ROUTE } from './scope.js';
export type { CoreOptions, RequestHook, RequestScope } from './scope.js';
export { METHOD_NAMES, METHOD_OTHER, methodIndex } from './methods.js';
export { compileRoutes } from './routes.js';
export type { RouteMatcher } from './routes.js';
export { Endpoints } from './endpoints.js';
export type { EndpointHandler } from './endpoints.js';
export { protect } from './auth.js';
export type { EndpointAuth } from './auth.js';
