import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { attachAdapter } from '../../src/adapters/index.js';
import type { Framework } from '../../src/adapters/index.js';
import { Core, Endpoints, ManagementServers } from '../../src/core/index.js';
import { listen } from '../helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

type Reported = [string, string];

/** Endpoints with one handler that throws synchronously and one that rejects, and what they reported. */
function failingEndpoints() {
  const reported: Reported[] = [];
  const endpoints = new Endpoints((error, w) => reported.push([(error as Error).message, w]));
  endpoints.add('/sync', () => {
    throw new Error('thrown synchronously');
  });
  endpoints.add('/async', async () => {
    throw new Error('rejected');
  });
  endpoints.add('/ok', (_req: IncomingMessage, res: ServerResponse) => void res.end('fine\n'));
  return { endpoints, reported };
}

async function expectFailures(base: string, reported: Reported[], where: string): Promise<void> {
  const sync = await fetch(`${base}/sync`);
  expect([sync.status, await sync.text()]).toEqual([500, 'Internal Server Error\n']);
  const rejected = await fetch(`${base}/async`);
  expect([rejected.status, await rejected.text()]).toEqual([500, 'Internal Server Error\n']);
  const ok = await fetch(`${base}/ok`);
  expect([ok.status, await ok.text()]).toEqual([200, 'fine\n']);
  expect(reported).toEqual([
    ['thrown synchronously', where],
    ['rejected', where],
  ]);
}

describe('one way to serve periscope endpoints: a throwing or rejecting handler answers 500 and is reported', () => {
  const apps: Record<Framework, () => { app: unknown; start: () => Promise<string> }> = {
    'node-http': () => {
      const server = createServer((_req, res) => res.end('app\n'));
      cleanups.push(() => server.close());
      return { app: server, start: () => listen(server) };
    },
    express: () => {
      const app = express();
      const server = createServer(app);
      cleanups.push(() => server.close());
      return { app, start: () => listen(server) };
    },
    fastify: () => {
      const app = Fastify();
      cleanups.push(() => app.close());
      return { app, start: () => app.listen({ port: 0, host: '127.0.0.1' }) };
    },
  };

  it.each(['node-http', 'express', 'fastify'] as const)('%s (in-band)', async (framework) => {
    const { app, start } = apps[framework]();
    const { endpoints, reported } = failingEndpoints();
    const report = () => {};
    attachAdapter(framework, app, { routes: ['/'], routeOf: undefined }, {
      createCore: (resolveRoute) => new Core({ hooks: [], resolveRoute, report }),
      endpoints,
      trackServer: () => {},
      report,
      notice: () => {},
      logging: undefined,
    });
    await expectFailures(await start(), reported, 'endpoint');
  });

  it('a management server', async () => {
    const reported: Reported[] = [];
    const management = new ManagementServers((error, w) => reported.push([(error as Error).message, w]));
    const { endpoints } = failingEndpoints();
    const served = management.endpointsFor(0, '127.0.0.1', 'test');
    for (const [path, handler] of endpoints.entries()) served.add(path, handler);
    management.listen();
    cleanups.push(() => management.close());
    const address = (await management.address('test'))!;
    await expectFailures(`http://127.0.0.1:${address.port}`, reported, 'management-endpoint');
    expect((await fetch(`http://127.0.0.1:${address.port}/elsewhere`)).status).toBe(404);
  });
});
