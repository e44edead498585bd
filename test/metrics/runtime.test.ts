import { afterEach, describe, expect, it, vi } from 'vitest';
import { performance } from 'node:perf_hooks';
import { Registry } from '@prometheus-io/client';
import { registerRuntimeMetrics } from '../../src/metrics/runtime.js';

describe('runtime metrics', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('runs no 100 ms timer for the client event-loop-utilization pair periscope removes', () => {
    // The client feeds nodejs_eventloop_utilization_{histogram,summary} from a 100 ms interval
    // (a t-digest observe each tick, forever). periscope drops both metrics, so the interval
    // would be pure idle work: about 2 million instructions a second, counted with callgrind.
    const elu = vi.spyOn(performance, 'eventLoopUtilization');
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    const registry = new Registry();
    registerRuntimeMetrics(registry);
    const afterSetup = elu.mock.calls.length;
    vi.advanceTimersByTime(10_000);
    expect(elu.mock.calls.length - afterSetup).toBe(0);
    expect(registry.getSingleMetric('nodejs_eventloop_utilization_summary')).toBeUndefined();
    expect(registry.getSingleMetric('nodejs_eventloop_utilization')).toBeDefined();
  });
});
