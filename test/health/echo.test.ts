import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpCheck } from '../../src/index.js';
import { captureLogs, closedPort, get, startNodeApp } from './helpers.js';
import type { Started } from './helpers.js';

// Issue 16, item 3: nothing a check says, nor anything a request sends, reaches /healthz, the
// text probes or the status-change log lines with a credential, a newline or a control character.

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function app(options: Parameters<typeof startNodeApp>[0] = {}): Promise<Started> {
  const a = await startNodeApp({ health: { eventLoop: false, cacheMs: 0 }, ...options });
  cleanups.push(() => a.close());
  return a;
}

const DRIVER_ERROR = 'connect ECONNREFUSED postgres://app:s3cr3t@db:5432/orders\n[+]fake_db ok';
const SAFE_ERROR = 'connect ECONNREFUSED postgres://******@db:5432/orders\\n[+]fake_db ok';

describe('check messages pass the sanitizer once, wherever they are shown', () => {
  it('a driver error: masked and escaped in /readyz, /readyz?verbose, /healthz and the log line', async () => {
    const logs = captureLogs();
    const a = await app({ logging: logs.logging });
    a.obs.health.register('db', () => Promise.reject(new Error(DRIVER_ERROR)));
    a.obs.health.register('cache', () => ({ status: 'degraded', message: 'token=abc \u001b[2J', details: { dsn: 'redis://:hunter2@cache:6379', pool: 3 } }));

    const ready = await get(`${a.base}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body).toBe(`[+]lifecycle ok\n[-]db failed: ${SAFE_ERROR}\n[~]cache degraded: token=****** \\u001b[2J\nreadyz check failed\n`);
    expect((await get(`${a.base}/readyz?verbose`)).body).toBe(ready.body);

    const healthz = JSON.parse((await get(`${a.base}/healthz`)).body) as { checks: Record<string, { message: string; details?: unknown }> };
    expect(healthz.checks.db!.message).toBe(SAFE_ERROR);
    expect(healthz.checks.cache!.message).toBe('token=****** \\u001b[2J');
    expect(healthz.checks.cache!.details).toEqual({ dsn: 'redis://******@cache:6379', pool: 3 });

    const lines = logs.lines.filter((l) => l.check === 'db');
    expect(lines.map((l) => [l.msg, l.message])).toEqual([['health check failed', SAFE_ERROR]]);
  });

  it('a message past 512 bytes is cut and marked', async () => {
    const a = await app();
    a.obs.health.register('big', () => ({ status: 'unhealthy', message: 'x'.repeat(100_000) }));
    const healthz = JSON.parse((await get(`${a.base}/healthz`)).body) as { checks: Record<string, { message: string }> };
    expect(healthz.checks.big!.message).toBe(`${'x'.repeat(498)}…[truncated]`);
  });

  it('a startup task name and error are escaped in the lifecycle line', async () => {
    const a = await app();
    a.obs.health.startup('migrate\n[+]db ok', Promise.reject(new Error('postgres://u:p@h/d')));
    await new Promise((r) => setImmediate(r));
    expect((await get(`${a.base}/readyz`)).body).toBe('[-]lifecycle failed: startup task migrate\\n[+]db ok failed\nreadyz check failed\n');
  });
});

describe('what a request sends is escaped before it is echoed', () => {
  it('?exclude=x%0A%5B%2B%5Dfake_db%20ok cannot forge a [+]fake_db ok line', async () => {
    const a = await app();
    a.obs.health.register('db', () => ({ status: 'unhealthy', message: 'down' }));
    const res = await get(`${a.base}/readyz?verbose&exclude=x%0A%5B%2B%5Dfake_db%20ok`);
    expect(res.status).toBe(503);
    expect(res.body).toBe('[+]lifecycle ok\n[-]db failed: down\n[x]x\\n[+]fake_db ok excluded\nreadyz check failed\n');
    expect(res.body.split('\n')).not.toContain('[+]fake_db ok');
  });

  it('an unknown per-check path is escaped and capped in the 404', async () => {
    const a = await app();
    const res = await get(`${a.base}/livez/a%0D%0A%5B%2B%5Db%E2%80%AE${'z'.repeat(300)}`);
    expect(res.status).toBe(404);
    expect(res.body).toBe(`no livez check named "a\\r\\n[+]b\\u202e${'z'.repeat(128 - 15 - 14)}…[truncated]"\n`);
  });
});

describe('httpCheck with credentials in the URL', () => {
  async function dependency(status = 200): Promise<{ base: string; seen: IncomingHttpHeaders[] }> {
    const seen: IncomingHttpHeaders[] = [];
    const dep = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(req.headers.authorization === `Basic ${Buffer.from('admin:p@ss:w').toString('base64')}` ? status : 401).end();
    });
    await new Promise<void>((r) => dep.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => dep.close(r)));
    return { base: `127.0.0.1:${(dep.address() as AddressInfo).port}`, seen };
  }

  it('sends them as a Basic Authorization header, so the check still authenticates', async () => {
    const dep = await dependency();
    const a = await app();
    a.obs.health.register('upstream', httpCheck(`http://admin:p%40ss%3Aw@${dep.base}/health`));
    const res = await get(`${a.base}/readyz?verbose`);
    expect(res.body).toBe('[+]lifecycle ok\n[+]upstream ok\nreadyz check passed\n');
    expect(dep.seen.map((h) => h.authorization)).toEqual([`Basic ${Buffer.from('admin:p@ss:w').toString('base64')}`]);
  });

  it('an Authorization header given in the options wins over the URL', async () => {
    const dep = await dependency();
    const a = await app();
    a.obs.health.register('upstream', httpCheck(`http://admin:pw@${dep.base}/health`, { headers: { Authorization: 'Bearer t' } }));
    expect((await get(`${a.base}/healthz`)).status).toBe(200);
    expect(dep.seen.map((h) => h.authorization)).toEqual(['Bearer t']);
  });

  it('never echoes them: not in /healthz, the probes, nor the thrown error of a bad URL', async () => {
    const dep = await dependency(502);
    const gone = await closedPort();
    const a = await app();
    a.obs.health.register('upstream', httpCheck(`http://admin:p%40ss%3Aw@${dep.base}/health`));
    a.obs.health.register('gone', httpCheck(`http://admin:pw@127.0.0.1:${gone}/health`));
    const verbose = await get(`${a.base}/readyz?verbose`);
    expect(verbose.body).toBe(`[+]lifecycle ok\n[~]upstream degraded: HTTP 502\n[-]gone failed: connect ECONNREFUSED 127.0.0.1:${gone}\nreadyz check failed\n`);
    const healthz = (await get(`${a.base}/healthz`)).body;
    expect(healthz).not.toMatch(/pw|p%40ss|admin/);
    expect(() => httpCheck('ftp://admin:pw@host/')).toThrow(
      'PERISCOPE_ERR_INVALID_ARGUMENT: httpCheck(): the url must be an absolute http:// or https:// URL, got "ftp://******@host/".',
    );
  });
});
