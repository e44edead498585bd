import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { instrument } from '../../src/index.js';
import type { Periscope, PeriscopeOptions } from '../../src/index.js';

export interface Started {
  obs: Periscope;
  server: Server;
  base: string;
  close(): Promise<void>;
}

/** A node:http app instrumented with `options`, listening on a free port. */
export async function startNodeApp(options: PeriscopeOptions = {}, handler?: Parameters<typeof createServer>[1]): Promise<Started> {
  const server = createServer(handler ?? ((_req, res) => res.end('app\n')));
  const obs = instrument(server, { routes: ['/'], shutdown: false, logging: false, ...options });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    obs,
    server,
    base,
    async close() {
      await obs.shutdown();
      server.closeAllConnections();
    },
  };
}

export interface Got {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One GET on a fresh connection (no keep-alive pool), so a closed listener shows as ECONNREFUSED. */
export function get(url: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** True when a TCP connection to host:port opens within 500 ms. */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Resolves once `fn` has been called; for checks that must be known to have started. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** periscope's log lines, parsed, through a `logging.destination` stream (request lines off). */
export function captureLogs(): { lines: Record<string, unknown>[]; logging: { destination: { write(line: string): void }; requests: false } } {
  const lines: Record<string, unknown>[] = [];
  return { lines, logging: { destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }, requests: false } };
}

/** A loopback port that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A redis-server of the test's own on `port`, to kill and restart without touching the shared one. */
export class PrivateRedis {
  proc: ChildProcess | undefined;
  constructor(readonly port: number) {}
  async start(): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    });
  }
  async kill(): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || proc.exitCode !== null) return;
    this.proc = undefined;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }
}
