/**
 * The response size the core hands every concern (`scope.bytes`, the body size of
 * http_response_size_bytes), for each way Node frames a response: a Content-Length Node
 * computed at end(), one given to setHeader or to writeHead's headers, chunked framing (also
 * when a Content-Length was set and removed), and no body at all (HEAD, 204, 304). All on one
 * keep-alive connection, so every response after the first follows others on its socket.
 */
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Core } from '../../src/core/index.js';
import type { RequestScope } from '../../src/core/index.js';
import { listen } from '../helpers.js';

const ended: { url: string; bytes: number }[] = [];
const core = new Core({ hooks: [{ onStart: () => {}, onEnd: (s: RequestScope) => void ended.push({ url: s.req.url!, bytes: s.bytes }) }], report: (error) => { throw error; } });

const RESPONSES: Record<string, (res: ServerResponse) => void> = {
  '/computed': (res) => res.end('hello'),
  '/set-header': (res) => {
    res.setHeader('Content-Length', '5');
    res.end('hello');
  },
  '/write-head': (res) => {
    res.writeHead(200, { 'content-length': 5, 'content-type': 'text/plain' });
    res.end('hello');
  },
  '/removed': (res) => {
    res.setHeader('Content-Length', '5');
    res.removeHeader('content-length');
    res.end('hello');
  },
  '/chunked': (res) => {
    res.write('he');
    res.end('llo');
  },
  '/empty': (res) => {
    res.statusCode = 204;
    res.end();
  },
  '/not-modified': (res) => {
    res.writeHead(304, { 'content-length': 5 });
    res.end();
  },
};

/** The size each response must count, on its own: its body, or its chunked body with the framing. */
const BYTES: Record<string, number> = {
  '/computed': 5,
  '/set-header': 5,
  '/write-head': 5,
  // Chunked: "5\r\nhello\r\n" and "0\r\n\r\n".
  '/removed': 15,
  // "2\r\nhe\r\n", "3\r\nllo\r\n" and "0\r\n\r\n".
  '/chunked': 20,
  '/empty': 0,
  '/not-modified': 0,
};

let base = '';
let agent: Agent;
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  core.start(req, res);
  RESPONSES[req.url!]!(res);
});
beforeAll(async () => {
  base = await listen(server);
  agent = new Agent({ keepAlive: true, maxSockets: 1 });
});
afterAll(() => {
  agent.destroy();
  server.close();
});

function send(path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, agent }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the response size each way Node frames a response', () => {
  it('is the body length with a Content-Length, the bytes after the header block when chunked, and 0 without a body', async () => {
    const sent: { url: string; status: number; body: string }[] = [];
    // Twice over, so every kind also follows every other on the one connection.
    for (let round = 0; round < 2; round++) {
      for (const path of Object.keys(RESPONSES)) sent.push({ url: path, ...(await send(path)) });
      sent.push({ url: '/computed', ...(await send('/computed', 'HEAD')) });
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent.map((s) => [s.url, s.status, s.body]).slice(0, 8)).toEqual([
      ['/computed', 200, 'hello'],
      ['/set-header', 200, 'hello'],
      ['/write-head', 200, 'hello'],
      ['/removed', 200, 'hello'],
      ['/chunked', 200, 'hello'],
      ['/empty', 204, ''],
      ['/not-modified', 304, ''],
      ['/computed', 200, ''],
    ]);
    const once = [
      ...Object.keys(RESPONSES).map((url) => ({ url, bytes: BYTES[url] })),
      // HEAD: Node sends Content-Length: 5 and no body.
      { url: '/computed', bytes: 0 },
    ];
    expect(once.map((e) => e.bytes)).toEqual([5, 5, 5, 15, 20, 0, 0, 0]);
    expect(ended).toEqual([...once, ...once]);
  });

  it('counts each pipelined response alone, not the responses queued ahead of it on its connection', async () => {
    ended.length = 0;
    const paths = ['/chunked', '/chunked', '/write-head', '/removed', '/chunked', '/computed'];
    const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    // Every request in one write: the server reads them together and queues each response behind the one before.
    socket.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
    // Both sides done: the server ended every scope, and the client read every response (the
    // scopes end on the responses' close, which may come before the bytes reach this socket).
    const responses = () => received.split('HTTP/1.1 200 OK').length - 1;
    while (ended.length < paths.length || responses() < paths.length) await new Promise((resolve) => setTimeout(resolve, 5));
    socket.destroy();
    expect(responses()).toBe(paths.length);
    expect(ended).toEqual(paths.map((url) => ({ url, bytes: BYTES[url] })));
  });
});
