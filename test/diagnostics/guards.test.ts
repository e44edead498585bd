import { afterEach, describe, expect, it } from 'vitest';
import { instrument, isPeriscopeError } from '../../src/index.js';
import type { PeriscopeOptions } from '../../src/index.js';
import { createServer } from 'node:http';
import { AUTH, start, TOKEN } from './helpers.js';
import type { Started } from './helpers.js';

const open: Started[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
async function started(options: PeriscopeOptions): Promise<Started> {
  const s = await start(options);
  open.push(s);
  return s;
}

function refusal(options: PeriscopeOptions): unknown {
  try {
    instrument(createServer(), { shutdown: false, logging: false, ...options });
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('diagnostics guards at instrument()', () => {
  it('is off by default: no /debug endpoint', async () => {
    const s = await started({});
    expect(await (await fetch(`${s.app}/debug/resources`)).text()).toBe('app');
    expect(s.obs.options.diagnostics).toBe(false);
  });

  it.each([
    ['on the app port without auth', { stallMs: false }, 'diagnostics.auth', 'on the app port without diagnostics.auth'],
    ['on a port on all interfaces without auth', { port: 0, stallMs: false }, 'diagnostics.host', 'on all interfaces without diagnostics.auth'],
    ['on a port on a public host without auth', { port: 0, host: '0.0.0.0', stallMs: false }, 'diagnostics.host', 'on host "0.0.0.0" without diagnostics.auth'],
  ] as const)('refuses diagnostics %s, naming the option', (_name, diagnostics, option, where) => {
    const error = refusal({ diagnostics });
    expect(isPeriscopeError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'PERISCOPE_ERR_UNGUARDED_DIAGNOSTICS', option });
    expect((error as Error).message).toContain(where);
  });

  it('never echoes a token given as a bare string', () => {
    const error = refusal({ diagnostics: { auth: TOKEN as never } });
    expect(error).toMatchObject({ code: 'PERISCOPE_ERR_INVALID_OPTION', option: 'diagnostics.auth' });
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it.each([
    [{ stallMs: 10 }, 'diagnostics.stallMs'],
    [{ host: '127.0.0.1' }, 'diagnostics.host'],
    [{ prefix: 'debug' }, 'diagnostics.prefix'],
  ])('checks %j', (extra, option) => {
    expect(refusal({ diagnostics: { auth: { bearerToken: TOKEN }, ...extra } })).toMatchObject({ code: 'PERISCOPE_ERR_INVALID_OPTION', option });
  });
});

describe('diagnostics endpoints', () => {
  it('answers 401 without the credential and serves /debug/resources with it', async () => {
    const s = await started({ diagnostics: { auth: { bearerToken: TOKEN }, stallMs: false } });
    for (const path of ['/debug/resources', '/debug/pprof/profile?seconds=1', '/debug/pprof/heap', '/debug/heapsnapshot', '/debug']) {
      const res = await fetch(`${s.diag}${path}`);
      expect(res.status).toBe(401);
      expect(await res.text()).toBe('Unauthorized\n');
    }
    const res = await fetch(`${s.diag}/debug/resources`, { headers: AUTH });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      pid: number;
      running: string | null;
      active_resources: { by_type: Record<string, number> };
      event_loop: { delay: object };
      memory: object;
      versions: Record<string, string>;
    };
    expect(Object.keys(body)).toEqual(['pid', 'running', 'uptime_seconds', 'active_resources', 'event_loop', 'memory', 'open_fds', 'versions']);
    expect(body.pid).toBe(process.pid);
    expect(body.running).toBe(null);
    expect(body.active_resources.by_type.TCPServerWrap).toBeGreaterThanOrEqual(1);
    expect(Object.keys(body.event_loop.delay)).toEqual(['min_ms', 'mean_ms', 'p50_ms', 'p90_ms', 'p99_ms', 'max_ms', 'samples']);
    expect(Object.keys(body.memory)).toEqual(['rss_bytes', 'heap_total_bytes', 'heap_used_bytes', 'external_bytes', 'array_buffers_bytes']);
    expect(body.versions.node).toBe(process.versions.node);
    // The app's own routes stay open.
    expect(await (await fetch(`${s.app}/`)).text()).toBe('app');
  });

  it('serves on a loopback management port without auth', async () => {
    const s = await started({ diagnostics: { port: 0, host: '127.0.0.1', stallMs: false } });
    expect(s.diag).not.toBe(s.app);
    expect((await fetch(`${s.diag}/debug/resources`)).status).toBe(200);
    expect(await (await fetch(`${s.app}/debug/resources`)).text()).toBe('app');
  });

  it.each([
    ['0', '"0"'],
    ['61', '"61"'],
    ['abc', '"abc"'],
    ['1.5', '"1.5"'],
  ])('answers 400 to seconds=%s, saying what is allowed', async (value, shown) => {
    const s = await started({ diagnostics: { auth: { bearerToken: TOKEN }, stallMs: false } });
    for (const path of ['/debug/pprof/profile', '/debug/pprof/heap']) {
      const res = await fetch(`${s.diag}${path}?seconds=${value}`, { headers: AUTH });
      expect(res.status).toBe(400);
      expect(await res.text()).toBe(`seconds must be an integer from 1 to 60 (default 10); got ${shown}\n`);
    }
  });

  it('answers 400 to an unknown format', async () => {
    const s = await started({ diagnostics: { auth: { bearerToken: TOKEN }, stallMs: false } });
    const res = await fetch(`${s.diag}/debug/pprof/profile?seconds=1&format=svg`, { headers: AUTH });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('format must be pprof (the default) or cpuprofile; got "svg"\n');
  });

  it('runs one profile at a time: a second concurrent one gets 409 naming the first', async () => {
    const s = await started({ diagnostics: { auth: { bearerToken: TOKEN }, stallMs: false } });
    const first = fetch(`${s.diag}/debug/pprof/profile?seconds=1`, { headers: AUTH });
    // The second is sent once the first holds the slot, as /debug/resources shows.
    const running = async () => ((await (await fetch(`${s.diag}/debug/resources`, { headers: AUTH })).json()) as { running: string | null }).running;
    while ((await running()) === null) await new Promise((resolve) => setImmediate(resolve));
    expect(await running()).toBe('CPU profile (1 s)');
    const second = await fetch(`${s.diag}/debug/pprof/heap?seconds=1`, { headers: AUTH });
    expect(second.status).toBe(409);
    expect(await second.text()).toMatch(/^A CPU profile \(1 s\) is running \(started \d+\.\d s ago\); one profile or snapshot at a time\. Try again when it ends\.\n$/);
    const snapshot = await fetch(`${s.diag}/debug/heapsnapshot`, { headers: AUTH });
    expect(snapshot.status).toBe(409);
    await snapshot.text();
    expect((await first).status).toBe(200);
    await (await first).arrayBuffer();
  });

  it('logs every request: who, what, status and duration', async () => {
    const s = await started({ diagnostics: { auth: { username: 'ops', password: 'pa55word' }, stallMs: false } });
    const basic = `Basic ${Buffer.from('ops:pa55word').toString('base64')}`;
    await (await fetch(`${s.diag}/debug/resources?x=1`, { headers: { authorization: basic } })).text();
    await (await fetch(`${s.diag}/debug/resources`)).text();
    await new Promise((resolve) => setImmediate(resolve));
    const lines = s.logs.lines.filter((l) => l.diagnostics !== undefined);
    expect(lines.map((l) => [l.diagnostics, l.who, l.status, typeof l.duration_ms, l.level])).toEqual([
      ['/debug/resources?x=1', 'ops@127.0.0.1', 200, 'number', 'info'],
      ['/debug/resources', '127.0.0.1', 401, 'number', 'info'],
    ]);
    expect(s.logs.raw.join('')).not.toContain('pa55word');
  });
});
