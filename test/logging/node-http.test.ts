import { afterEach, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { instrument } from '../../src/index.js';
import type { Periscope } from '../../src/index.js';
import { Capture, settle, track } from './helpers.js';

let server: Server | undefined;
let obs: Periscope | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await obs?.shutdown();
});

it('node:http: one request line per request with the route template and the echoed request ID', async () => {
  const capture = new Capture();
  server = createServer((req, res) => {
    if (req.url?.startsWith('/items/')) res.end('item');
    else res.writeHead(500, { 'content-length': 0 }).end();
  });
  obs = instrument(server, { routes: ['/items/:id'], logging: { destination: capture } });
  track(server);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ok = await fetch(`${base}/items/9`, { headers: { 'x-request-id': 'n-1' } });
  await ok.text();
  await (await fetch(`${base}/other`)).text();
  await settle(server);
  expect(ok.headers.get('x-request-id')).toBe('n-1');
  expect(capture.lines.map((l) => [l.level, l.request_id === 'n-1', l.route, l.path, l.status_code, l.bytes])).toEqual([
    ['info', true, '/items/:id', '/items/9', 200, 4],
    ['error', false, 'unmatched', '/other', 500, 0],
  ]);
});

it('node:http: a chunked response counts its own bytes on a keep-alive connection, after earlier responses on it', async () => {
  const { connect } = await import('node:net');
  const capture = new Capture();
  server = createServer((req, res) => {
    if (req.url === '/plain') return void res.end('hello');
    // No Content-Length: chunked. Each chunk is framed as `<hex size>\r\n<data>\r\n`, then `0\r\n\r\n`.
    res.write('abc');
    setImmediate(() => {
      res.write('defgh');
      res.end();
    });
  });
  obs = instrument(server, { routes: ['/plain', '/chunked'], logging: { destination: capture } });
  track(server);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (received += d));
  const ask = async (path: string, ending: string, count: number) => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    while (received.split(ending).length - 1 < count) await new Promise((r) => setTimeout(r, 5));
  };
  await ask('/plain', 'hello', 1);
  await ask('/chunked', '0\r\n\r\n', 1);
  await ask('/plain', 'hello', 2);
  await ask('/chunked', '0\r\n\r\n', 2);
  socket.destroy();
  await settle(server);
  const chunked = '3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n'.length;
  expect(capture.lines.map((l) => [l.path, l.bytes])).toEqual([
    ['/plain', 5],
    ['/chunked', chunked],
    ['/plain', 5],
    ['/chunked', chunked],
  ]);
});
