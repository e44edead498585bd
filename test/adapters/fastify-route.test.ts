import { afterEach, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { routeOf } from '../../src/adapters/fastify.js';

describe("Fastify: the route read from the request's route context", () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('finds the route context and agrees with request.routeOptions for a route, a quiet route and a 404', async () => {
    app = Fastify();
    const seen: { fast: unknown; public: unknown; viaContext: boolean }[] = [];
    app.addHook('onRequest', (request, _reply, done) => {
      const view = routeOf(request);
      const pub = request.routeOptions;
      seen.push({
        fast: { url: view.config?.url, periscope: view.config?.periscope, logLevel: view.logLevel },
        public: { url: pub.url, periscope: pub.config.periscope, logLevel: pub.logLevel },
        // The fast path: the context object itself, not the getter's fresh copy.
        viaContext: view !== (pub as unknown),
      });
      done();
    });
    app.get('/users/:id', { logLevel: 'warn' }, async () => 'ok');
    app.get('/quiet', { config: { periscope: false } }, async () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    expect((await fetch(`${base}/users/7`)).status).toBe(200);
    expect((await fetch(`${base}/quiet`)).status).toBe(200);
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    expect(seen.map((s) => s.fast)).toEqual([
      { url: '/users/:id', periscope: undefined, logLevel: 'warn' },
      { url: '/quiet', periscope: false, logLevel: '' },
      { url: undefined, periscope: undefined, logLevel: '' },
    ]);
    expect(seen.map((s) => s.fast)).toEqual(seen.map((s) => s.public));
    // On the supported Fastify the hot path never builds routeOptions' object.
    expect(seen.map((s) => s.viaContext)).toEqual([true, true, true]);
  });
});
