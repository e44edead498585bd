import { STATUS_CODES } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { scopeOf } from '../core/index.js';
import { createError } from '../errors.js';
import type { AdapterContext, AdapterHandle } from './context.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false` leaves this route out of periscope's metrics. */
    periscope?: boolean;
  }
}

/** Recognises a Fastify instance without importing fastify (it is an optional peer). */
export function isFastify(app: unknown): app is FastifyInstance {
  const a = app as Partial<FastifyInstance> | null;
  return typeof a === 'object' && a !== null && typeof a.addHook === 'function' && typeof a.register === 'function' && typeof a.decorate === 'function' && typeof a.route === 'function';
}

/**
 * Fastify: one `onRequest` hook starts the scope with the route template Fastify already
 * matched (its route config's `url`, undefined for its 404 handler; see `routeOf`) and runs the rest of the
 * request in the scope's context; `onError` hands thrown errors to the scope. periscope's
 * endpoints are served from the same hook, before the app's handler, not as routes.
 */
export function attachFastify(app: FastifyInstance, ctx: AdapterContext): AdapterHandle {
  if (app.server.listening) {
    throw createError('PERISCOPE_ERR_TOO_LATE', ['Fastify', 'the server is already listening']);
  }
  const core = ctx.createCore();
  // Set when logging is on: makes request.log once the request has started.
  let requestLog: ((raw: FastifyRequest['raw'], level: string | undefined) => FastifyBaseLogger) | undefined;
  const requestIds = ctx.logging?.requestIds === true;
  try {
    const logging = ctx.logging;
    if (logging !== undefined) {
      // periscope's request line replaces Fastify's in every configuration; request.log is
      // set from the request hook, once the request ID (maybe the trace ID) is known.
      const fastifyLogging = logging.fastify(app.log);
      if (fastifyLogging.childLoggerFactory !== undefined) {
        app.setChildLoggerFactory(fastifyLogging.childLoggerFactory as unknown as Parameters<FastifyInstance['setChildLoggerFactory']>[0]);
      }
      disableFastifyRequestLogging(app, ctx);
      requestLog = (raw, level) => fastifyLogging.requestLogger(raw, level) as unknown as FastifyBaseLogger;
      app.addHook('onSend', hideServerErrorDetails);
    }
    const endpoints = ctx.endpoints;
    app.addHook('onRequest', function periscopeOnRequest(request, reply, done) {
      // periscope's endpoints are served here, whatever route Fastify matched (its 404 handler, a
      // catch-all, an app route at the same path), as the other adapters serve them before the
      // app: not as routes, which would lengthen the router's lookup of every app request whose
      // path shares a prefix with one of them (a '/hello/:name' route walked one more node for
      // '/healthz', about 700 instructions a request).
      if (endpoints.size !== 0) {
        const endpoint = endpoints.match(request.raw.url);
        if (endpoint !== undefined) {
          reply.hijack();
          endpoints.run(endpoint, request.raw, reply.raw);
          return done();
        }
      }
      const options = routeOf(request);
      const scope = options.config?.periscope !== false ? core.start(request.raw, reply.raw, options.config?.url, request) : undefined;
      if (requestLog !== undefined) {
        // After start, so the request ID can be the trace ID tracing just made.
        request.log = reply.log = requestLog(request.raw, options.logLevel);
        if (requestIds && scope?.requestId !== undefined) request.id = scope.requestId;
      }
      if (scope === undefined) return done();
      if (scope.rejection !== undefined) {
        // Turned away at start (overload): the core has answered; Fastify skips the rest.
        reply.hijack();
        return done();
      }
      // The rest of the request (hooks, handler) runs inside the request's trace context;
      // Fastify runs its body parsers in an AsyncResource, so a body does not lose it.
      core.run(scope, done);
    });
    app.addHook('onError', function periscopeOnError(_request, reply, error, done) {
      core.recordError(reply.raw, error);
      done();
    });
  } catch (error) {
    // Fastify refuses hooks and routes once it has booted (FST_ERR_INSTANCE_ALREADY_LISTENING and kin).
    throw createError('PERISCOPE_ERR_TOO_LATE', ['Fastify', (error as Error).message]);
  }
  // The shutdown closes the server through Fastify, so the app's onClose hooks run.
  ctx.trackServer(app.server, () => app.close());
  return { framework: 'fastify' };
}

/** What periscope reads of a request's route: the route's config (`url`, `periscope`) and log level. */
interface RouteView {
  readonly config: { readonly url?: string; readonly periscope?: boolean } | undefined;
  readonly logLevel: string | undefined;
}

/** The key of Fastify's route context on a request: undefined until looked for, null when absent. */
let kRouteContext: symbol | null | undefined;

/**
 * The route a request matched, read once per request on the hot path. Fastify's public
 * `request.routeOptions` is a getter that builds a 12-field object (and reads the server's
 * initial config and constraint strategies) on every access; the same `config` and `logLevel`
 * are on the route context it reads them from, which every request holds under the
 * `fastify.context` symbol. The symbol is found once, by its description; a Fastify without it
 * gets the public getter.
 */
export function routeOf(request: FastifyRequest): RouteView {
  if (kRouteContext === undefined) kRouteContext = Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ?? null;
  if (kRouteContext !== null) {
    const context = (request as unknown as Record<symbol, RouteView | undefined>)[kRouteContext];
    if (typeof context === 'object' && context !== null) return context;
  }
  return request.routeOptions as unknown as RouteView;
}

/**
 * Fastify's default error handler sends the thrown error's message to the client, also for a
 * 500. periscope logged the error; the client gets the status text only. An app with its own
 * error handler decides for itself.
 */
function hideServerErrorDetails(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (err: null, payload: unknown) => void,
): void {
  const status = reply.statusCode;
  if (status < 500 || scopeOf(reply.raw)?.error === undefined || request.server.errorHandler.name !== 'defaultErrorHandler') {
    return done(null, payload);
  }
  const text = STATUS_CODES[status] ?? 'Error';
  done(null, JSON.stringify({ statusCode: status, error: text, message: text }));
}

/**
 * periscope's request line replaces Fastify's "incoming request" / "request completed" lines and
 * its error log (the request line carries the error). Fastify takes that setting only at
 * construction (`logController`), so the instance's log controller is switched here, found by
 * its symbol's description; with another Fastify version it warns and leaves them on.
 */
function disableFastifyRequestLogging(app: FastifyInstance, ctx: AdapterContext): void {
  const key = Object.getOwnPropertySymbols(app).find((s) => s.description === 'fastify.logController');
  const controller = key === undefined ? undefined : ((app as unknown as Record<symbol, unknown>)[key] as { disableRequestLogging?: unknown; isDisableRequestLoggingFunction?: unknown } | undefined);
  if (controller === undefined || typeof controller !== 'object' || !('disableRequestLogging' in controller)) {
    ctx.notice('PERISCOPE_FASTIFY_REQUEST_LOGGING', 'periscope: could not turn off Fastify\'s own request log lines; create the app with `disableRequestLogging: true` to avoid duplicates.');
    return;
  }
  controller.disableRequestLogging = true;
  controller.isDisableRequestLoggingFunction = false;
}
