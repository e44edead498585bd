import { IncomingMessage, STATUS_CODES } from 'node:http';
import type { ServerResponse, Server } from 'node:http';
import type { Express, Request } from 'express';
import type { Logger } from 'pino';
import { scopeOf } from '../core/index.js';
import { kRouteCache, kRouteTemplate } from '../symbols.js';
import type { AdapterContext, AdapterHandle } from './context.js';

const kRoute = Symbol('periscope.expressRoute');
const kLog = Symbol('periscope.expressLog');
/** Per request: the request-logger factory of the periscope instance serving it (logging on). */
const kRequestLogger = Symbol('periscope.expressRequestLogger');
/** Per request: the value of `req.next`, behind the accessor below. */
const kNext = Symbol('periscope.expressNext');
/** Per request, and on each router's `next`: the mount template of the router running. */
const kMount = Symbol('periscope.expressMount');
/** On each router's `next`, with a router before 2.3 only: the `req.baseUrl` it runs under. */
const kMountText = Symbol('periscope.expressMountText');
const kAccessors = Symbol('periscope.expressAccessors');

interface RouteLike {
  path?: unknown;
  [kRouteCache]?: { base: string; template: string };
}

type MarkedNext = ((err?: unknown) => void) & { [kMount]?: string; [kMountText]?: string };

type CapturingRequest = Request & {
  [kRoute]?: RouteLike;
  [kRouteTemplate]?: string;
  [kNext]?: unknown;
  [kMount]?: string;
  [kLog]?: Logger;
  [kRequestLogger]?: (req: IncomingMessage) => Logger;
  [key: symbol]: unknown;
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
 * The router (2.3 and later) keeps the pattern its last matched layer was registered with
 * under a module-private symbol (the value its `express.router.request` diagnostics channel
 * publishes as `route`): the mount pattern itself, or the one element of an array of paths
 * that matched. Found once by its description; undefined with an older router.
 */
let matchedPatternKey: symbol | undefined;
function matchedPattern(req: CapturingRequest): unknown {
  if (matchedPatternKey === undefined || !(matchedPatternKey in req)) {
    matchedPatternKey = Object.getOwnPropertySymbols(req).find((s) => s.description === 'router.tracing.matchedRoute');
    if (matchedPatternKey === undefined) return undefined;
  }
  return req[matchedPatternKey];
}

/** A mount pattern as it reads in a label: strings without their trailing slash ('/' adds nothing), RegExps as written. */
function mountLabel(pattern: unknown): string {
  if (typeof pattern !== 'string') return String(pattern);
  let end = pattern.length;
  while (end > 0 && pattern.charCodeAt(end - 1) === 47 /* / */) end--;
  return end === pattern.length ? pattern : pattern.slice(0, end);
}

/**
 * Mount templates by (pattern, enclosing template). Both come from the app's code, never from a
 * request, so the table is as small as the app's mount tree (capped all the same); a hit gives
 * back the same string every time, so a request through mounts allocates no template.
 */
const mountTemplates = new Map<unknown, Map<string, string>>();
const MAX_MOUNT_TEMPLATES = 1000;
let mountTemplateCount = 0;
function mountTemplate(parent: string, pattern: unknown): string {
  let byParent = mountTemplates.get(pattern);
  const hit = byParent?.get(parent);
  if (hit !== undefined) return hit;
  const template = parent + mountLabel(pattern);
  if (mountTemplateCount < MAX_MOUNT_TEMPLATES) {
    if (byParent === undefined) mountTemplates.set(pattern, (byParent = new Map()));
    byParent.set(parent, template);
    mountTemplateCount++;
  }
  return template;
}

/**
 * Without the router's matched pattern (router before 2.3): the part of `req.baseUrl` this mount
 * matched, with each path segment that equals one of its parameter values replaced by `:name`.
 * Best effort (a RegExp mount's groups become `:0`, `:1`); allocates.
 */
function maskedMount(req: CapturingRequest, parentText: string): string {
  const text = typeof req.baseUrl === 'string' ? req.baseUrl.slice(parentText.length) : '';
  const params = req.params as Record<string, unknown> | undefined;
  const keys = params === undefined || params === null ? [] : Object.keys(params);
  if (keys.length === 0) return text;
  return text
    .split('/')
    .map((segment) => {
      if (segment === '') return segment;
      const decoded = safeDecode(segment);
      for (const key of keys) if (params![key] === decoded) return ':' + key;
      return segment;
    })
    .join('/');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The router sets `req.next` to its own `next` when it starts on a request, and restores the
 * enclosing router's when it leaves. So a set whose value is a new function is a router entered
 * through a mount of the enclosing one, whose pattern the enclosing router has just recorded:
 * its mount template is the enclosing one's plus that pattern. Each router's `next` carries its
 * template, so a restore puts the enclosing template back. This is how labels get the mount
 * PATTERNS at every depth (`/orgs/:org/users/:id`), where `req.baseUrl` holds the matched text.
 */
function setNext(this: CapturingRequest, value: unknown): void {
  const previous = this[kNext] as MarkedNext | undefined;
  this[kNext] = value;
  if (typeof value !== 'function') return;
  const known = (value as MarkedNext)[kMount];
  if (known !== undefined) {
    this[kMount] = known;
    return;
  }
  // The outermost router: no mount above it.
  if (typeof previous !== 'function') return;
  // On the request path, where nothing may throw: at worst the label lacks this mount's segment.
  try {
    let parent = previous[kMount];
    if (parent === undefined) parent = previous[kMount] = '';
    const pattern = matchedPattern(this);
    let template: string;
    if (pattern !== undefined) template = mountTemplate(parent, pattern);
    else {
      template = parent + maskedMount(this, previous[kMountText] ?? '');
      (value as MarkedNext)[kMountText] = this.baseUrl;
    }
    (value as MarkedNext)[kMount] = template;
    this[kMount] = template;
  } catch {
    // Left as it was.
  }
}

/**
 * The accessors periscope needs on Express requests, defined once on Express's own request
 * prototype (the end of every app's `app.request` chain). There, they reach every request an
 * Express app handles, including those of sub-apps, which switch the request's prototype to
 * their own (`router.use('/x', subApp)` leaves the enclosing app's chain for good). They keep
 * nothing per app: what differs per instance travels on the request (`kRequestLogger`).
 * - `route`: the router sets it when a route matches, at a moment when the mount template is
 *   known (the router restores `baseUrl` when an error leaves a nested router, so reading at
 *   `finish` would lose it); the template is captured then.
 * - `next`: see setNext.
 * - `log`: made on first use, so requests that never log cost nothing; assignable.
 */
function defineRequestAccessors(app: Express): void {
  let proto = app.request as object;
  for (let up = Object.getPrototypeOf(proto) as object | null; up !== null && up !== IncomingMessage.prototype; up = Object.getPrototypeOf(up) as object | null) proto = up;
  const target = proto as Record<symbol, unknown>;
  if (target[kAccessors] === true) return;
  Object.defineProperty(target, kAccessors, { value: true });
  Object.defineProperty(proto, 'route', {
    configurable: true,
    enumerable: true,
    get(this: CapturingRequest) {
      return this[kRoute];
    },
    set(this: CapturingRequest, route: RouteLike | undefined) {
      this[kRoute] = route;
      if (route !== undefined && route !== null) this[kRouteTemplate] = templateOf(this[kMount] ?? '', route);
    },
  });
  Object.defineProperty(proto, 'next', {
    configurable: true,
    enumerable: true,
    get(this: CapturingRequest) {
      return this[kNext];
    },
    set: setNext,
  });
  Object.defineProperty(proto, 'log', {
    configurable: true,
    enumerable: false,
    get(this: CapturingRequest) {
      const log = this[kLog];
      if (log !== undefined) return log;
      const make = this[kRequestLogger];
      return make === undefined ? undefined : (this[kLog] = make(this));
    },
    set(this: CapturingRequest, log: Logger) {
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
  // The client is gone (it aborted the request body, say): there is no one to answer, and an
  // answer would turn the 499 the response's close records into this error's status.
  const socket = res.socket;
  if (socket === null || socket.destroyed) return;
  const status = errorStatus(error);
  const body = JSON.stringify({ error: STATUS_CODES[status] ?? 'Error', status });
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

function resolveRoute(req: IncomingMessage): string | undefined {
  return (req as CapturingRequest)[kRouteTemplate];
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
  defineRequestAccessors(app);
  const core = ctx.createCore(resolveRoute);
  const endpoints = ctx.endpoints;
  const logging = ctx.logging;
  const requestLogger = logging?.requestLogger;
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
    if (requestLogger !== undefined) (req as CapturingRequest)[kRequestLogger] = requestLogger;
    // Express (its router, every middleware and handler) runs inside the request's trace context.
    // `req` becomes Express's request (its `ip` honours `trust proxy`) once Express handles it.
    const scope = core.start(req, res, undefined, req);
    // Turned away at start (overload): the core has answered; Express never sees it.
    if (scope?.rejection !== undefined) return;
    core.run(scope, expressHandle, req, res, callback);
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
