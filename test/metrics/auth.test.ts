import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { instrument, isPeriscopeError } from '../../src/index.js';
import type { PeriscopeOptions } from '../../src/index.js';
import { listen, parseExposition, value } from '../helpers.js';

const servers: { close(): void; closeAllConnections(): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

async function start(options: PeriscopeOptions): Promise<string> {
  const server = createServer((_req, res) => res.end('app'));
  const obs = instrument(server, { routes: ['/'], ...options });
  servers.push(server);
  if (obs.managementServer !== undefined) servers.push(obs.managementServer);
  const base = await listen(server);
  const address = await obs.managementAddress();
  return address === undefined ? base : `http://127.0.0.1:${address.port}`;
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('protected metrics endpoint', () => {
  it.each([
    ['no credential', undefined],
    ['a wrong token', 'Bearer not-the-token'],
    ['a token with a different length', 'Bearer s3cr3t-token-and-more'],
    ['the wrong scheme', basic('prom', 's3cr3t-token')],
    ['a header too large to consider', `Bearer ${'x'.repeat(5000)}`],
  ])('answers 401 with a challenge and nothing else to %s', async (_name, authorization) => {
    const base = await start({ metrics: { auth: { bearerToken: 's3cr3t-token' } } });
    const res = await fetch(`${base}/metrics`, { headers: authorization === undefined ? {} : { authorization } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="periscope"');
    expect(await res.text()).toBe('Unauthorized\n');
  });

  it('serves the exposition to the right bearer token, the scheme in any case', async () => {
    const base = await start({ metrics: { auth: { bearerToken: 's3cr3t-token' } } });
    await fetch(`${base}/`).then((r) => r.text());
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await fetch(`${base}/metrics`, { headers: { authorization: `${scheme} s3cr3t-token` } });
      expect(res.status).toBe(200);
      expect(value(await parseExposition(await res.text()), 'http_requests_total', { route: '/' })).toBe(1);
    }
    // The app itself stays open.
    expect(await (await fetch(`${base}/`)).text()).toBe('app');
  });

  it('checks basic-auth credentials on a management port', async () => {
    const base = await start({ metrics: { port: 0, host: '127.0.0.1', auth: { username: 'prometheus', password: 'pa55:word' } } });
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: basic('prometheus', 'nope') } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Basic realm="periscope", charset="UTF-8"');
    const right = await fetch(`${base}/metrics`, { headers: { authorization: basic('prometheus', 'pa55:word') } });
    expect(right.status).toBe(200);
    expect(right.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it.each([
    [{ bearerToken: '' }],
    [{ bearerToken: 'has space' }],
    [{ username: 'sec:ret', password: 'hunter2xyz' }],
    [{ username: 'lonelyuser' }],
    [{ bearerToken: 'tok3n-abc', username: 'us3r-abc', password: 'pa55-abc' }],
    ['just-a-token'],
  ])('rejects bad credentials options without echoing them: %j', (auth) => {
    try {
      instrument(createServer(), { routes: ['/'], metrics: { auth: auth as never } });
      throw new Error('expected a PeriscopeError');
    } catch (error) {
      expect(isPeriscopeError(error) && error.code).toBe('PERISCOPE_ERR_INVALID_OPTION');
      expect((error as Error).message).toContain('Invalid option `metrics.auth`: got "[credentials hidden]"');
      for (const secret of typeof auth === 'string' ? [auth] : Object.values(auth)) if (secret !== '') expect((error as Error).message).not.toContain(secret);
    }
  });
});
