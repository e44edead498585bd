import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { instrument } from '../../src/index.js';
import { FRAMEWORKS, startApp } from '../fixtures/apps.js';
import { samples, scrape, value } from '../helpers.js';
import { fastExport, Receiver, SERVER_KIND } from '../tracing/helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function lineSink() {
  const lines: Record<string, unknown>[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } };
}

describe('ignore: one opt-out for metrics, request logs and spans', () => {
  it.each(FRAMEWORKS)('%s: an exact template and a /* prefix leave their requests out of everything', async (framework) => {
    const logs = lineSink();
    const receiver = new Receiver();
    const endpoint = await receiver.start();
    cleanups.push(() => receiver.close());
    const app = await startApp(framework, {
      ignore: ['/hello/:name', '/stream/*'],
      logging: { destination: logs.destination, sync: true },
      tracing: fastExport(endpoint),
    });
    cleanups.push(() => app.close());
    for (const path of ['/hello/a', '/hello/b', '/stream/x', app.usersPath('1')]) await (await fetch(app.base + path)).text();
    const { metrics } = await scrape(app.base);
    expect(samples(metrics, 'http_requests_total').map((s) => s.labels.route)).toEqual([app.usersRoute]);
    expect(logs.lines.filter((l) => l.msg === 'request completed').map((l) => l.route)).toEqual([app.usersRoute]);
    await app.obs.shutdown();
    expect(receiver.spans.filter((s) => s.kind === SERVER_KIND).map((s) => s.name)).toEqual([`GET ${app.usersRoute}`]);
  });
});

describe('app_ready', () => {
  it('is 1 while ready, 0 while a critical check fails, 0 once shutting down', async () => {
    const app = await startApp('node-http', { health: { eventLoop: false, cacheMs: 0 }, shutdown: { signals: [], exit: false, drainDelayMs: 0 } });
    cleanups.push(() => app.close());
    expect(value((await scrape(app.base)).metrics, 'app_ready')).toBe(1);
    let up = true;
    app.obs.health.register('db', () => up);
    up = false;
    expect((await fetch(`${app.base}/readyz`)).status).toBe(503);
    expect(value((await scrape(app.base)).metrics, 'app_ready')).toBe(0);
    up = true;
    expect((await fetch(`${app.base}/readyz`)).status).toBe(200);
    expect(value((await scrape(app.base)).metrics, 'app_ready')).toBe(1);
    // During the shutdown the registry is read directly: the listener is closed.
    const done = app.obs.shutdown();
    expect((await app.obs.registry.getSingleMetricAsString('app_ready')).split('\n').at(-1)).toBe('app_ready 0');
    await done;
  });
});

describe('Fastify through the shutdown', () => {
  it("runs the app's onClose hooks when periscope's shutdown closes the server", async () => {
    const app = Fastify();
    const events: string[] = [];
    app.addHook('onClose', async () => {
      events.push('onClose');
    });
    const obs = instrument(app, { logging: false, shutdown: { signals: [], exit: false } });
    obs.onShutdown(() => void events.push('periscope hook'));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const report = await obs.shutdown();
    expect(report.code).toBe(0);
    expect(events).toEqual(['onClose', 'periscope hook']);
    expect(app.server.listening).toBe(false);
  });

  it("refuses Fastify's own server and says to pass the instance", () => {
    const app = Fastify();
    cleanups.push(() => app.close());
    expect(() => instrument(app.server)).toThrow(/PERISCOPE_ERR_UNSUPPORTED_APP.*pass the Fastify instance itself, instrument\(app\)/);
  });
});

describe('the internal reporter', () => {
  it('counts a failure, and writes it once per site as one JSON warning line through obs.logger', async () => {
    const logs = lineSink();
    const app = await startApp('node-http', { logging: { destination: logs.destination, sync: true, requests: false } });
    cleanups.push(() => app.close());
    app.obs.registry.registerMetric(
      new (await import('@prometheus-io/client')).Gauge({
        name: 'broken_gauge',
        help: 'Throws when collected.',
        collect() {
          throw new Error('collect exploded');
        },
      }) as never,
    );
    await scrape(app.base);
    const { metrics } = await scrape(app.base);
    expect(value(metrics, 'periscope_internal_errors_total', { where: 'collect:broken_gauge' })).toBe(1);
    const warnings = logs.lines.filter((l) => l.periscope_error === 'PERISCOPE_INTERNAL_ERROR');
    expect(warnings).toEqual([
      expect.objectContaining({ level: 'warn', where: 'collect:broken_gauge', err: 'collect exploded', msg: 'periscope: collect:broken_gauge failed: collect exploded (reported once; counted in periscope_internal_errors_total)' }),
    ]);
  });
});
