import { afterEach, describe, expect, it } from 'vitest';
import { FRAMEWORKS, startApp } from '../fixtures/apps.js';
import { parseExposition, samples } from '../helpers.js';
import { fastExport, Receiver, SERVER_KIND } from '../tracing/helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const HELD = 20;

describe('requests cut off at the shutdown deadline are counted, logged and traced before the flush', () => {
  it.each(FRAMEWORKS)('%s', async (framework) => {
    const lines: Record<string, unknown>[] = [];
    const receiver = new Receiver();
    const endpoint = await receiver.start();
    cleanups.push(() => receiver.close());
    const app = await startApp(framework, {
      logging: { destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } },
      tracing: fastExport(endpoint),
      health: { eventLoop: false },
      shutdown: { signals: [], exit: false, drainDelayMs: 0, timeoutMs: 300 },
    });
    cleanups.push(() => app.gate.release());
    app.gate.arm();
    let entered = 0;
    const allIn = new Promise<void>((resolve) => app.gate.on('entered', () => ++entered === HELD && resolve()));
    const held = Array.from({ length: HELD }, () => fetch(`${app.base}/gate`).then((r) => r.status, (e: Error) => e.name));
    await allIn;
    const report = await app.obs.shutdown();
    expect(report).toMatchObject({ timedOut: true, code: 1 });
    // Every held request ended before the flush: its line was written and its span exported.
    const cut = lines.filter((l) => l.msg === 'request completed');
    expect(cut).toHaveLength(HELD);
    for (const line of cut) {
      expect(line).toMatchObject({ level: 'error', route: '/gate', status_code: 503 });
      expect(JSON.stringify(line.err)).toContain('request cut off by the shutdown deadline (300 ms)');
    }
    const spans = receiver.spans.filter((s) => s.kind === SERVER_KIND);
    expect(spans).toHaveLength(HELD);
    expect(spans.every((s) => s.status.code === 2 && s.status.message === 'request cut off by the shutdown deadline (300 ms)')).toBe(true);
    const metrics = await parseExposition(await app.obs.registry.metrics());
    expect(samples(metrics, 'http_requests_total', { route: '/gate' }).map((s) => [s.labels.status_code, s.value])).toEqual([['503', HELD]]);
    expect(samples(metrics, 'http_requests_in_flight').reduce((sum, s) => sum + (s.value ?? 0), 0)).toBe(0);
    // The clients saw their connections close.
    expect(new Set(await Promise.all(held))).toEqual(new Set(['TypeError']));
  });
});
