import { request } from 'node:http';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import { instrument, isPeriscopeError } from '../../src/index.js';
import { listen } from '../helpers.js';
import { hostAllowed } from '../../src/console/auth.js';
import { startConsoleApp } from './helpers.js';
import type { ConsoleApp } from './helpers.js';

/** A raw GET, so that the Host header is exactly the one given (fetch sets its own). */
function rawGet(origin: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers, setHost: headers.host === undefined }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console security', () => {
  let c: ConsoleApp;
  beforeAll(async () => {
    c = await startConsoleApp();
  });
  afterAll(() => c.close());

  it('listens on 127.0.0.1 only, and its URL is /login with a 256-bit token', () => {
    const u = new URL(c.url);
    expect(u.hostname).toBe('127.0.0.1');
    expect(u.pathname).toBe('/login');
    expect(c.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('answers 401 without a token, with a wrong token, and to a wrong login', async () => {
    for (const path of ['/', '/app.js', '/api/state', '/api/events', '/api/traces']) {
      expect((await c.get(path, {})).status).toBe(401);
    }
    expect((await c.get('/api/state', { authorization: `Bearer ${c.token}x` })).status).toBe(401);
    expect((await c.get('/api/state', { cookie: `periscope_console=${c.token.slice(1)}` })).status).toBe(401);
    expect((await c.get('/login?t=nope', {})).status).toBe(401);
    expect((await c.get('/login', {})).status).toBe(401);
  });

  it('answers 403 to a Host that is not the console (DNS rebinding), token or not', async () => {
    const port = new URL(c.origin).port;
    const bearer = { authorization: `Bearer ${c.token}` };
    expect((await rawGet(c.origin, '/api/state', { ...bearer, host: 'evil.example' })).status).toBe(403);
    expect((await rawGet(c.origin, '/api/state', { ...bearer, host: `evil.example:${port}` })).status).toBe(403);
    expect((await rawGet(c.origin, '/api/state', { ...bearer, host: '127.0.0.1:1' })).status).toBe(403);
    expect((await rawGet(c.origin, `/login?t=${c.token}`, { host: `evil.example:${port}` })).status).toBe(403);
    expect((await rawGet(c.origin, '/api/state', { ...bearer, host: `localhost:${port}` })).status).toBe(200);
    expect((await rawGet(c.origin, '/api/state', { ...bearer, host: `127.0.0.1:${port}` })).status).toBe(200);
  });

  it('the login sets an HttpOnly, SameSite=Strict cookie and sends the page away from the token', async () => {
    const res = await c.get(`/login?t=${c.token}`, {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    expect(res.headers.get('set-cookie')).toBe(`periscope_console=${c.token}; HttpOnly; SameSite=Strict; Path=/`);
    const page = await c.get('/', { cookie: `other=1; periscope_console=${c.token}` });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="module" src="/app.js"></script>');
  });

  it('sends its Content-Security-Policy and no-store on every answer, 401 and 403 included', async () => {
    const port = new URL(c.origin).port;
    const answers = [
      await rawGet(c.origin, '/', { host: `127.0.0.1:${port}` }),
      await rawGet(c.origin, '/', { host: 'evil.example' }),
      await rawGet(c.origin, '/app.js', { host: `127.0.0.1:${port}`, authorization: `Bearer ${c.token}` }),
      await rawGet(c.origin, '/api/state', { host: `127.0.0.1:${port}`, authorization: `Bearer ${c.token}` }),
    ];
    expect(answers.map((a) => a.status)).toEqual([401, 403, 200, 200]);
    for (const a of answers) {
      expect(a.headers['content-security-policy']).toBe("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
      expect(a.headers['cache-control']).toBe('no-store');
      expect(a.headers['x-content-type-options']).toBe('nosniff');
    }
    expect(answers[2]!.headers['content-type']).toBe('text/javascript; charset=utf-8');
  });

  it('serves nothing but GET and HEAD', async () => {
    const res = await fetch(`${c.origin}/api/state`, { method: 'POST', headers: { authorization: `Bearer ${c.token}` } });
    expect(res.status).toBe(405);
  });

  it('renders with textContent only: the script never writes HTML', async () => {
    const js = await (await c.get('/app.js')).text();
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    expect(js).toContain('textContent');
  });
});

describe('console off', () => {
  it('is off by default: consoleUrl() rejects with PERISCOPE_ERR_CONSOLE_OFF', async () => {
    const app = Fastify();
    const obs = instrument(app, { shutdown: false, logging: false });
    const error = await obs.consoleUrl().catch((e: unknown) => e);
    expect(isPeriscopeError(error) && error.code).toBe('PERISCOPE_ERR_CONSOLE_OFF');
    await app.close();
  });

  it('taps nothing when off: with no exporter, request spans stay the light non-recording ones; on, the SDK records them', async () => {
    for (const on of [false, true]) {
      const app = Fastify();
      const obs = instrument(app, { shutdown: false, logging: false, console: on });
      app.get('/span', async () => ({ recording: trace.getActiveSpan()?.isRecording() }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      const base = await listen(app.server);
      expect(await (await fetch(`${base}/span`)).json()).toEqual({ recording: on });
      await obs.shutdown();
      await app.close();
    }
  });
});

describe('hostAllowed', () => {
  it('takes loopback names on the console port only, and listed names on any port', () => {
    const table: [string | undefined, boolean][] = [
      ['127.0.0.1:3938', true],
      ['localhost:3938', true],
      ['LOCALHOST:3938', true],
      ['[::1]:3938', true],
      ['127.0.0.1', false],
      ['127.0.0.1:80', false],
      ['[::1]', false],
      ['tunnel.example', true],
      ['tunnel.example:443', true],
      ['tunnel.example:3938', true],
      ['evil.example', false],
      ['evil.example:3938', false],
      ['tunnel.example.evil.example', false],
      ['[::1', false],
      ['[::1]x', false],
      [undefined, false],
      ['a'.repeat(400), false],
    ];
    expect(table.map(([host]) => [host, hostAllowed(host, 3938, ['tunnel.example'])])).toEqual(table);
  });
});
