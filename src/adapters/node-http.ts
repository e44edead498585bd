import { Server as HttpServer } from 'node:http';
import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { compileRoutes } from '../core/index.js';
import type { AdapterContext, AdapterHandle } from './context.js';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** One shared function, so running the listeners in the request's context allocates no closure. */
function callListeners(server: Server, listeners: RequestListener[], req: IncomingMessage, res: ServerResponse): void {
  for (let i = 0; i < listeners.length; i++) listeners[i]!.call(server, req, res);
}

export function isNodeHttpServer(app: unknown): app is Server {
  return app instanceof HttpServer || app instanceof HttpsServer;
}

export interface NodeHttpRouting {
  routes: readonly string[];
  routeOf: ((req: IncomingMessage) => string | undefined) | undefined;
}

/**
 * node:http: periscope's listener takes the place of the server's `request` listeners and
 * calls them itself, so it can answer its own endpoints before the application sees them.
 * Listeners added later are moved behind it too.
 */
export function attachNodeHttp(server: Server, ctx: AdapterContext, routing: NodeHttpRouting): AdapterHandle {
  const matcher = compileRoutes(routing.routes);
  const routeOf = routing.routeOf;
  const resolveRoute = routeOf ?? ((req: IncomingMessage) => (req.url === undefined ? undefined : matcher(req.url)));
  if (routeOf === undefined && routing.routes.length === 0) {
    ctx.notice(
      'PERISCOPE_NO_ROUTES',
      'periscope: this node:http server has no route names, so every request is labelled route="unmatched". ' +
        "Pass `routes: ['/users/:id', ...]` or `routeOf(req)` to instrument().",
    );
  }
  const core = ctx.createCore(resolveRoute);
  const endpoints = ctx.endpoints;
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');

  function periscopeRequest(this: Server, req: IncomingMessage, res: ServerResponse): void {
    if (endpoints.size !== 0 && endpoints.serve(req, res)) return;
    const scope = core.start(req, res);
    // Turned away at start (overload): the core has answered; the app never sees it.
    if (scope?.rejection !== undefined) return;
    core.run(scope, callListeners, this, listeners, req, res);
  }
  server.on('request', periscopeRequest);
  server.on('newListener', (event: string | symbol, listener: RequestListener) => {
    if (event !== 'request' || listener === periscopeRequest) return;
    // 'newListener' fires before the listener is added; move it behind periscope right after.
    queueMicrotask(() => {
      server.removeListener('request', listener);
      listeners.push(listener);
    });
  });
  ctx.trackServer(server);
  return { framework: 'node-http' };
}
