import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { instrument, isPeriscopeError } from '../../src/index.js';
import { readEnv, resolveOptions } from '../../src/options.js';

const env = readEnv({ OTEL_SERVICE_NAME: 's' });
const inKubernetes = readEnv({ OTEL_SERVICE_NAME: 's', KUBERNETES_SERVICE_HOST: '10.96.0.1' });

describe('health and shutdown options', () => {
  it('defaults', () => {
    const o = resolveOptions({}, env);
    expect(o.health).toEqual({
      livePath: '/livez',
      readyPath: '/readyz',
      healthPath: '/healthz',
      port: undefined,
      host: undefined,
      timeoutMs: 800,
      cacheMs: 1000,
      refreshMs: 0,
      eventLoop: { maxDelayMs: 2000 },
      auth: undefined,
    });
    expect(o.shutdown).toEqual({ signals: ['SIGTERM', 'SIGINT'], drainDelayMs: 0, timeoutMs: 10_000, exit: true, gracePeriodMs: 30_000 });
    expect(o.server).toBe(undefined);
    expect(Object.isFrozen(o.health)).toBe(true);
    expect(Object.isFrozen(o.shutdown)).toBe(true);
  });

  it('in Kubernetes the drain delay defaults to 5 s', () => {
    const o = resolveOptions({}, inKubernetes);
    expect(o.shutdown && o.shutdown.drainDelayMs).toBe(5000);
    expect(resolveOptions({ shutdown: { drainDelayMs: 0 } }, inKubernetes).shutdown).toMatchObject({ drainDelayMs: 0 });
  });

  it('false turns each off', () => {
    const o = resolveOptions({ health: false, shutdown: false }, env);
    expect(o.health).toBe(false);
    expect(o.shutdown).toBe(false);
  });

  it.each([
    [{ health: 'yes' }, 'health', 'Invalid option `health`: got "yes"; allowed: true, false or an object of health options.'],
    [{ health: { timeoutMs: 0 } }, 'health.timeoutMs', 'Invalid option `health.timeoutMs`: got 0; allowed: an integer from 1 to 600000 (milliseconds).'],
    [{ health: { cacheMs: -1 } }, 'health.cacheMs', 'Invalid option `health.cacheMs`: got -1; allowed: an integer from 0 to 3600000 (milliseconds).'],
    [{ health: { readyPath: 'readyz' } }, 'health.readyPath', 'Invalid option `health.readyPath`: got "readyz"; allowed: a path starting with "/" without query, fragment or spaces.'],
    [{ health: { livePath: '/x', readyPath: '/x' } }, 'health.healthPath', 'Invalid option `health.healthPath`: got "/healthz"; allowed: three different paths for livePath, readyPath and healthPath.'],
    [{ health: { port: 70000 } }, 'health.port', 'Invalid option `health.port`: got 70000; allowed: an integer from 0 to 65535.'],
    [{ health: { eventLoop: true } }, 'health.eventLoop', 'Invalid option `health.eventLoop`: got true; allowed: false or { maxDelayMs }.'],
    [{ shutdown: { signals: ['SIGKILL'] } }, 'shutdown.signals', 'Invalid option `shutdown.signals`: got ["SIGKILL"]; allowed: an array of distinct signal names such as "SIGTERM", without SIGKILL, SIGSTOP or SIGUSR1.'],
    [{ shutdown: { signals: 'SIGTERM' } }, 'shutdown.signals', 'Invalid option `shutdown.signals`: got "SIGTERM"; allowed: an array of distinct signal names such as "SIGTERM", without SIGKILL, SIGSTOP or SIGUSR1.'],
    [{ shutdown: { timeoutMs: 1.5 } }, 'shutdown.timeoutMs', 'Invalid option `shutdown.timeoutMs`: got 1.5; allowed: an integer from 1 to 3600000 (milliseconds).'],
    [{ shutdown: { exit: 'no' } }, 'shutdown.exit', 'Invalid option `shutdown.exit`: got "no"; allowed: true or false.'],
    [{ server: {} }, 'server', 'Invalid option `server`: got an object; allowed: a node:http or node:https Server.'],
  ])('%o is refused', (options, option, message) => {
    let caught: unknown;
    try {
      resolveOptions(options, env);
    } catch (e) {
      caught = e;
    }
    expect(isPeriscopeError(caught)).toBe(true);
    expect(caught).toMatchObject({ code: 'PERISCOPE_ERR_INVALID_OPTION', option, message: `PERISCOPE_ERR_INVALID_OPTION: ${message}` });
  });

  it('unknown keys are named', () => {
    expect(() => resolveOptions({ health: { path: '/x' } }, env)).toThrow(
      'PERISCOPE_ERR_UNKNOWN_OPTION: Unknown option `health.path`; known options here: health.livePath, health.readyPath, health.healthPath, health.port, health.host, health.timeoutMs, health.cacheMs, health.refreshMs, health.eventLoop, health.auth.',
    );
    expect(() => resolveOptions({ shutdown: { delay: 1 } }, env)).toThrow('PERISCOPE_ERR_UNKNOWN_OPTION: Unknown option `shutdown.delay`');
  });
});

describe('obs.health.register', () => {
  const obs = instrument(createServer(), { routes: ['/'], metrics: false, shutdown: false });

  it.each([
    ['bad name', () => obs.health.register('has space', () => true), 'PERISCOPE_ERR_INVALID_ARGUMENT: health.register(): the name must be a string of letters, digits, "_", "." and "-", 1 to 64 characters, got "has space".'],
    ['not a function', () => obs.health.register('db', 'SELECT 1' as never), 'PERISCOPE_ERR_INVALID_ARGUMENT: health.register(): check "db" must be a function (signal) => result, got "SELECT 1".'],
    ['options not an object', () => obs.health.register('x', () => true, null as never), 'PERISCOPE_ERR_INVALID_ARGUMENT: health.register(): options must be an object with critical, timeoutMs, kind (each optional), got null.'],
    ['bad kind', () => obs.health.register('x', () => true, { kind: 'startup' as never }), 'PERISCOPE_ERR_INVALID_OPTION: Invalid option `health.register("x").kind`: got "startup"; allowed: "readiness" or "liveness".'],
    ['bad timeout', () => obs.health.register('x', () => true, { timeoutMs: -5 }), 'PERISCOPE_ERR_INVALID_OPTION: Invalid option `health.register("x").timeoutMs`: got -5; allowed: an integer from 1 to 600000 (milliseconds).'],
    ['bad critical', () => obs.health.register('x', () => true, { critical: 'yes' as never }), 'PERISCOPE_ERR_INVALID_OPTION: Invalid option `health.register("x").critical`: got "yes"; allowed: true or false.'],
    ['a typo', () => obs.health.register('x', () => true, { critcal: false } as never), 'PERISCOPE_ERR_UNKNOWN_OPTION: Unknown option `health.register("x").critcal`; known options here: critical, timeoutMs, kind.'],
  ])('%s throws', (_what, fn, message) => {
    expect(fn).toThrow(message);
  });

  it('a refused registration adds no check', async () => {
    expect(() => obs.health.register('typo', () => false, { critcal: false } as never)).toThrow('PERISCOPE_ERR_UNKNOWN_OPTION');
    expect((await obs.health.check()).checks.map((c) => c.name)).not.toContain('typo');
  });

  it('a duplicate name throws PERISCOPE_ERR_DUPLICATE_CHECK', () => {
    obs.health.register('db', () => true);
    expect(() => obs.health.register('db', () => true)).toThrow('PERISCOPE_ERR_DUPLICATE_CHECK: A health check named "db" is already registered; each check needs its own name.');
    // The built-in liveness check holds its name too.
    expect(() => obs.health.register('event_loop', () => true)).toThrow('PERISCOPE_ERR_DUPLICATE_CHECK');
  });

  it('with health: false, register is a no-op and no probe is served', async () => {
    const server = createServer((_q, s) => s.end('app\n'));
    const off = instrument(server, { routes: ['/'], metrics: false, shutdown: false, health: false });
    off.health.register('db', () => false);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    expect(await off.health.check()).toEqual({ status: 'healthy', state: 'ready', checks: [] });
    const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/readyz`);
    expect(await res.text()).toBe('app\n');
    await off.shutdown();
  });
});
