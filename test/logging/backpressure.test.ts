import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RunningChild } from '../child-process.js';
import { LINES_DROPPED_MESSAGE } from '../../src/logging/index.js';

const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const distLogging = fileURLToPath(new URL('../../dist/logging/index.js', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/log-pipe-service.mjs', import.meta.url));
const children: RunningChild[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop()));
});

const PAUSE_MS = 3000;
/**
 * Each /livez round trip while the reader is stopped. The bound only has to tell `drop` (the
 * service keeps answering: 2-40 ms on the shared 2-core machine, once 204 ms under load, the
 * test process's own scheduling) from `onBackpressure: 'block'`, where the event loop is held in
 * a synchronous write and the same poll gets no answer for as long as the reader is stopped. A
 * third of the pause tells them apart; what the service itself went through is bounded by its
 * own event-loop delay below.
 */
const LIVEZ_BOUND_MS = PAUSE_MS / 3;
/** The service's longest event-loop delay (monitorEventLoopDelay, in the service) over the run. */
const LOOP_DELAY_BOUND_MS = 250;
const POLL_EVERY_MS = 200;
const MAX_BUFFER_BYTES = 256 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function timedGet(url: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - started };
}

describe('a stalled log reader does not stall the service (onBackpressure: drop)', () => {
  it('keeps /livez answering while the pipe reader stops, and counts exactly the lines it drops', async () => {
    expect(existsSync(dist), 'run `npm run build` first: the child uses dist/').toBe(true);
    const child = new RunningChild(process.execPath, [fixture], { env: { ...process.env, MAX_BUFFER_BYTES: String(MAX_BUFFER_BYTES) } });
    children.push(child);
    const banner = await child.until('"msg":"listening"');
    const port = (JSON.parse(banner.split('\n').find((l) => l.includes('"msg":"listening"'))!) as { port: number }).port;
    const base = `http://127.0.0.1:${port}`;
    // The first request pays for the client's own start (undici, a connection): not the service's latency.
    expect((await timedGet(`${base}/livez`)).status).toBe(200);

    // The reader stops; the service keeps logging about 7 MB a second into a pipe that takes nothing.
    child.process.stdout!.pause();
    const stalled: { status: number; ms: number }[] = [];
    const until = performance.now() + PAUSE_MS;
    while (performance.now() < until) {
      stalled.push(await timedGet(`${base}/livez`));
      await sleep(POLL_EVERY_MS);
    }
    child.process.stdout!.resume();
    for (let i = 0; i < 3; i++) {
      stalled.push(await timedGet(`${base}/livez`));
      await sleep(POLL_EVERY_MS);
    }
    expect(stalled.length).toBeGreaterThanOrEqual(10);
    const { last, maxLoopDelayMs } = (await (await fetch(`${base}/stop`)).json()) as { last: number; maxLoopDelayMs: number };
    const seen = `/livez: ${stalled.map((s) => s.ms.toFixed(1)).join(', ')} ms; the service's longest event-loop delay: ${maxLoopDelayMs.toFixed(1)} ms`;
    for (const r of stalled) {
      expect(r.status).toBe(200);
      expect(r.ms, `every /livez within ${LIVEZ_BOUND_MS} ms (${seen})`).toBeLessThan(LIVEZ_BOUND_MS);
    }
    expect(maxLoopDelayMs, `the service's event loop never held past ${LOOP_DELAY_BOUND_MS} ms (${seen})`).toBeLessThan(LOOP_DELAY_BOUND_MS);

    await child.until('"msg":"stopped"');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    await child.stop('SIGTERM');

    const lines = child.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { seq?: number; msg: string; dropped_lines?: number; level: string; reason?: string });
    const seqs = lines.flatMap((l) => (l.seq === undefined ? [] : [l.seq]));
    // In order, no line twice, none cut (each parsed), and the missing ones are the counted ones.
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]! > seqs[i - 1]!).toBe(true);
    const missing = last + 1 - seqs.length;
    const notices = lines.filter((l) => l.msg === LINES_DROPPED_MESSAGE);
    const told = notices.reduce((sum, l) => sum + l.dropped_lines!, 0);
    const counted = Number(/^periscope_log_lines_dropped_total\{reason="buffer_full"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(missing).toBeGreaterThan(0);
    expect(counted).toBe(missing);
    expect(told).toBe(missing);
    expect(metrics).toMatch(/^periscope_log_lines_dropped_total\{reason="write_failed"\} 0$/m);
    expect(notices[0]).toMatchObject({ level: 'warn', reason: 'buffer_full' });
  }, 30_000);
});

describe('on exit, held lines are written, waiting a bounded time for a stalled reader', () => {
  // 3,000 lines of about 330 bytes (1 MB, more than a pipe or socket buffer takes), then exit in the same turn.
  const script = `
    const { createLogger } = await import(${JSON.stringify(distLogging)});
    const log = createLogger({ serviceName: 'exit', destination: 'stdout' });
    const padding = 'x'.repeat(200);
    for (let i = 0; i < 3000; i++) log.info({ i, padding }, 'line');
    process.exit(0);
  `;
  const start = () => {
    expect(existsSync(distLogging), 'run `npm run build` first: the child uses dist/').toBe(true);
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.pause();
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    const closed = once(child.stdout, 'end');
    /** The sequence numbers of the whole lines read; a last line without its newline is returned apart. */
    const received = async (): Promise<{ seqs: number[]; cut: string }> => {
      await closed;
      const lines = Buffer.concat(chunks).toString('utf8').split('\n');
      const cut = lines.pop()!;
      return { seqs: lines.map((l) => (JSON.parse(l) as { i: number }).i), cut };
    };
    return { child, received };
  };

  it('a reader that resumes within the bound gets every line', async () => {
    const { child, received } = start();
    setTimeout(() => child.stdout.resume(), 300);
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(await received()).toEqual({ seqs: Array.from({ length: 3000 }, (_, i) => i), cut: '' });
  });

  it('a reader that does not resume does not keep the process: it exits, and what was written is whole lines in order (but the last, which may be cut)', async () => {
    const { child, received } = start();
    // The child exits while its reader is still stopped (with 'block' it would wait for the reader forever).
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    child.stdout.resume();
    const { seqs, cut } = await received();
    expect(seqs.length).toBeGreaterThan(0);
    expect(seqs.length).toBeLessThan(3000);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i));
    // The kernel takes part of a write to a full pipe; the rest of that one line is what the
    // bound can cost at exit (while running, a partly written line is always completed).
    const head = '{"level":"info"';
    expect(cut === '' || head.startsWith(cut) || cut.startsWith(head)).toBe(true);
  });
});
