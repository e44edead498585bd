import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../tracing/helpers.js';
import { get } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/sigterm-app.mjs', import.meta.url));
const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

type Line = Record<string, unknown>;

/** The child process with its stdout events and stderr log lines, parsed as they arrive. */
class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly out: Line[] = [];
  readonly err: Line[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: (() => void)[] = [];

  constructor(env: Record<string, string> = {}) {
    // The bundled Node (the one running the tests), not whatever `node` is on PATH.
    this.proc = spawn(process.execPath, [fixture], { env: { ...process.env, ...env }, stdio: 'pipe' });
    const parse = (into: Line[]) => (line: string) => {
      try {
        into.push(JSON.parse(line) as Line);
      } catch {
        into.push({ raw: line });
      }
      for (const w of this.#waiters) w();
    };
    createInterface({ input: this.proc.stdout }).on('line', parse(this.out));
    createInterface({ input: this.proc.stderr }).on('line', parse(this.err));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves with the first line matching `pred`, now or when it arrives. */
  waitFor(stream: 'out' | 'err', pred: (l: Line) => boolean): Promise<Line> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this[stream].find(pred);
        if (hit === undefined) return false;
        this.#waiters = this.#waiters.filter((w) => w !== check);
        resolve(hit);
        return true;
      };
      if (check()) return;
      this.#waiters.push(check);
      void this.exited.then(() => {
        if (!check()) reject(new Error(`child exited before the line; stdout ${JSON.stringify(this.out)} stderr ${JSON.stringify(this.err)}`));
      });
    });
  }
}

let child: Child | undefined;
let cleanup: (() => unknown) | undefined;
afterEach(async () => {
  if (child !== undefined && child.proc.exitCode === null) child.proc.kill('SIGKILL');
  child = undefined;
  await cleanup?.();
  cleanup = undefined;
});

describe('SIGTERM on a Fastify service (child process, built package)', () => {
  it('readiness 503 at once, in-flight request finishes with 200, new connections refused, hooks run, spans flushed, exit 0', async () => {
    expect(existsSync(dist), 'run `npm run build` first: the child uses dist/').toBe(true);
    const collector = new Receiver();
    const otlp = await collector.start();
    cleanup = () => collector.close();
    // A 3 s drain delay: the probes below must land inside it even when the whole suite loads the machine.
    child = new Child({ OTLP_URL: otlp, DRAIN_DELAY_MS: '3000' });
    const { port } = (await child.waitFor('out', (l) => l.event === 'listening')) as { port: number };
    const base = `http://127.0.0.1:${port}`;
    expect(await get(`${base}/readyz`)).toMatchObject({ status: 200, body: 'ok\n' });

    const slow = get(`${base}/slow`);
    await child.waitFor('out', (l) => l.event === 'slow-start');
    child.proc.kill('SIGTERM');
    await child.waitFor('err', (l) => l.msg === 'shutdown started: readiness now fails');
    // During the drain delay the listener is still open,
    // and says it is going away.
    expect(await get(`${base}/readyz`)).toMatchObject({ status: 503, body: '[-]lifecycle failed: draining\nreadyz check failed\n' });
    expect(await get(`${base}/livez`)).toMatchObject({ status: 200, body: 'ok\n' });

    await child.waitFor('err', (l) => l.msg === 'stopped accepting connections; waiting for in-flight requests');
    await expect(get(`${base}/readyz`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(child.out.some((l) => l.event === 'hook')).toBe(false);

    child.proc.stdin.write('release\n');
    expect(await slow).toMatchObject({ status: 200, body: 'slow done\n' });
    expect(collector.spans).toEqual([]);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.out.map((l) => l.event)).toEqual(['listening', 'slow-start', 'hook']);
    // The span of the last request was exported by the shutdown flush, before the exit.
    expect(collector.spans.map((s) => s.name)).toEqual(['GET /slow']);
    const logs = child.err.map((l) => l.msg);
    expect(logs).toEqual([
      'shutdown started: readiness now fails',
      'stopped accepting connections; waiting for in-flight requests',
      'in-flight requests finished; servers closed',
      'shutdown complete',
    ]);
    expect(child.err[0]).toMatchObject({ level: 'info', reason: 'signal SIGTERM', drain_delay_ms: 3000, timeout_ms: 5000 });
    const done = child.err[3]!;
    expect(done).toMatchObject({ level: 'info', reason: 'signal SIGTERM', code: 0, timed_out: false });
    // libuv times from its cached loop clock, so a timer may fire a hair before the wall-clock delay.
    expect(done.drain_delay_ms as number).toBeGreaterThanOrEqual(2995);
  });

  it('a second signal during shutdown forces exit 1, after the cut-off request was logged', async () => {
    child = new Child({ DRAIN_DELAY_MS: '5000', REQUEST_LOG: '1' });
    const { port } = (await child.waitFor('out', (l) => l.event === 'listening')) as { port: number };
    const slow = get(`http://127.0.0.1:${port}/slow`).catch((e: NodeJS.ErrnoException) => e.code);
    await child.waitFor('out', (l) => l.event === 'slow-start');
    child.proc.kill('SIGTERM');
    await child.waitFor('err', (l) => l.msg === 'shutdown started: readiness now fails');
    child.proc.kill('SIGINT');
    expect(await child.exited).toEqual({ code: 1, signal: null });
    expect(await slow).toBe('ECONNRESET');
    const last = child.err.slice(-2);
    expect(last[0]).toMatchObject({ level: 'warn', signal: 'SIGINT', msg: 'second signal during shutdown: closing every connection and exiting now' });
    expect(last[1]).toMatchObject({ level: 'error', msg: 'request completed', route: '/slow', status_code: 503, err: { message: 'request cut off by a second signal' } });
    expect(child.out.some((l) => l.event === 'hook')).toBe(false);
  });
});
