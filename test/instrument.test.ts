import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import express from 'express';
import Fastify from 'fastify';
import { Registry } from '@prometheus-io/client';
import { ERRORS, PeriscopeError, instrument, isPeriscopeError } from '../src/index.js';
import type { PeriscopeOptions } from '../src/index.js';
import { resolveOptions, readEnv } from '../src/options.js';
import type { EnvWarning } from '../src/options.js';
import { hammer, listen, samples, scrape, value } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function expectError(fn: () => unknown, code: string, message: RegExp): PeriscopeError {
  try {
    fn();
  } catch (error) {
    expect(isPeriscopeError(error)).toBe(true);
    expect(error).toBeInstanceOf(PeriscopeError);
    expect((error as PeriscopeError).code).toBe(code);
    expect((error as PeriscopeError).message).toMatch(message);
    return error as PeriscopeError;
  }
  throw new Error('expected a PeriscopeError');
}

describe('option validation, at the instrument() call', () => {
  const cases: [string, PeriscopeOptions | unknown, string, RegExp][] = [
    ['unsorted buckets', { metrics: { durationBuckets: [0.1, 0.05, 1] } }, 'metrics.durationBuckets', /Invalid option `metrics.durationBuckets`: got \[0.1, 0.05, 1\]; allowed: .*strictly increasing/],
    ['negative buckets', { metrics: { sizeBuckets: [-1, 10] } }, 'metrics.sizeBuckets', /got \[-1, 10\]; allowed: .*above 0/],
    ['empty buckets', { metrics: { durationBuckets: [] } }, 'metrics.durationBuckets', /got \[\]; allowed: a non-empty array/],
    ['port out of range', { metrics: { port: 70000 } }, 'metrics.port', /Invalid option `metrics.port`: got 70000; allowed: an integer from 0 to 65535/],
    ['port not an integer', { metrics: { port: '9464' } }, 'metrics.port', /got "9464"; allowed: an integer from 0 to 65535/],
    ['series cap zero', { metrics: { maxSeries: 0 } }, 'metrics.maxSeries', /got 0; allowed: an integer from 1 to 1000000/],
    ['path without slash', { metrics: { path: 'metrics' } }, 'metrics.path', /got "metrics"; allowed: a path starting with "\/"/],
    ['metrics not an object', { metrics: 'yes' }, 'metrics', /got "yes"; allowed: true, false or an object/],
    ['registry not a registry', { metrics: { registry: {} } }, 'metrics.registry', /got an object; allowed: a Registry/],
    ['defaultMetrics not boolean', { metrics: { defaultMetrics: 1 } }, 'metrics.defaultMetrics', /got 1; allowed: true or false/],
    ['empty service name', { serviceName: ' ' }, 'serviceName', /got " "; allowed: a non-empty string/],
    ['routeOf not a function', { routeOf: '/x' }, 'routeOf', /got "\/x"; allowed: a function/],
    ['routes not templates', { routes: ['users/:id'] }, 'routes', /allowed: an array of route templates starting with "\/"/],
  ];
  it.each(cases)('%s', (_name, options, option, message) => {
    const server = createServer();
    const error = expectError(() => instrument(server, options as PeriscopeOptions), 'PERISCOPE_ERR_INVALID_OPTION', message);
    expect(error.option).toBe(option);
  });

  it('rejects an unknown option and lists the known ones', () => {
    const error = expectError(() => instrument(createServer(), { metric: false } as unknown as PeriscopeOptions), 'PERISCOPE_ERR_UNKNOWN_OPTION', /Unknown option `metric`; known options here: serviceName, version, commit, metrics, routes, routeOf, ignore,/);
    expect(error.option).toBe('metric');
    expectError(() => instrument(createServer(), { metrics: { buckets: [1] } } as unknown as PeriscopeOptions), 'PERISCOPE_ERR_UNKNOWN_OPTION', /`metrics.buckets`.*metrics.durationBuckets/);
  });

  it('rejects routes and routeOf for frameworks that name their own routes', () => {
    expectError(() => instrument(Fastify(), { routes: ['/x'] }), 'PERISCOPE_ERR_INVALID_OPTION', /`routes`.*only with a node:http server; fastify names its routes itself/);
  });

  it.each([
    ['null', null, /got null/],
    ['a plain object', {}, /got an object/],
    ['a string', 'app', /got "app"/],
    ['a function that is not Express', () => {}, /got a function/],
  ])('rejects %s as the app', (_name, app, message) => {
    // The types refuse these too; the runtime check is for JavaScript callers.
    expectError(() => instrument(app as never), 'PERISCOPE_ERR_UNSUPPORTED_APP', message);
  });

  it('refuses to instrument the same app twice', () => {
    const app = express();
    instrument(app);
    expectError(() => instrument(app), 'PERISCOPE_ERR_ALREADY_INSTRUMENTED', /already instrumented/);
  });

  it('refuses a Fastify app that is already listening', async () => {
    const app = Fastify();
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    expectError(() => instrument(app), 'PERISCOPE_ERR_TOO_LATE', /too late for this Fastify app: the server is already listening/);
  });

  it('never writes to the caller options and freezes what it resolved', () => {
    const options = { metrics: { durationBuckets: [0.1, 1] } };
    const snapshot = JSON.stringify(options);
    const obs = instrument(createServer(), { ...options, routes: ['/x'] });
    expect(JSON.stringify(options)).toBe(snapshot);
    expect(Object.isFrozen(obs.options)).toBe(true);
    expect(obs.options.metrics && obs.options.metrics.durationBuckets).toEqual([0.1, 1]);
  });
});

describe('errors table', () => {
  it('has one stable code per entry, each documented in the README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const code of Object.keys(ERRORS)) {
      expect(code).toMatch(/^PERISCOPE_ERR_[A-Z_]+$/);
      expect(readme).toContain(`\`${code}\``);
    }
  });
});

describe('environment and build info', () => {
  it('options win over the environment, which wins over package.json', () => {
    const env = readEnv({ OTEL_SERVICE_NAME: 'from-env', GIT_COMMIT: 'abc123' });
    expect(resolveOptions({}, env)).toMatchObject({ serviceName: 'from-env', commit: 'abc123' });
    expect(resolveOptions({ serviceName: 'from-code', commit: 'def456' }, env)).toMatchObject({ serviceName: 'from-code', commit: 'def456' });
    // With neither, the app's package.json; vitest's entry script lies in node_modules, so the
    // search starts in the working directory, this repository (test/app-package.test.ts covers apps).
    const warnings: EnvWarning[] = [];
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
    expect(resolveOptions({}, readEnv({}), (w) => warnings.push(w))).toMatchObject({ serviceName: pkg.name, version: pkg.version, commit: 'unknown' });
    expect(warnings).toEqual([]);
    expect(resolveOptions({ version: '1' }, readEnv({ SOURCE_COMMIT: 'src1', OTEL_SERVICE_NAME: 's' })).commit).toBe('src1');
    expect(resolveOptions({ version: '1' }, readEnv({ COMMIT_SHA: 'sha1', OTEL_SERVICE_NAME: 's' })).commit).toBe('sha1');
  });

  it('exposes app_build_info with service, version, commit and Node version', async () => {
    const server = createServer((_req, res) => res.end());
    instrument(server, { serviceName: 'shop', version: '1.2.3', commit: 'cafe', routes: ['/'] });
    const base = await listen(server);
    cleanups.push(() => void server.close());
    const { metrics } = await scrape(base);
    expect(samples(metrics, 'app_build_info')).toEqual([
      { labels: { service: 'shop', version: '1.2.3', commit: 'cafe', node_version: process.version }, value: 1 },
    ]);
  });
});

describe('registries and management port', () => {
  it('gives every instrument() call its own registry: two apps in one process never collide', async () => {
    const a = express();
    const b = express();
    a.get('/a', (_req, res) => void res.send('a'));
    b.get('/b', (_req, res) => void res.send('b'));
    const obsA = instrument(a);
    const obsB = instrument(b);
    expect(obsA.registry).not.toBe(obsB.registry);
    const sa = createServer(a);
    const sb = createServer(b);
    const [baseA, baseB] = [await listen(sa), await listen(sb)];
    cleanups.push(() => void sa.close(), () => void sb.close(), () => sa.closeAllConnections(), () => sb.closeAllConnections());
    await hammer(() => `${baseA}/a`, 2, 1);
    await hammer(() => `${baseB}/b`, 3, 1);
    const ma = (await scrape(baseA)).metrics;
    const mb = (await scrape(baseB)).metrics;
    expect(samples(ma, 'http_requests_total').map((s) => [s.labels.route, s.value])).toEqual([['/a', 2]]);
    expect(samples(mb, 'http_requests_total').map((s) => [s.labels.route, s.value])).toEqual([['/b', 3]]);
  });

  it("puts its metrics in the user's registry when given one", async () => {
    const registry = new Registry();
    const server = createServer((_req, res) => res.end());
    const obs = instrument(server, { routes: ['/'], metrics: { registry, defaultMetrics: false } });
    expect(obs.registry).toBe(registry);
    expect((registry.getSingleMetric('http_requests_total') as { name?: string } | undefined)?.name).toBe('http_requests_total');
    expect(registry.getSingleMetric('process_cpu_user_seconds_total')).toBeUndefined();
  });

  it.each(['fastify', 'express', 'node-http'] as const)('%s: serves /metrics on the management port, not on the app', async (framework) => {
    let server;
    let obs;
    if (framework === 'fastify') {
      const app = Fastify();
      obs = instrument(app, { metrics: { port: 0, host: '127.0.0.1' } });
      app.get('/hello', async () => 'hi');
      await app.listen({ port: 0, host: '127.0.0.1' });
      server = app.server;
      cleanups.push(() => app.close());
    } else if (framework === 'express') {
      const app = express();
      obs = instrument(app, { metrics: { port: 0, host: '127.0.0.1' } });
      app.get('/hello', (_req, res) => void res.send('hi'));
      server = createServer(app);
      cleanups.push(() => void server!.close(), () => server!.closeAllConnections());
    } else {
      server = createServer((req, res) => {
        res.statusCode = req.url === '/hello' ? 200 : 404;
        res.end('hi');
      });
      obs = instrument(server, { routes: ['/hello'], metrics: { port: 0, host: '127.0.0.1' } });
      cleanups.push(() => void server!.close(), () => server!.closeAllConnections());
    }
    cleanups.push(async () => {
      await obs!.shutdown();
    });
    const base = await listen(server);
    const address = await obs.managementAddress();
    expect(address?.port).toBeGreaterThan(0);
    const management = `http://127.0.0.1:${address!.port}`;
    await hammer(() => `${base}/hello`, 2, 1);
    expect((await fetch(`${base}/metrics`).then(async (r) => [r.status, await r.text()]))[0]).toBe(404);
    expect((await fetch(`${management}/other`)).status).toBe(404);
    const { metrics } = await scrape(management);
    expect(value(metrics, 'http_requests_total', { route: '/hello', status_code: '200' })).toBe(2);
    // On the app, /metrics is now an ordinary miss.
    expect(value(metrics, 'http_requests_total', { route: 'unmatched', status_code: '404' })).toBe(1);
  });
});

describe('node:http routes', () => {
  it('warns once, at start, through the logger when a node:http server has no routes', () => {
    const lines: string[] = [];
    instrument(createServer(), { logging: { destination: { write: (line: string) => lines.push(line) }, sync: true } });
    const ours = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.periscope_error === 'PERISCOPE_NO_ROUTES');
    expect(ours).toHaveLength(1);
    expect(ours[0]!.level).toBe('warn');
    expect(ours[0]!.msg).toMatch(/every request is labelled route="unmatched".*routes: \['\/users\/:id'/);
  });

  it('warns once as a process warning when a node:http server has no routes and logging is off', async () => {
    const warnings: { code?: string; message: string }[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push({ code: w.code, message: w.message });
    process.on('warning', onWarning);
    cleanups.push(() => void process.off('warning', onWarning));
    instrument(createServer(), { logging: false });
    await new Promise((r) => setImmediate(r));
    const ours = warnings.filter((w) => w.code === 'PERISCOPE_NO_ROUTES');
    expect(ours).toHaveLength(1);
    expect(ours[0]!.message).toMatch(/every request is labelled route="unmatched".*routes: \['\/users\/:id'/);
  });

  it('matches templates with parameters, trailing slashes, query strings and wildcards', async () => {
    const server = createServer((_req, res) => res.end('x'));
    instrument(server, { routes: ['/users/:id', '/users/:id/orders/:order', '/static/*'] });
    const base = await listen(server);
    cleanups.push(() => void server.close(), () => server.closeAllConnections());
    for (const path of ['/users/1', '/users/2/', '/users/3?x=1', '/users/4/orders/9', '/static/a/b.css', '/static', '/static?v=2', '/statics/x', '/users', '/users/1/2']) {
      await fetch(base + path).then((r) => r.text());
    }
    const { metrics } = await scrape(base);
    expect(Object.fromEntries(samples(metrics, 'http_requests_total').map((s) => [s.labels.route, s.value]))).toEqual({
      '/users/:id': 3,
      '/users/:id/orders/:order': 1,
      '/static/*': 3,
      unmatched: 3,
    });
  });

  it('keeps request listeners added after instrument() behind it', async () => {
    const server = createServer();
    instrument(server, { routes: ['/late'] });
    server.on('request', (_req, res) => res.end('late listener'));
    const base = await listen(server);
    cleanups.push(() => void server.close(), () => server.closeAllConnections());
    expect(await fetch(`${base}/late`).then((r) => r.text())).toBe('late listener');
    expect(value((await scrape(base)).metrics, 'http_requests_total', { route: '/late' })).toBe(1);
    expect(server.listenerCount('request')).toBe(1);
  });
});

describe('packaging', () => {
  it('can be required from CommonJS on Node 22+', () => {
    const out = execFileSync(process.execPath, [new URL('./fixtures/require.cjs', import.meta.url).pathname], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ instrument: 'function', isPeriscopeError: 'function', metricsDoor: 'function' });
  });
});

