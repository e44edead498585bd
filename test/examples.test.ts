import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { scrape, value } from './helpers.js';

let child: ChildProcess | undefined;
afterEach(async () => {
  if (child !== undefined && child.exitCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  child = undefined;
});

/** Starts a demo on a free port and returns the base URL it prints. */
async function startDemo(script: string): Promise<{ base: string; banner: string }> {
  child = spawn(process.execPath, [script], { env: { ...process.env, PORT: '0', HOST: undefined }, stdio: ['ignore', 'pipe', 'inherit'] });
  let banner = '';
  for await (const chunk of child.stdout!) {
    banner += String(chunk);
    if (banner.includes('metrics:')) break;
  }
  const base = /service:\s+(http:\/\/localhost:\d+)\//.exec(banner)?.[1];
  if (base === undefined) throw new Error(`demo printed no URL: ${banner}`);
  return { base, banner };
}

describe.each([
  ['fastify', 'examples/fastify.mjs', '/hello/:name'],
  ['express', 'examples/express.mjs', '/hello/:name'],
])('%s demo', (framework, script) => {
  it('serves its routes and its metrics, and prints its URLs', async () => {
    const { base, banner } = await startDemo(script);
    // No HOST: loopback only, so the demo is not reachable from other machines by default.
    expect(banner).toContain(`periscope demo (${framework}) listening on 127.0.0.1:${new URL(base).port} (HOST, PORT)`);
    expect(banner).toContain(`${base}/metrics`);
    expect(await (await fetch(`${base}/hello/world`)).json()).toEqual({ hello: 'world' });
    expect(await (await fetch(`${base}/slow?ms=30`)).json()).toEqual({ waitedMs: 30 });
    expect((await fetch(`${base}/fail`)).status).toBe(500);
    if (framework === 'express') expect(await (await fetch(`${base}/api/v1/users/42`)).json()).toEqual({ id: '42', name: 'user 42' });
    const { metrics } = await scrape(base);
    expect(value(metrics, 'http_requests_total', { route: '/hello/:name', status_code: '200' })).toBe(1);
    expect(value(metrics, 'http_requests_total', { route: '/slow', status_code: '200' })).toBe(1);
    expect(value(metrics, 'http_requests_total', { route: '/fail', status_code: '500' })).toBe(1);
    if (framework === 'express') expect(value(metrics, 'http_requests_total', { route: '/api/v1/users/:id', status_code: '200' })).toBe(1);
    expect(value(metrics, 'app_build_info', { service: `periscope-demo-${framework}` })).toBe(1);
  });
});
