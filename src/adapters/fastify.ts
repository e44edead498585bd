import type { FastifyInstance } from 'fastify';
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
 * matched (`routeOptions.url`, undefined for its 404 handler) and runs the rest of the
 * request in the scope's context; `onError` hands thrown errors to the scope. periscope's
 * endpoints are plain routes that opt out through their config.
 */
export function attachFastify(app: FastifyInstance, ctx: AdapterContext): AdapterHandle {
  if (app.server.listening) {
    throw createError('PERISCOPE_ERR_TOO_LATE', ['Fastify', 'the server is already listening']);
  }
  const core = ctx.createCore();
  try {
    app.addHook('onRequest', function periscopeOnRequest(request, reply, done) {
      const options = request.routeOptions;
      if (options.config.periscope === false) return done();
      // The rest of the request (hooks, handler) runs inside the request's trace context;
      // Fastify runs its body parsers in an AsyncResource, so a body does not lose it.
      core.run(core.start(request.raw, reply.raw, options.url), done);
    });
    app.addHook('onError', function periscopeOnError(_request, reply, error, done) {
      core.recordError(reply.raw, error);
      done();
    });
    for (const [path, handler] of ctx.endpoints.entries()) {
      app.route({
        method: 'GET',
        url: path,
        config: { periscope: false },
        handler(request, reply) {
          reply.hijack();
          return handler(request.raw, reply.raw);
        },
      });
    }
  } catch (error) {
    // Fastify refuses hooks and routes once it has booted (FST_ERR_INSTANCE_ALREADY_LISTENING and kin).
    throw createError('PERISCOPE_ERR_TOO_LATE', ['Fastify', (error as Error).message]);
  }
  ctx.trackServer(app.server);
  return { framework: 'fastify' };
}
