import { createServer } from 'node:http';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { instrument } from '../../src/index.js';
import { parseExposition, value } from '../helpers.js';
import { writeExposition } from '../../src/metrics/index.js';

// The thread runs periscope from dist/ (`npm run build` first): a worker thread cannot load the TypeScript sources.
const DIST = new URL('../../dist/index.js', import.meta.url).href;

describe('worker_threads', () => {
  it('process-wide metrics (RSS, CPU, fds) come from the main thread only, once, equal to the process', async () => {
    const thread = new Worker(
      `const { parentPort } = require('node:worker_threads');
       import(${JSON.stringify(DIST)}).then(({ instrument }) => {
         const obs = instrument(require('node:http').createServer(), { logging: false, tracing: false, shutdown: false, health: false, cluster: false });
         parentPort.postMessage(obs.registry.getMetricsAsArray().map((m) => m.name));
       });`,
      { eval: true },
    );
    const [names] = (await once(thread, 'message')) as [string[]];
    await thread.terminate();
    expect(names.filter((n) => n.startsWith('process_'))).toEqual([]);
    // Per-isolate values stay in the thread.
    expect(names).toContain('nodejs_heap_size_used_bytes');
    expect(names).toContain('nodejs_eventloop_lag_seconds');

    const obs = instrument(createServer(), { logging: false, tracing: false, shutdown: false, health: false });
    const metrics = await parseExposition((await writeExposition(obs.registry, false)).body);
    const rss = value(metrics, 'process_resident_memory_bytes');
    const real = process.memoryUsage().rss;
    // Read moments apart: the same order of magnitude, not a multiple of it.
    expect(rss / real).toBeGreaterThan(0.5);
    expect(rss / real).toBeLessThan(1.5);
  });
});
