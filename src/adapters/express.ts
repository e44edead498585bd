import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import type { Express, Request } from 'express';
import { kRouteCache, kRouteTemplate } from '../symbols.js';
import type { AdapterContext, AdapterHandle } from './context.js';

const kRoute = Symbol('periscope.expressRoute');

interface RouteLike {
  path?: unknown;
  [kRouteCache]?: { base: string; template: string };
}

type CapturingRequest = Request & {
  [kRoute]?: RouteLike;
  [kRouteTemplate]?: string;
};

/** Recognises an Express app without importing express (it is an optional peer). */
export function isExpress(app: unknown): app is Express {
  if (typeof app !== 'function') return false;
  const a = app as unknown as Record<string, unknown>;
  return typeof a.use === 'function' && typeof a.handle === 'function' && typeof a.set === 'function' && typeof a.listen === 'function';
}

function templateOf(base: string, route: RouteLike): string {
  const cached = route[kRouteCache];
  if (cached !== undefined && cached.base === base) return cached.template;
  const template = base + String(route.path);
  route[kRouteCache] = { base, template };
  return template;
}

/**
 * The router sets `req.route` when a route matches, at a moment when `req.baseUrl` still
 * holds the full mount path of nested routers. The router restores `baseUrl` when an error
 * leaves a nested router, so reading both at `finish` would lose the mount path for every
 * failed request. A setter on this app's own request prototype (`app.request`, Express's
 * documented place for extensions) captures the template at match time instead.
 */
function captureRouteTemplates(app: Express): void {
  Object.defineProperty(app.request, 'route', {
    configurable: true,
    enumerable: true,
    get(this: CapturingRequest) {
      return this[kRoute];
    },
    set(this: CapturingRequest, route: RouteLike | undefined) {
      this[kRoute] = route;
      if (route !== undefined && route !== null) this[kRouteTemplate] = templateOf(this.baseUrl ?? '', route);
    },
  });
}

function resolveRoute(req: IncomingMessage): string | undefined {
  const r = req as CapturingRequest;
  const captured = r[kRouteTemplate];
  if (captured !== undefined) return captured;
  // A request handled by a mounted sub-app has that app's prototype: fall back to finish time.
  const route = r.route as RouteLike | undefined;
  return route !== undefined && route !== null ? templateOf(r.baseUrl ?? '', route) : undefined;
}

function routerStack(app: Express): { handle?: unknown }[] | undefined {
  const stack = (app as unknown as { router?: { stack?: unknown } }).router?.stack;
  return Array.isArray(stack) ? (stack as { handle?: unknown }[]) : undefined;
}

/**
 * Express: one middleware at the front of the stack (moved there if routes were declared
 * first) starts the scope, serves periscope's endpoints and runs the rest of the stack in
 * the scope's context; an error-handling middleware hands errors to the scope; the route
 * template is resolved when the response closes.
 */
export function attachExpress(app: Express, ctx: AdapterContext): AdapterHandle {
  captureRouteTemplates(app);
  const core = ctx.createCore(resolveRoute);
  const endpoints = ctx.endpoints;
  let server: Server | undefined;
  function periscopeMiddleware(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    if (server === undefined) {
      server = (req.socket as { server?: Server }).server;
      if (server !== undefined) ctx.trackServer(server);
    }
    if (endpoints.size !== 0) {
      const handler = endpoints.match(req.url);
      if (handler !== undefined) {
        Promise.resolve(handler(req, res)).catch(next);
        return;
      }
    }
    if (!errorRecorderPlaced) placeErrorRecorder();
    // The rest of the stack runs inside the request's trace context.
    core.run(core.start(req, res), next);
  }
  /** Sees an error on its way to the user's error handlers (or Express's final handler). */
  function periscopeRecordError(error: unknown, _req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    core.recordError(res, error);
    next(error);
  }
  let errorRecorderPlaced = false;
  /**
   * The error recorder must come after the routes and before the first error-handling
   * middleware, which usually answers without passing the error on. Routes are declared
   * after instrument(), so it is placed when the first request arrives.
   */
  function placeErrorRecorder(): void {
    errorRecorderPlaced = true;
    app.use(periscopeRecordError);
    const stack = routerStack(app);
    if (stack === undefined || stack[stack.length - 1]?.handle !== periscopeRecordError) return;
    const layer = stack.pop()!;
    const first = stack.findIndex((l) => typeof l.handle === 'function' && l.handle.length === 4);
    stack.splice(first === -1 ? stack.length : Math.max(first, 1), 0, layer);
  }
  app.use(periscopeMiddleware);
  const stack = routerStack(app);
  if (Array.isArray(stack) && stack.length > 1 && stack[stack.length - 1]?.handle === periscopeMiddleware) {
    stack.unshift(stack.pop()!);
  }
  return { framework: 'express' };
}
