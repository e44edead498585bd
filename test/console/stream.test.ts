import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CONSOLE_DEFAULTS } from '../../src/console/index.js';
import { startConsoleApp } from './helpers.js';
import type { ConsoleApp } from './helpers.js';

interface SseEvent {
  id: number;
  event: string;
  data: unknown;
}

/** Reads a Server-Sent Events stream and collects its events. */
class SseReader {
  readonly events: SseEvent[] = [];
  #buffer = '';
  readonly #controller = new AbortController();
  #waiters: { test: () => boolean; resolve: () => void }[] = [];

  constructor(readonly c: ConsoleApp, lastEventId?: number) {
    const headers: Record<string, string> = { authorization: `Bearer ${c.token}`, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
    void fetch(`${c.origin}/api/events`, { headers, signal: this.#controller.signal }).then(async (res) => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) this.#take(decoder.decode(chunk as Uint8Array, { stream: true }));
      } catch {
        // aborted
      }
    });
  }

  #take(text: string): void {
    this.#buffer += text;
    let end: number;
    while ((end = this.#buffer.indexOf('\n\n')) !== -1) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        fields[line.slice(0, colon)] = line.slice(colon + 2);
      }
      if (fields.event !== undefined) this.events.push({ id: Number(fields.id), event: fields.event, data: JSON.parse(fields.data!) });
    }
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once an event passes `test`. */
  until(test: (e: SseEvent) => boolean): Promise<SseEvent> {
    const find = () => this.events.find(test);
    return new Promise((resolve) => {
      if (find() !== undefined) return resolve(find()!);
      this.#waiters.push({ test: () => find() !== undefined, resolve: () => resolve(find()!) });
    });
  }

  close(): void {
    this.#controller.abort();
  }
}

let c: ConsoleApp | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

describe('the console event stream', () => {
  it('sends typed events with increasing ids, and replays what came after Last-Event-ID', async () => {
    c = await startConsoleApp();
    const first = new SseReader(c);
    const hello = await first.until((e) => e.event === 'hello');
    expect(hello.data).toMatchObject({ service: { name: expect.any(String) }, redIntervalMs: 5000 });
    await fetch(`${c.base}/hello/one`);
    const logs = await first.until((e) => e.event === 'logs');
    expect((logs.data as { msg: string }[]).map((l) => l.msg)).toEqual(['said hello', 'request completed']);
    const traces = await first.until((e) => e.event === 'traces');
    expect((traces.data as { name: string; statusCode: number }[]).map((t) => [t.name, t.statusCode])).toEqual([['GET /hello/:name', 200]]);
    const ids = first.events.map((e) => e.id);
    expect(ids.slice(1)).toEqual([...ids.slice(1)].sort((a, b) => a - b));
    const last = Math.max(...ids);
    first.close();
    await expect.poll(async () => (await c!.json<{ stream: { clients: number } }>('/api/stats')).stream.clients).toBe(0);

    // Missed while away: a second page keeps the stream producing events.
    const other = new SseReader(c);
    await other.until((e) => e.event === 'hello');
    await fetch(`${c.base}/hello/two`);
    await other.until((e) => e.event === 'logs' && (e.data as { msg: string; line: string }[]).some((l) => l.line.includes('"two"')));
    other.close();
    const back = new SseReader(c, last);
    const replayed = await back.until((e) => e.event === 'logs');
    expect(replayed.id).toBeGreaterThan(last);
    expect(back.events.some((e) => e.event === 'hello')).toBe(false);
    expect((replayed.data as { line: string }[]).some((l) => l.line.includes('"two"'))).toBe(true);
    back.close();

    // An id from before the replay ring (or from another process) gets resync.
    const stale = new SseReader(c, 1e9);
    expect((await stale.until(() => true)).event).toBe('resync');
    stale.close();
  });

  it('gives a client that does not read a bounded queue, then resync instead of growing', async () => {
    c = await startConsoleApp();
    const port = Number(new URL(c.origin).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${c.token}\r\n\r\n`);
    socket.pause();
    const stats = () => c!.json<{ stream: { clients: number; overflows: number; resyncs: number; queueHighWater: number; queueMax: number; lastId: number } }>('/api/stats');
    await expect.poll(async () => (await stats()).stream.clients).toBe(1);
    // Lines of 3 KB, 200 a batch, until the socket, the kernel's buffers and the queue are full.
    const blob = 'x'.repeat(3000);
    let s = await stats();
    for (let round = 0; round < 400 && s.stream.overflows === 0; round++) {
      for (let i = 0; i < 200; i++) c.obs.logger.info({ blob, round, i }, 'flood');
      const before = s.stream.lastId;
      await expect.poll(async () => (s = await stats()).stream.lastId, { timeout: 5000 }).toBeGreaterThan(before);
    }
    expect(s.stream.overflows).toBeGreaterThanOrEqual(1);
    expect(s.stream.queueMax).toBe(CONSOLE_DEFAULTS.clientQueueBytes);
    expect(s.stream.queueHighWater).toBeLessThanOrEqual(CONSOLE_DEFAULTS.clientQueueBytes);
    expect(s.stream.resyncs).toBe(0);

    // Reading again: what was dropped is not sent; one resync is.
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    socket.resume();
    await expect.poll(() => received.includes('event: resync\n'), { timeout: 10_000 }).toBe(true);
    expect(received).toContain('data: {"reason":"client_too_slow"}');
    expect((await stats()).stream.resyncs).toBe(1);
    socket.destroy();
  }, 60_000);
});
