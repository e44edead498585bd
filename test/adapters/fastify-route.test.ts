import { afterEach, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { routeOf } from '../../src/adapters/fastify.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe("Fastify: the route read from the request's route context", () => {

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

describe("Fastify: periscope's endpoints are answered from its request hook, not added as routes", () => {

  it('answers them before a catch-all route and an app route at the same path, and leaves the route table alone', async () => {
    const { instrument } = await import('../../src/index.js');
    app = Fastify();
    const obs = instrument(app, { logging: false, tracing: false });
    const seen: string[] = [];
    app.get('/*', async (request) => {
      seen.push(request.url);
      return 'catch-all';
    });
    // Registering a route at one of periscope's paths is no longer a duplicate route.
    app.get('/healthz', async (request) => {
      seen.push(request.url);
      return 'mine';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const metrics = await fetch(`${base}/metrics?x=1`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await metrics.text()).toContain('# TYPE http_requests_total counter');
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status: string }).status).toBe('healthy');
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    // The app's routes still get everything else.
    expect(await (await fetch(`${base}/metricsx`)).text()).toBe('catch-all');
    expect(await (await fetch(`${base}/a/b`)).text()).toBe('catch-all');
    expect(seen).toEqual(['/metricsx', '/a/b']);
    const routes = app.printRoutes({ commonPrefix: false });
    expect(routes).not.toContain('metrics');
    expect(routes).not.toContain('livez');
    expect(routes).toContain('healthz');
    await obs.shutdown();
  });
});
