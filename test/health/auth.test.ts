import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { instrument, isPeriscopeError } from '../../src/index.js';
import { get, startNodeApp } from './helpers.js';
import type { Started } from './helpers.js';

// health.auth: the details (verbose lines, per-check messages, /healthz's checks) need the
// credentials; the status codes Kubernetes reads stay open.

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const TOKEN = 'h3alth-t0ken';
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

async function app(auth: unknown = { bearerToken: TOKEN }, port?: number): Promise<Started & { probes: string }> {
  const a = await startNodeApp({ health: { eventLoop: false, cacheMs: 0, auth: auth as never, ...(port === undefined ? {} : { port, host: '127.0.0.1' }) } });
  cleanups.push(() => a.close());
  a.obs.health.register('db', () => ({ status: 'unhealthy', message: 'password=hunter2 refused' }));
  a.obs.health.register('cache', () => ({ status: 'degraded', message: 'slow' }), { critical: false });
  const address = await a.obs.managementAddress();
  return { ...a, probes: address === undefined ? a.base : `http://127.0.0.1:${address.port}` };
}

async function fetchText(url: string, authorization?: string): Promise<{ status: number; body: string; challenge: string | null }> {
  const res = await fetch(url, { headers: authorization === undefined ? {} : { authorization } });
  return { status: res.status, body: await res.text(), challenge: res.headers.get('www-authenticate') };
}

describe('health.auth', () => {
  it('without credentials: every status code as before, bodies without details', async () => {
    const a = await app();
    const cases: [string, number, string][] = [
      ['/livez', 200, 'ok\n'],
      ['/readyz', 503, 'readyz check failed\n'],
      ['/readyz?verbose', 503, 'readyz check failed\n'],
      ['/readyz?exclude=db', 200, 'degraded\n'],
      ['/readyz?verbose&exclude=db', 200, 'degraded\n'],
      ['/readyz/db', 503, 'failed\n'],
      ['/readyz/cache', 200, 'degraded\n'],
      ['/healthz', 503, '{"status":"unhealthy"}'],
    ];
    for (const [path, status, body] of cases) expect([path, await fetchText(`${a.probes}${path}`)]).toEqual([path, { status, body, challenge: null }]);
  });

  it('with the right credentials: the details, as without health.auth', async () => {
    const a = await app();
    const bearer = `Bearer ${TOKEN}`;
    expect(await fetchText(`${a.probes}/readyz?verbose`, bearer)).toEqual({
      status: 503,
      body: '[+]lifecycle ok\n[-]db failed: password=****** refused\n[~]cache degraded: slow\nreadyz check failed\n',
      challenge: null,
    });
    expect(await fetchText(`${a.probes}/readyz`, bearer)).toMatchObject({ status: 503, body: '[+]lifecycle ok\n[-]db failed: password=****** refused\n[~]cache degraded: slow\nreadyz check failed\n' });
    expect(await fetchText(`${a.probes}/readyz/db`, bearer)).toMatchObject({ status: 503, body: '[-]db failed: password=****** refused\n' });
    const healthz = await fetchText(`${a.probes}/healthz`, bearer);
    expect(healthz.status).toBe(503);
    const body = JSON.parse(healthz.body) as { state: string; checks: Record<string, { message: string }> };
    expect([body.state, body.checks.db!.message, body.checks.cache!.message]).toEqual(['ready', 'password=****** refused', 'slow']);
  });

  it.each([
    ['a wrong token', 'Bearer not-it'],
    ['the wrong scheme', basic('x', TOKEN)],
    ['a header too large to consider', `Bearer ${'x'.repeat(5000)}`],
  ])('with %s: 401 where details are asked for, the bare status where they are not', async (_name, authorization) => {
    const a = await app();
    const refused = { status: 401, body: 'Unauthorized\n', challenge: 'Bearer realm="periscope"' };
    for (const path of ['/readyz?verbose', '/livez?verbose', '/readyz/db', '/healthz']) expect([path, await fetchText(`${a.probes}${path}`, authorization)]).toEqual([path, refused]);
    expect(await fetchText(`${a.probes}/readyz`, authorization)).toEqual({ status: 503, body: 'readyz check failed\n', challenge: null });
    expect(await fetchText(`${a.probes}/livez`, authorization)).toEqual({ status: 200, body: 'ok\n', challenge: null });
  });

  it('basic credentials on a management port', async () => {
    const a = await app({ username: 'ops', password: 'pa55:word' }, 0);
    expect(await fetchText(`${a.probes}/readyz?verbose`, basic('ops', 'nope'))).toEqual({ status: 401, body: 'Unauthorized\n', challenge: 'Basic realm="periscope", charset="UTF-8"' });
    expect((await fetchText(`${a.probes}/readyz?verbose`, basic('ops', 'pa55:word'))).body).toBe(
      '[+]lifecycle ok\n[-]db failed: password=****** refused\n[~]cache degraded: slow\nreadyz check failed\n',
    );
    expect((await get(`${a.probes}/readyz`)).status).toBe(503);
  });

  it.each([
    [{ bearerToken: '' }],
    [{ bearerToken: 'has space' }],
    [{ username: 'sec:ret', password: 'hunter2xyz' }],
    [{ username: 'lonelyuser' }],
    [{ bearerToken: 'tok3n-abc', username: 'us3r-abc', password: 'pa55-abc' }],
    ['just-a-token'],
  ])('rejects bad credentials options as metrics.auth does, without echoing them: %j', (auth) => {
    try {
      instrument(createServer(), { routes: ['/'], health: { auth: auth as never } });
      throw new Error('expected a PeriscopeError');
    } catch (error) {
      expect(isPeriscopeError(error) && error.code).toBe('PERISCOPE_ERR_INVALID_OPTION');
      expect((error as Error).message).toBe(
        'PERISCOPE_ERR_INVALID_OPTION: Invalid option `health.auth`: got "[credentials hidden]"; allowed: { bearerToken } or { username, password } with non-empty visible-ASCII strings (username without ":").',
      );
    }
  });
});
