/**
 * The core ends a request on its response's 'close' event, through one listener added at
 * start with `res.on`. These tests hold it to what the app's own listeners expect: the events a
 * 'newListener' listener sees, the listeners that run and their order, the listener count, and
 * an `on` someone replaced; and the core's clock (Node's `performance` global, which the core
 * settles into a plain property) to a fake one installed before or after.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Core } from '../../src/core/index.js';
import type { RequestScope } from '../../src/core/index.js';
import { listen } from '../helpers.js';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

/** Serves one request: `before` prepares the response, the core starts its scope, `after` looks at it; resolves with what happened. */
async function serveOne(before: (res: ServerResponse, seen: string[]) => void, after: (res: ServerResponse, seen: string[]) => void = () => {}) {
  const seen: string[] = [];
  const ended: RequestScope[] = [];
  const core = new Core({ hooks: [{ onEnd: (s) => void ended.push(s) }], report: (error) => { throw error; } });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    before(res, seen);
    core.start(req, res, '/x');
    after(res, seen);
    res.on('close', () => seen.push(`close after, ended ${ended.length}`));
    res.end('ok');
  });
  servers.push(server);
  const base = await listen(server);
  expect(await (await fetch(`${base}/x`)).text()).toBe('ok');
  await vi.waitFor(() => expect(ended).toHaveLength(1), { timeout: 5000, interval: 5 });
  // The app's own listener, added after the core's, runs after it.
  await vi.waitFor(() => expect(seen.at(-1)).toBe('close after, ended 1'), { timeout: 5000, interval: 5 });
  return { seen, ended };
}

describe("the core's 'close' listener", () => {
  it('is one listener among the response\'s own (count and order as res.on would leave them)', async () => {
    const counts: number[] = [];
    const count = (res: ServerResponse) => counts.push(res.listenerCount('close'), (res as unknown as { _eventsCount: number })._eventsCount);
    const { seen } = await serveOne(count, count);
    // Before start: no 'close' listener, Node's own 'finish' one; after: one more of each count.
    expect(counts).toEqual([0, 1, 1, 2]);
    expect(seen).toEqual(['close after, ended 1']);
  });

  it("runs after a 'close' listener added before it, and both run", async () => {
    const { seen } = await serveOne((res, s) => void res.on('close', () => s.push('close before')));
    expect(seen).toEqual(['close before', 'close after, ended 1']);
  });

  it("tells a 'newListener' listener about it, as res.on does", async () => {
    const { seen } = await serveOne((res, s) => void res.on('newListener', (event: string) => s.push(`newListener ${event}`)));
    // The core's 'close', then the app's own 'close' added after start.
    expect(seen).toEqual(['newListener close', 'newListener close', 'close after, ended 1']);
  });

  it('goes through an `on` that was replaced on the response', async () => {
    const { seen } = await serveOne((res, s) => {
      const on = res.on.bind(res);
      res.on = ((event: string, fn: (...args: unknown[]) => void) => {
        s.push(`on ${event}`);
        return on(event, fn);
      }) as typeof res.on;
    });
    expect(seen).toEqual(['on close', 'on close', 'close after, ended 1']);
  });
});

describe('the clock', () => {
  it('leaves `performance` a plain global holding the same object, which a fake clock still replaces', async () => {
    const original = globalThis.performance;
    new Core({ hooks: [], report: () => {} });
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'performance')!;
    expect([descriptor.get, descriptor.writable, descriptor.configurable, descriptor.value === original]).toEqual([undefined, true, true, true]);
    // A request timed on a fake clock lasts exactly what the clock was moved.
    vi.useFakeTimers({ toFake: ['performance'] });
    const { ended } = await serveOne(() => {}, () => void vi.advanceTimersByTime(250));
    expect(ended[0]!.duration).toBe(0.25);
    vi.useRealTimers();
    expect(globalThis.performance).toBe(original);
  });

  it('gives the real clock back after a fake one installed before periscope was set up', () => {
    const original = globalThis.performance;
    vi.useFakeTimers({ toFake: ['performance'] });
    const fake = globalThis.performance;
    expect(fake).not.toBe(original);
    new Core({ hooks: [], report: () => {} });
    expect(globalThis.performance).toBe(fake);
    vi.useRealTimers();
    expect(globalThis.performance).toBe(original);
  });

  it('leaves a getter that is not Node\'s own as it is', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'performance')!;
    const original = globalThis.performance;
    try {
      // A DOM test environment's kind: a read-only getter.
      Object.defineProperty(globalThis, 'performance', { get: () => original, configurable: true, enumerable: true });
      new Core({ hooks: [], report: () => {} });
      const after = Object.getOwnPropertyDescriptor(globalThis, 'performance')!;
      expect([typeof after.get, after.set, 'value' in after]).toEqual(['function', undefined, false]);
    } finally {
      Object.defineProperty(globalThis, 'performance', saved);
    }
  });
});
