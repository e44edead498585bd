import { STATUS_CODES } from 'node:http';
import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import type { Express, Request } from 'express';
import type { Logger } from 'pino';
import { scopeOf } from '../core/index.js';
import { kRouteCache, kRouteTemplate } from '../symbols.js';
import type { AdapterContext, AdapterHandle } from './context.js';

const kRoute = Symbol('periscope.expressRoute');
const kLog = Symbol('periscope.expressLog');


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

/**
 * `req.log`, made on first use so requests that never log cost nothing: a getter on this app's
 * request prototype, like the route capture above. Assignable, for apps that set their own.
 */
function defineRequestLog(app: Express, requestLogger: (req: IncomingMessage) => Logger): void {
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    enumerable: false,
    get(this: Request & { [kLog]?: Logger }) {
      return (this[kLog] ??= requestLogger(this));
    },
    set(this: Request & { [kLog]?: Logger }, log: Logger) {
      this[kLog] = log;
    },
  });
}

function errorStatus(error: unknown): number {
  const e = error as { status?: unknown; statusCode?: unknown } | null;
  const status = typeof e === 'object' && e !== null ? (e.status ?? e.statusCode) : undefined;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
}

/**
 * Error-handling middleware kept at the end of the stack, so the user's own error handlers
 * run first and this one replaces Express's final handler: the error goes on the request scope
 * (the request line logs it once, with its stack) and the client gets the status text only.
 */
function periscopeErrorHandler(error: unknown, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
  const scope = scopeOf(res);
  if (scope !== undefined) scope.error = error;
  // Headers gone: only Express's final handler can end this response (it destroys the socket).
  if (res.headersSent) return next(error);
  const status = errorStatus(error);
  const body = JSON.stringify({ error: STATUS_CODES[status] ?? 'Error', status });
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
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
 * Express: periscope takes the place of the app's `handle` (what the app function calls for
 * every request), starts the scope, serves periscope's endpoints and runs Express in the
 * scope's context; an error-handling middleware hands errors to the scope; the route
 * template is resolved when the response closes. With logging on, `req.log` and an error
 * handler kept last that answers the client.
 */
export function attachExpress(app: Express, ctx: AdapterContext): AdapterHandle {
  captureRouteTemplates(app);
  const core = ctx.createCore(resolveRoute);
  const endpoints = ctx.endpoints;
  const logging = ctx.logging;
  if (logging !== undefined) defineRequestLog(app, logging.requestLogger);
  /** The router's stack, when periscope keeps its error handler at the end of it (logging on). */
  let errorStack: { handle?: unknown }[] | undefined;
  let server: Server | undefined;
  type Handle = (req: IncomingMessage, res: ServerResponse, callback?: (err?: unknown) => void) => void;
  const expressHandle = (app as unknown as { handle: Handle }).handle.bind(app);
  /**
   * Takes the place of `app.handle` (which the app function calls for every request), rather
   * than being a middleware: a router layer of its own cost about a microsecond a request in
   * matching and `next()`, and this runs before any middleware however the app was built.
   */
  function periscopeHandle(req: IncomingMessage, res: ServerResponse, callback?: (err?: unknown) => void): void {
    if (server === undefined) {
      server = (req.socket as { server?: Server }).server;
      if (server !== undefined) ctx.trackServer(server);
    }
    if (endpoints.size !== 0 && endpoints.serve(req, res)) return;
    // periscope's error handler goes back to the end first, so the recorder placed next lands
    // after the routes (before the first error handler).
    if (errorStack !== undefined && errorStack[errorStack.length - 1]!.handle !== periscopeErrorHandler) keepErrorHandlerLast(errorStack);
    if (!errorRecorderPlaced) placeErrorRecorder();
    // Express (its router, every middleware and handler) runs inside the request's trace context.
    // `req` becomes Express's request (its `ip` honours `trust proxy`) once Express handles it.
    core.run(core.start(req, res, undefined, req), expressHandle, req, res, callback);
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
    stack.splice(first === -1 ? stack.length : first, 0, layer);
  }
  (app as unknown as { handle: Handle }).handle = periscopeHandle;
  const stack = routerStack(app);
  // Only with logging on: without it, nothing would log the error this handler answers.
  if (Array.isArray(stack) && logging !== undefined) {
    app.use(periscopeErrorHandler);
    errorStack = stack;
  }
  return { framework: 'express' };
}

/** Routes and error handlers declared after instrument() land behind ours: move ours back to the end. */
function keepErrorHandlerLast(stack: { handle?: unknown }[]): void {
  const i = stack.findIndex((layer) => layer.handle === periscopeErrorHandler);
  if (i !== -1) stack.push(stack.splice(i, 1)[0]!);
}
