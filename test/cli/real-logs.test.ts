import { afterEach, describe, expect, it } from 'vitest';
import { Readable, Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { instrument } from '../../src/index.js';
import type { Periscope } from '../../src/index.js';
import { main } from '../../src/cli/index.js';
import type { Summary } from '../../src/cli/index.js';
import { Capture, settle, track } from '../logging/helpers.js';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function summary(argv: string[], lines: readonly string[]) {
  const stdout = new Sink();
  const stderr = new Sink();
  const status = await main(['logs', 'summary', '-', ...argv], { stdin: Readable.from([lines.join('')]), stdout, stderr });
  return { status, stdout: stdout.text, stderr: stderr.text };
}

let app: FastifyInstance | undefined;
let obs: Periscope | undefined;
afterEach(async () => {
  await app?.close();
  await obs?.shutdown();
  app = undefined;
  obs = undefined;
});

describe('periscope logs summary on the lines a real app writes', () => {
  it("lists each error's own message, unescaped, never the request line's message", async () => {
    const capture = new Capture();
    app = Fastify();
    obs = instrument(app, { logging: { destination: capture }, shutdown: false });
    app.get('/users/:id', async () => {
      throw new Error('relation "users" does not exist at C:\\db — café');
    });
    app.get('/orders', async (_request, reply) => reply.code(503).send('busy'));
    app.post('/charge', async (request, reply) => {
      request.log.error({ err: new Error('card declined') }, 'charge failed');
      return reply.code(402).send('no');
    });
    app.get('/multi', async () => {
      throw new Error('line one\nline two\u001b[31m');
    });
    track(app.server);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    for (let i = 0; i < 3; i++) await (await fetch(`${base}/users/${i}`)).text();
    for (let i = 0; i < 2; i++) await (await fetch(`${base}/orders`)).text();
    await (await fetch(`${base}/charge`, { method: 'POST' })).text();
    await (await fetch(`${base}/multi`)).text();
    await settle(app.server);

    // Every error-level line the app wrote: 3 + 2 + 1 + 1 request lines and the handler's own.
    expect(capture.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      'request completed',
      'request completed',
      'request completed',
      'request completed',
      'request completed',
      'charge failed',
      'request completed',
    ]);

    const json = await summary(['--json'], capture.raw);
    expect(json.status).toBe(0);
    const s = JSON.parse(json.stdout) as Summary;
    expect(s.top_errors).toEqual([
      { message: 'relation "users" does not exist at C:\\db — café', count: 3, overcount: 0 },
      { message: 'HTTP 503 Service Unavailable', count: 2, overcount: 0 },
      { message: 'card declined', count: 1, overcount: 0 },
      { message: 'line one\nline two\u001b[31m', count: 1, overcount: 0 },
    ]);

    const text = await summary([], capture.raw);
    const lines = text.stdout.split('\n');
    const start = lines.indexOf('top error messages:');
    // Quotes, backslashes and any script as the code wrote them; control characters escaped
    // so that a message cannot drive the terminal.
    expect(lines.slice(start, start + 6)).toEqual([
      'top error messages:',
      '         3  relation "users" does not exist at C:\\db — café',
      '         2  HTTP 503 Service Unavailable',
      '         1  card declined',
      '         1  line one\\nline two\\u001b[31m',
      '',
    ]);
  });
});
