import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { instrument } from '../../src/index.js';
import { listen, scrape, value } from '../helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Sends raw bytes and reads everything the server answers until it closes the connection. */
function raw(base: string, bytes: string): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? resolve(answer) : reject(e)));
    socket.end(bytes);
  });
}

const JUNK = {
  invalid_method: 'GARB@GE / HTTP/1.1\r\nHost: x\r\n\r\n',
  header_too_large: `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  malformed: 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
} as const;

type Kind = 'node-http' | 'express' | 'fastify';
async function start(kind: Kind, instrumented: boolean): Promise<string> {
  if (kind === 'fastify') {
    const app = Fastify();
    if (instrumented) instrument(app, { logging: false, shutdown: false });
    app.get('/', async () => 'ok');
    cleanups.push(() => app.close());
    return app.listen({ port: 0, host: '127.0.0.1' });
  }
  let server: Server;
  if (kind === 'express') {
    const app = express();
    app.get('/', (_req, res) => void res.send('ok'));
    server = createServer(app);
    // Express learns its server at its first request, which these never are: pass it.
    if (instrumented) instrument(app, { logging: false, shutdown: false, server });
  } else {
    server = createServer((_req, res) => res.end('ok'));
    if (instrumented) instrument(server, { routes: ['/'], logging: false, shutdown: false });
  }
  cleanups.push(() => server.close());
  return listen(server);
}

describe('requests Node rejects before any handler are counted, and answered as before', () => {
  it.each(['node-http', 'express', 'fastify'] as const)('%s', async (kind) => {
    const bare = await start(kind, false);
    const base = await start(kind, true);
    for (const bytes of Object.values(JUNK)) {
      const expected = (await raw(bare, bytes)).split('\r\n')[0];
      expect((await raw(base, bytes)).split('\r\n')[0]).toBe(expected);
    }
    await raw(base, JUNK.malformed);
    const { metrics } = await scrape(base);
    expect(value(metrics, 'http_server_rejected_requests_total', { reason: 'invalid_method' })).toBe(1);
    expect(value(metrics, 'http_server_rejected_requests_total', { reason: 'header_too_large' })).toBe(1);
    expect(value(metrics, 'http_server_rejected_requests_total', { reason: 'malformed' })).toBe(2);
    expect(value(metrics, 'http_server_rejected_requests_total', { reason: 'request_timeout' })).toBe(0);
  });
});
