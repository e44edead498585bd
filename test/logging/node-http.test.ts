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
