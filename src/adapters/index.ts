import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import { createError, describeValue } from '../errors.js';
import { kInstrumented } from '../symbols.js';
import { attachExpress, isExpress } from './express.js';
import { attachFastify, isFastify } from './fastify.js';
import { attachNodeHttp, isNodeHttpServer } from './node-http.js';
import type { AdapterContext } from './context.js';

export type { AdapterContext, AdapterHandle } from './context.js';

/** The frameworks periscope has an adapter for. */
export type Framework = 'fastify' | 'express' | 'node-http';

type AnyFunction = (...args: never[]) => unknown;

/** What `instrument()` takes as a Fastify instance (Fastify 5's `FastifyInstance` fits). */
export interface FastifyAppLike {
  addHook: AnyFunction;
  route: AnyFunction;
  register: AnyFunction;
  decorate: AnyFunction;
  readonly server: Server;
}

/** What `instrument()` takes as an Express app (Express 5's `Express` fits). */
export interface ExpressAppLike {
  (req: IncomingMessage, res: ServerResponse, next?: AnyFunction): unknown;
  use: AnyFunction;
  set: AnyFunction;
  listen: AnyFunction;
}

/** Fastify's request listener on the server it made (Fastify 5 names it so). */
function isFastifyServer(server: Server): boolean {
  return server.listeners('request').some((l) => (l as { name?: string }).name === 'preRouting');
}

/** Which adapter fits `app`; throws for anything else, an app instrumented twice, or options of another framework. */
export function frameworkOf(app: unknown, options: { routes: readonly string[]; routeOf: unknown }): Framework {
  const framework: Framework | undefined = isFastify(app) ? 'fastify' : isExpress(app) ? 'express' : isNodeHttpServer(app) ? 'node-http' : undefined;
  if (framework === undefined) throw createError('PERISCOPE_ERR_UNSUPPORTED_APP', [describeValue(app)]);
  if (framework === 'node-http' && isFastifyServer(app as Server)) {
    throw createError('PERISCOPE_ERR_UNSUPPORTED_APP', ["Fastify's own node:http server (app.server): pass the Fastify instance itself, instrument(app)"]);
  }
  if ((app as Record<symbol, unknown>)[kInstrumented] === true) throw createError('PERISCOPE_ERR_ALREADY_INSTRUMENTED', []);
  if (framework !== 'node-http' && (options.routes.length > 0 || options.routeOf !== undefined)) {
    const option = options.routeOf !== undefined ? 'routeOf' : 'routes';
    throw createError('PERISCOPE_ERR_INVALID_OPTION', [option, 'a value', `only with a node:http server; ${framework} names its routes itself`], option);
  }
  return framework;
}

/** Hooks the adapter of `framework` into `app` and marks the app instrumented. */
export function attachAdapter(
  framework: Framework,
  app: unknown,
  routing: { routes: readonly string[]; routeOf: ((req: IncomingMessage) => string | undefined) | undefined },
  ctx: AdapterContext,
): void {
  if (framework === 'fastify') attachFastify(app as Parameters<typeof attachFastify>[0], ctx);
  else if (framework === 'express') attachExpress(app as Parameters<typeof attachExpress>[0], ctx);
  else attachNodeHttp(app as Server, ctx, routing);
  Object.defineProperty(app, kInstrumented, { value: true, configurable: true });
}
