import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { instrument } from '../../src/index.js';
import type { PeriscopeOptions } from '../../src/index.js';
import { signalProxyWarning } from '../../src/health/index.js';
import { captureLogs, deferred, get } from './helpers.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('lifecycle drives readiness', () => {
  it('Fastify: not ready until listening, on a management port; liveness is 200 throughout', async () => {
    const app = Fastify();
    const obs = instrument(app, { metrics: false, shutdown: false, health: { port: 0, host: '127.0.0.1', eventLoop: false } });
    cleanups.push(() => app.close(), () => obs.shutdown());
    const mgmt = `http://127.0.0.1:${(await obs.managementAddress('health'))!.port}`;
    expect(obs.health.state).toBe('starting');
    expect(await get(`${mgmt}/readyz`)).toMatchObject({ status: 503, body: '[-]lifecycle failed: server not listening yet\nreadyz check failed\n' });
    expect(await get(`${mgmt}/livez`)).toMatchObject({ status: 200, body: 'ok\n' });
    const healthz = await get(`${mgmt}/healthz`);
    expect(healthz.status).toBe(503);
    expect(JSON.parse(healthz.body)).toMatchObject({ status: 'unhealthy', state: 'starting' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    expect(obs.health.state).toBe('ready');
    expect(await get(`${mgmt}/readyz`)).toMatchObject({ status: 200, body: 'ok\n' });
    // The probes live on the management port only.
    expect((await get(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/readyz`)).status).toBe(404);
    // Closed by the app itself rather than by periscope: not ready, and said so.
    await app.close();
    expect(await get(`${mgmt}/readyz`)).toMatchObject({ status: 503, body: '[-]lifecycle failed: server closed\nreadyz check failed\n' });
  });

  it('startup tasks: pending keeps 503, settled makes 200, rejected keeps 503', async () => {
    const server = createServer((_q, s) => s.end());
    const logs = captureLogs();
    const obs = instrument(server, { routes: ['/'], metrics: false, shutdown: false, health: { eventLoop: false }, logging: logs.logging });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => obs.shutdown());
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const migrations = deferred();
    const warmup = deferred();
    obs.health.startup('migrations', migrations.promise);
    obs.health.startup('warmup', warmup.promise.then(() => Promise.reject(new Error('cache warm-up failed'))));
    expect(await get(`${base}/readyz`)).toMatchObject({ status: 503, body: '[-]lifecycle failed: 2 startup tasks pending\nreadyz check failed\n' });
    migrations.resolve();
    await migrations.promise;
    expect((await get(`${base}/readyz`)).body).toBe('[-]lifecycle failed: 1 startup task pending\nreadyz check failed\n');
    warmup.resolve();
    await vi.waitFor(() => expect(obs.health.state).toBe('starting'));
    await new Promise((r) => setImmediate(r));
    expect(await get(`${base}/readyz`)).toMatchObject({ status: 503, body: '[-]lifecycle failed: startup task warmup failed\nreadyz check failed\n' });
    expect(logs.lines).toEqual([expect.objectContaining({ level: 'error', task: 'warmup', err: 'cache warm-up failed', msg: 'startup task failed; the service stays not ready' })]);
    expect(() => obs.health.startup('bad', 42 as never)).toThrow('PERISCOPE_ERR_INVALID_ARGUMENT: health.startup(): task "bad" must be a promise, got 42.');
  });
});

describe('management servers', () => {
  it('metrics and health on the same port share one server', async () => {
    const server = createServer((_q, s) => s.end());
    const obs = instrument(server, { routes: ['/'], shutdown: false, metrics: { port: 0, host: '127.0.0.1' }, health: { port: 0, host: '127.0.0.1' } });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => obs.shutdown());
    const m = (await obs.managementAddress('metrics'))!;
    const h = (await obs.managementAddress('health'))!;
    expect(h.port).toBe(m.port);
    expect((await obs.managementAddress())!.port).toBe(m.port);
    expect((await get(`http://127.0.0.1:${m.port}/readyz`)).status).toBe(200);
    expect((await get(`http://127.0.0.1:${m.port}/metrics`)).body).toContain('health_check_status{check="event_loop"} 1');
  });

  it('different ports get one server each; the handle reports the metrics one', async () => {
    const healthPort = await freePort();
    const server = createServer((_q, s) => s.end());
    const obs = instrument(server, { routes: ['/'], shutdown: false, metrics: { port: 0, host: '127.0.0.1' }, health: { port: healthPort, host: '127.0.0.1' } });
    cleanups.push(() => obs.shutdown());
    const m = (await obs.managementAddress('metrics'))!;
    expect((await obs.managementAddress('health'))!.port).toBe(healthPort);
    expect(m.port).not.toBe(healthPort);
    expect((obs.managementServer!.address() as AddressInfo).port).toBe(m.port);
    expect((await get(`http://127.0.0.1:${healthPort}/metrics`)).status).toBe(404);
    expect((await get(`http://127.0.0.1:${m.port}/livez`)).status).toBe(404);
    expect((await get(`http://127.0.0.1:${healthPort}/livez`)).status).toBe(200);
    await obs.shutdown();
    expect(obs.managementServer!.listening).toBe(false);
  });

  it('the same port with two hosts is refused', () => {
    expect(() =>
      instrument(createServer(), { routes: ['/'], shutdown: false, metrics: { port: 9464, host: '127.0.0.1' }, health: { port: 9464, host: '0.0.0.0' } }),
    ).toThrow('PERISCOPE_ERR_INVALID_OPTION: Invalid option `health.host`: got "0.0.0.0"; allowed: the same host as metrics.host on port 9464 ("127.0.0.1").');
  });
});

describe('graceful shutdown in process', () => {
  async function slowApp(drainDelayMs: number, timeoutMs: number, events: string[] = [], logging: PeriscopeOptions['logging'] = false) {
    const entered = deferred();
    const release = deferred();
    const server = createServer((req, res) => {
      if (req.url === '/slow') {
        entered.resolve();
        res.on('finish', () => events.push('slow response sent'));
        void release.promise.then(() => res.end('done\n'));
      } else res.end('fast\n');
    });
    const obs = instrument(server, { routes: ['/slow'], metrics: false, health: { eventLoop: false }, shutdown: { signals: [], drainDelayMs, timeoutMs, exit: false }, logging });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      server.closeAllConnections();
      return obs.shutdown();
    });
    return { obs, server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, entered, release };
  }

  it('readiness off, drain delay, listener closed, in-flight request finishes, then hooks in order', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
    const events: string[] = [];
    const { obs, server, base, entered, release } = await slowApp(1000, 10_000, events);
    obs.onShutdown(() => {
      events.push('hook a');
    });
    obs.onShutdown(async () => {
      events.push('hook b');
    });
    const slow = get(`${base}/slow`);
    await entered.promise;
    const done = obs.shutdown();
    expect(obs.shutdown()).toBe(done);
    expect(obs.health.state).toBe('draining');
    expect(await get(`${base}/readyz`)).toMatchObject({ status: 503, body: '[-]lifecycle failed: draining\nreadyz check failed\n' });
    expect(await get(`${base}/livez`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(server.listening).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(server.listening).toBe(false);
    await expect(get(`${base}/readyz`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(events).toEqual([]);
    release.resolve();
    expect(await slow).toMatchObject({ status: 200, body: 'done\n' });
    const report = await done;
    expect(events).toEqual(['slow response sent', 'hook a', 'hook b']);
    expect(report).toMatchObject({ reason: 'shutdown() called', code: 0, timedOut: false, failures: 0 });
    expect(report.timings.drainDelayMs).toBe(1000);
    expect(obs.health.state).toBe('stopped');
  });

  it('past the deadline the remaining connections are closed and the code is 1', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const { obs, base, entered } = await slowApp(0, 500);
    let hookRan = false;
    obs.onShutdown(() => {
      hookRan = true;
    });
    // Settled as soon as it fails, so the rejection is never unhandled.
    const slow = get(`${base}/slow`).then(
      (r) => `answered ${r.status}`,
      (e: NodeJS.ErrnoException) => e.code,
    );
    await entered.promise;
    const done = obs.shutdown();
    await vi.advanceTimersByTimeAsync(499);
    expect(obs.health.state).toBe('draining');
    await vi.advanceTimersByTimeAsync(1);
    expect(await slow).toBe('ECONNRESET');
    const report = await done;
    expect(report).toMatchObject({ code: 1, timedOut: true, failures: 0 });
    expect(hookRan).toBe(false);
  });

  it('a failing hook is logged, the next hooks still run, and the code is 1', async () => {
    const logs = captureLogs();
    const { obs } = await slowApp(0, 1000, [], { ...logs.logging, level: 'debug' });
    const ran: string[] = [];
    obs.onShutdown(() => {
      throw new Error('pool.end failed');
    });
    obs.onShutdown(() => {
      ran.push('second');
    });
    const report = await obs.shutdown();
    expect(ran).toEqual(['second']);
    expect(report).toMatchObject({ code: 1, failures: 1, timedOut: false });
    const lines = logs.lines;
    // shutdown() called by the app: periscope's own steps at debug, the failure at error.
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['debug', 'shutdown started: readiness now fails'],
      ['debug', 'stopped accepting connections; waiting for in-flight requests'],
      ['debug', 'in-flight requests finished; servers closed'],
      ['error', 'shutdown hook failed'],
      ['debug', 'shutdown complete'],
    ]);
    expect(lines[3]).toMatchObject({ err: { message: 'pool.end failed' } });
    expect(lines[4]).toMatchObject({ code: 1, timed_out: false });
    expect(() => obs.onShutdown('x' as never)).toThrow('PERISCOPE_ERR_INVALID_ARGUMENT: obs.onShutdown(): the hook must be a function, got "x".');
  });

  it('Express: the `server` option lets shutdown drain an app that has had no request', async () => {
    const app = express();
    app.get('/', (_q, s) => void s.send('x'));
    const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const obs = instrument(app, { metrics: false, server, shutdown: { signals: [], exit: false, drainDelayMs: 0 } });
    expect(obs.health.state).toBe('ready');
    await obs.shutdown();
    expect(server.listening).toBe(false);
  });
});

describe('signal listeners', () => {
  it('are released when the app closes its own servers, so instrumenting many apps does not pile them up', async () => {
    const before = process.listenerCount('SIGUSR2');
    const server = createServer((_q, s) => s.end());
    const obs = instrument(server, { routes: ['/'], metrics: false, logging: false, shutdown: { signals: ['SIGUSR2'] } });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    await new Promise((r) => server.close(r));
    expect(process.listenerCount('SIGUSR2')).toBe(before);
    // obs.shutdown() still works afterwards.
    expect(await obs.shutdown()).toMatchObject({ code: 0, timedOut: false });
  });
});

describe('start-up warnings', () => {
  it('warns once when drain delay plus deadline exceed the grace period', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const logs = captureLogs();
    const obs = instrument(createServer(), {
      routes: ['/'],
      metrics: false,
      logging: logs.logging,
      shutdown: { signals: ['SIGUSR2'], drainDelayMs: 15_000, timeoutMs: 20_000, gracePeriodMs: 30_000 },
    });
    cleanups.push(async () => {
      const done = obs.shutdown();
      await vi.advanceTimersByTimeAsync(15_000);
      await done;
      expect(process.listenerCount('SIGUSR2')).toBe(0);
    });
    expect(logs.lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        drain_delay_ms: 15_000,
        timeout_ms: 20_000,
        grace_period_ms: 30_000,
        msg: 'shutdown.drainDelayMs + shutdown.timeoutMs exceed shutdown.gracePeriodMs: the platform may kill the process before it has drained',
      }),
    ]);
    expect(process.listenerCount('SIGUSR2')).toBe(1);
  });

  it.each([
    [{ pid: 7, ppid: 1, pid1Command: 'npm start' }, true],
    [{ pid: 7, ppid: 1, pid1Command: '/usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js start' }, true],
    [{ pid: 7, ppid: 1, pid1Command: '/bin/sh -c node server.js' }, true],
    [{ pid: 7, ppid: 1, pid1Command: 'yarn start' }, true],
    [{ pid: 1, ppid: 0, pid1Command: 'node server.js' }, false],
    [{ pid: 7, ppid: 1, pid1Command: '/sbin/tini -- node server.js' }, false],
    [{ pid: 7, ppid: 3, pid1Command: 'npm start' }, false],
    [{ pid: 7, ppid: 1, pid1Command: undefined }, false],
  ])('signal proxy check %o -> warns: %s', (facts, warns) => {
    const w = signalProxyWarning(facts);
    expect(w === undefined ? false : w.includes('may not forward SIGTERM')).toBe(warns);
  });
});
