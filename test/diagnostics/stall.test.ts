import { trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { fastExport, Receiver } from '../tracing/helpers.js';
import { scrape, value } from '../helpers.js';
import { start, TOKEN } from './helpers.js';
import type { Started } from './helpers.js';

const open: Started[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

const STALL_EVENT = 'periscope.event_loop.stall';
/** The longest the loop is blocked if the watchdog never takes the stack (the test then fails on what it reports). */
const BLOCK_CAP_MS = 10_000;
const STALL_MS = 1000;

/**
 * Blocks the event loop until the watchdog has taken its stack: its hook, run in the paused
 * frame, adds the stall event to the request's span. A fixed time instead would have to
 * outlast detection plus the capture (150-200 ms of the main thread inside the stall, for the
 * debugger listing the loaded scripts), however slow the machine. The function the stall
 * report must name.
 */
function blockTheLoop(span: ReadableSpan): void {
  const end = Date.now() + BLOCK_CAP_MS;
  while (Date.now() < end) {
    for (const e of span.events) if (e.name === STALL_EVENT) return;
  }
}

/** Resolves once `cond()` holds, checking on each turn of the event loop. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('event-loop stall watchdog', () => {
  it('writes one warn line whose stack holds the blocking function, counts it and marks the request span', async () => {
    const receiver = new Receiver();
    const endpoint = await receiver.start();
    // 1000 ms rather than the default 500: the block lasts until the stack is taken, however
    // long that is, and nothing else in this process (the test's own requests, timers, a
    // collection) comes near a second without a turn of the loop, so a second stall line could
    // only be a second report of this one.
    const s = await start({ diagnostics: { auth: { bearerToken: TOKEN }, stallMs: STALL_MS }, tracing: fastExport(endpoint) }, (req, res) => {
      if (req.url === '/block') blockTheLoop(trace.getActiveSpan() as unknown as ReadableSpan);
      res.end('done');
    });
    open.push(s);
    expect(await (await fetch(`${s.app}/block`)).text()).toBe('done');
    const stalls = () => s.logs.lines.filter((l) => typeof l.stall_ms === 'number');
    await until(() => stalls().length > 0);
    // A few quiet turns more: a second report for the same stall would come now.
    for (let i = 0; i < 5; i++) await (await fetch(`${s.app}/`)).text();
    const lines = stalls();
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line.level).toBe('warn');
    expect(line.stall_threshold_ms).toBe(STALL_MS);
    expect(line.stall_ms).toBeGreaterThanOrEqual(STALL_MS);
    expect(line.msg).toBe(`event loop stalled for ${line.stall_ms as number} ms (threshold ${STALL_MS} ms)`);
    expect(line.stack).toMatch(/^ {4}at blockTheLoop \(.*stall\.test\.ts:\d+:\d+\)$/m);
    const { metrics } = await scrape(s.app);
    expect(value(metrics, 'nodejs_eventloop_stalls_total')).toBe(1);

    // The request that was running got a span event, and the line names its span.
    await s.obs.shutdown();
    const span = receiver.spans.find((sp) => sp.name === 'GET /block')!;
    await receiver.close();
    const event = span.events.find((e) => e.name === STALL_EVENT)!;
    expect(event.attributes['periscope.stall.stack']).toContain('blockTheLoop');
    expect(event.attributes['periscope.stall.elapsed_ms']).toBeGreaterThanOrEqual(STALL_MS);
    expect(line.stall_trace_id).toBe(span.traceId);
    expect(line.stall_span_id).toBe(span.spanId);
  });

  it('is off with stallMs: false: no thread, no counter', async () => {
    const s = await start({ diagnostics: { auth: { bearerToken: TOKEN }, stallMs: false } });
    open.push(s);
    const { metrics } = await scrape(s.app);
    expect(metrics.nodejs_eventloop_stalls_total).toBeUndefined();
  });
});

describe('the watchdog and debugger statements', () => {
  it('lets a `debugger` statement in the app run on instead of pausing the process', async () => {
    const s = await start({ diagnostics: { auth: { bearerToken: TOKEN } } }, (_req, res) => {
      // eslint-disable-next-line no-debugger
      debugger;
      res.end('went on');
    });
    open.push(s);
    expect(await (await fetch(`${s.app}/`)).text()).toBe('went on');
  });
});
