import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { instrument } from '../../src/index.js';
import type { Periscope, PeriscopeOptions } from '../../src/index.js';
import { listen } from '../helpers.js';

/** A Fastify app with the console on, logs going nowhere (the console still sees every line). */
export interface ConsoleApp {
  app: FastifyInstance;
  obs: Periscope;
  /** The app's base URL. */
  base: string;
  /** The console's login URL, its origin and its token. */
  url: string;
  origin: string;
  token: string;
  /** GET on the console with the bearer token (or the given headers instead). */
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  json<T = unknown>(path: string): Promise<T>;
  close(): Promise<void>;
}

export async function startConsoleApp(options: PeriscopeOptions = {}): Promise<ConsoleApp> {
  const app = Fastify();
  const obs = instrument(app, { console: true, shutdown: false, logging: { destination: { write() {} } }, ...options });
  app.get('/hello/:name', async (req) => {
    req.log.info({ name: (req.params as { name: string }).name }, 'said hello');
    return { hello: (req.params as { name: string }).name };
  });
  app.get('/fail', async () => {
    throw new Error('handler failed');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = await listen(app.server);
  const url = obs.options.console === false ? 'http://127.0.0.1:1/login?t=' : await obs.consoleUrl();
  const u = new URL(url);
  const token = u.searchParams.get('t')!;
  const get = (path: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }) => fetch(u.origin + path, { headers, redirect: 'manual' });
  return {
    app,
    obs,
    base,
    url,
    origin: u.origin,
    token,
    get,
    json: async <T>(path: string) => (await (await get(path)).json()) as T,
    close: async () => {
      await obs.shutdown();
      await app.close();
    },
  };
}
