import { afterEach, describe, expect, it } from 'vitest';
import { RunningChild } from './child-process.js';
import { scrape, value } from './helpers.js';

let child: RunningChild | undefined;
afterEach(async () => {
  // Waits until the child exited and its stdout was read to the end (see RunningChild).
  await child?.stop();
  child = undefined;
});

/** Starts a demo on a free port and returns the base URL it prints. */
async function startDemo(script: string): Promise<{ base: string; banner: string }> {
  // No HOST: the demo binds to loopback by default, and its banner says so.
  child = new RunningChild(process.execPath, [script], { env: { ...process.env, PORT: '0', HOST: undefined } });
  const banner = await child.until('metrics:');
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
    // Its request lines reached a reader that was still there: no failed log destination.
    await child!.stop();
    expect(child!.stdout).toContain('"msg":"request completed"');
    expect(child!.stderr).not.toContain('PERISCOPE_INTERNAL_ERROR');
  });
});
