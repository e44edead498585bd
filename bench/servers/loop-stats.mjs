// The server's own view of its tails, for bench/tails.mjs and bench/scrape-load.mjs: the
// event-loop delay histogram (perf_hooks.monitorEventLoopDelay) and garbage-collection pauses
// (a PerformanceObserver on 'gc' entries). On only when the server was started with
// `--loop-stats`, so the other scenarios (and callgrind's instruction counts) run without it.
// Driven over the runner's IPC channel: 'loop-reset' starts a measurement window (answered
// `{ loopReset: true }`), 'loop-stats' ends it (answered `{ loopStats }`, durations in ms).
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';

/** Node's default sampling resolution: a stall shows as the timer firing that much late. */
export const RESOLUTION_MS = 10;

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MINOR_MARK_SWEEP]: 'minor_mark_sweep',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

export function startLoopStats() {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const fresh = () => ({ count: 0, total_ms: 0, max_ms: 0, by_kind: {} });
  let gc = fresh();
  const take = (entries) => {
    for (const e of entries) {
      gc.count++;
      gc.total_ms += e.duration;
      if (e.duration > gc.max_ms) gc.max_ms = e.duration;
      const kind = KINDS[e.detail?.kind] ?? String(e.detail?.kind);
      const k = (gc.by_kind[kind] ??= { count: 0, total_ms: 0, max_ms: 0 });
      k.count++;
      k.total_ms += e.duration;
      if (e.duration > k.max_ms) k.max_ms = e.duration;
    }
  };
  const observer = new PerformanceObserver((list) => take(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  let since = performance.now();
  const ms = (ns) => +(ns / 1e6).toFixed(3);
  process.on('message', (message) => {
    if (message === 'loop-reset') {
      observer.takeRecords();
      histogram.reset();
      gc = fresh();
      since = performance.now();
      process.send({ loopReset: true });
    } else if (message === 'loop-stats') {
      take(observer.takeRecords());
      const round = (x) => +x.toFixed(3);
      const byKind = Object.fromEntries(Object.entries(gc.by_kind).map(([k, v]) => [k, { count: v.count, total_ms: round(v.total_ms), max_ms: round(v.max_ms) }]));
      process.send({
        loopStats: {
          seconds: round((performance.now() - since) / 1000),
          loop_delay: {
            resolution_ms: RESOLUTION_MS,
            samples: histogram.count,
            min_ms: ms(histogram.min),
            mean_ms: ms(histogram.mean),
            p50_ms: ms(histogram.percentile(50)),
            p99_ms: ms(histogram.percentile(99)),
            p999_ms: ms(histogram.percentile(99.9)),
            max_ms: ms(histogram.max),
          },
          gc: { count: gc.count, total_ms: round(gc.total_ms), max_ms: round(gc.max_ms), by_kind: byKind },
        },
      });
    }
  });
}
