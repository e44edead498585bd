/**
 * The client address on the request log line and on the SERVER span comes from the framework's
 * own proxy-aware resolution (Fastify `request.ip` under `trustProxy`, Express `req.ip` under
 * `trust proxy`), never from X-Forwarded-For the app does not trust; node:http uses the socket.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { instrument } from '../../src/index.js';
import type { Periscope } from '../../src/index.js';
import { Capture, settle, track } from '../logging/helpers.js';
import { fastExport, Receiver } from '../tracing/helpers.js';

const FORWARDED = { 'x-forwarded-for': '198.51.100.9, 203.0.113.7' };

let receiver: Receiver;
let endpoint: string;
beforeAll(async () => {
  receiver = new Receiver();
  endpoint = await receiver.start();
});
afterAll(() => receiver.close());

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
  receiver.spans.length = 0;
});

interface Started {
  base: string;
  server: Server;
  obs: Periscope;
  capture: Capture;
}

type Setup = 'fastify' | 'fastify trustProxy: true' | 'fastify trustProxy: 127.0.0.1' | 'express' | "express 'trust proxy': true" | "express 'trust proxy': 'loopback'" | 'node-http';

async function start(setup: Setup, { tracing = true }: { tracing?: boolean } = {}): Promise<Started> {
  const capture = new Capture();
  const options = { metrics: false, logging: { destination: capture }, tracing: tracing ? fastExport(endpoint) : false } as const;
  let server: Server;
  let obs: Periscope;
  if (setup.startsWith('fastify')) {
    const trustProxy = setup.endsWith('true') ? true : setup.endsWith('127.0.0.1') ? '127.0.0.1' : undefined;
    const app = Fastify(trustProxy === undefined ? {} : { trustProxy });
    obs = instrument(app, options);
    app.get('/who', async (request) => ({ ip: request.ip }));
    app.get('/hang', () => new Promise(() => {}));
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = app.server;
    cleanup = async () => {
      await obs.shutdown();
      await app.close();
    };
  } else if (setup.startsWith('express')) {
    const app = express();
    if (setup.endsWith('true')) app.set('trust proxy', true);
    if (setup.endsWith("'loopback'")) app.set('trust proxy', 'loopback');
    obs = instrument(app, options);
    app.get('/who', (req, res) => {
      res.json({ ip: req.ip });
    });
    app.get('/hang', () => {});
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    cleanup = async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await obs.shutdown();
    };
  } else {
    server = createServer((req, res) => {
      if (req.url === '/hang') return;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ip: req.socket.remoteAddress }));
    });
    obs = instrument(server, { ...options, routes: ['/who', '/hang'] });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup = async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await obs.shutdown();
    };
  }
  track(server);
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, obs, capture };
}

/** What the handler saw as the client address, the request line's and the span's. */
async function addresses(setup: Setup): Promise<{ handler: string; log: unknown; span: unknown }> {
  const app = await start(setup);
  const res = await fetch(`${app.base}/who`, { headers: FORWARDED });
  const { ip } = (await res.json()) as { ip: string };
  await settle(app.server);
  const [line] = app.capture.withMsg('request completed');
  await app.obs.shutdown();
  const [span] = await receiver.waitFor(1);
  return { handler: ip, log: line?.client_address, span: span!.attributes['client.address'] };
}

describe('client address with X-Forwarded-For: 198.51.100.9, 203.0.113.7 from 127.0.0.1', () => {
  it.each<[Setup, string]>([
    // Not trusting proxies: the header is ignored, the peer is the client.
    ['fastify', '127.0.0.1'],
    ['express', '127.0.0.1'],
    ['node-http', '127.0.0.1'],
    // Trusting every proxy: the furthest address in the chain.
    ['fastify trustProxy: true', '198.51.100.9'],
    ["express 'trust proxy': true", '198.51.100.9'],
    // Trusting the loopback peer only: the address that peer forwarded for.
    ['fastify trustProxy: 127.0.0.1', '203.0.113.7'],
    ["express 'trust proxy': 'loopback'", '203.0.113.7'],
  ])('%s: the log line and the span carry %s, as the handler sees it', async (setup, expected) => {
    expect(await addresses(setup)).toEqual({ handler: expected, log: expected, span: expected });
  });
});

describe('a request the client aborts', () => {
  it.each<Setup>(['fastify trustProxy: 127.0.0.1', "express 'trust proxy': 'loopback'", 'node-http'])(
    '%s: its 499 line still has the client address, with tracing off (the socket is gone by the end)',
    async (setup) => {
      const app = await start(setup, { tracing: false });
      const { port } = app.server.address() as AddressInfo;
      await new Promise<void>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/hang', headers: FORWARDED });
        req.on('error', () => resolve());
        app.server.once('request', () => setImmediate(() => req.destroy()));
        req.end();
      });
      await settle(app.server);
      const [line] = app.capture.withMsg('request completed');
      expect(line).toMatchObject({ status_code: 499, client_address: setup === 'node-http' ? '127.0.0.1' : '203.0.113.7' });
    },
  );
});

describe('a trust-proxy function that throws', () => {
  it('leaves the address out and reports once, where "client-address"; the request is unharmed', async () => {
    const capture = new Capture();
    const reported: string[] = [];
    const app = express();
    app.set('trust proxy', () => {
      throw new Error('bad trust function');
    });
    const obs = instrument(app, { metrics: false, tracing: false, logging: { destination: capture }, onInternalError: (_e, where) => reported.push(where) });
    app.get('/who', (_req, res) => {
      res.json({ ok: true });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    track(server);
    cleanup = async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await obs.shutdown();
    };
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/who`, { headers: FORWARDED });
    expect(await res.json()).toEqual({ ok: true });
    await settle(server);
    const [line] = capture.withMsg('request completed');
    expect(line).toMatchObject({ status_code: 200, route: '/who' });
    expect(line!.client_address).toBe(undefined);
    expect(reported).toEqual(['client-address']);
  });
});
