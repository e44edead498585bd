import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import Fastify from 'fastify';
import { instrument } from '../../src/index.js';
import type { Periscope, PeriscopeOptions } from '../../src/index.js';
import { closeServer, listen } from './helpers.js';

export type Framework = 'fastify' | 'express' | 'node-http';
export const FRAMEWORKS: Framework[] = ['fastify', 'express', 'node-http'];

export interface TestApp {
  url: string;
  obs: Periscope;
  close(): Promise<void>;
}

/** What a handler saw as the active span, after an await. */
function activeIds(): { traceId: string; spanId: string } | null {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc === undefined ? null : { traceId: sc.traceId, spanId: sc.spanId };
}

export interface AppHooks {
  /** Runs inside GET /users/:id, after an await; its result is returned in the body as `extra`. */
  inUsers?: (obs: Periscope) => Promise<unknown>;
}

/**
 * The same small service on each framework: GET /users/:id (200), GET /boom (thrown error or
 * plain 500 on node:http), GET /unavailable (503), POST /echo (reads a body, then reports the
 * active span).
 */
export async function startApp(framework: Framework, options: PeriscopeOptions, hooks: AppHooks = {}): Promise<TestApp> {
  let obs!: Periscope;
  const users = async (): Promise<unknown> => {
    await sleep(1);
    const extra = hooks.inUsers === undefined ? null : await hooks.inUsers(obs);
    return { active: activeIds(), extra };
  };
  if (framework === 'fastify') {
    const app = Fastify();
    obs = instrument(app, options);
    app.get('/users/:id', users);
    app.get('/boom', async () => {
      await sleep(1);
      throw new TypeError('kaboom');
    });
    app.get('/client-error', async () => {
      throw Object.assign(new Error('bad input'), { statusCode: 400 });
    });
    app.get('/unavailable', async (_req, reply) => reply.code(503).send('no'));
    app.post('/echo', async () => {
      await sleep(1);
      return { active: activeIds() };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: await listen(app.server), obs, close: () => app.close() };
  }
  if (framework === 'express') {
    const app = express();
    obs = instrument(app, options);
    app.use(express.json());
    app.get('/users/:id', async (_req: Request, res: Response) => {
      res.json(await users());
    });
    app.get('/boom', async () => {
      await sleep(1);
      throw new TypeError('kaboom');
    });
    app.get('/client-error', () => {
      throw Object.assign(new Error('bad input'), { status: 400 });
    });
    app.get('/unavailable', (_req: Request, res: Response) => {
      res.status(503).send('no');
    });
    app.post('/echo', async (_req: Request, res: Response) => {
      await sleep(1);
      res.json({ active: activeIds() });
    });
    // The user's own error handler answers without passing the error on.
    app.use((error: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
      res.status(error.status ?? 500).json({ error: error.message });
    });
    const server = createServer(app);
    const url = await listen(server);
    return { url, obs, close: () => closeServer(server) };
  }
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url?.split('?')[0];
    if (path?.startsWith('/users/')) {
      void users().then((body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)));
    } else if (path === '/boom') {
      res.writeHead(500).end('boom');
    } else if (path === '/unavailable') {
      res.writeHead(503).end('no');
    } else if (path === '/echo') {
      // Callback-style body reading: the 'end' listener must still see the request span.
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ active: activeIds() }));
      });
    } else {
      res.writeHead(404).end();
    }
  });
  obs = instrument(server, { routes: ['/users/:id', '/boom', '/unavailable', '/echo'], ...options });
  const url = await listen(server);
  return { url, obs, close: () => closeServer(server) };
}
