import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';


/** Milliseconds from a histogram's nanoseconds, to the microsecond. */
const ms = (ns: number) => Math.round(ns / 1000) / 1000;

/** Open file descriptors (Linux' /proc/self/fd), or null where that is not readable. */
function openFds(): number | null {
  try {
    // One entry is the descriptor readdir itself holds open.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return null;
  }
}

/**
 * What `/debug/resources` serves: the nearest analogue of Go's goroutine dump. The delay
 * histogram is sampled from enable time (`monitorEventLoopDelay`, a libuv timer at 20 ms).
 */
export class Resources {
  readonly #delay: ReturnType<typeof monitorEventLoopDelay>;
  #elu = performance.eventLoopUtilization();

  constructor() {
    this.#delay = monitorEventLoopDelay({ resolution: 20 });
    this.#delay.enable();
  }

  /** The JSON document; event-loop utilization and delay cover the time since the last call (or since enable). */
  snapshot(running: string | null): object {
    const byType: Record<string, number> = {};
    const active = process.getActiveResourcesInfo();
    for (const type of active) byType[type] = (byType[type] ?? 0) + 1;
    const elu = performance.eventLoopUtilization(this.#elu);
    this.#elu = performance.eventLoopUtilization();
    const d = this.#delay;
    const delay = {
      min_ms: ms(d.min),
      mean_ms: ms(d.mean),
      p50_ms: ms(d.percentile(50)),
      p90_ms: ms(d.percentile(90)),
      p99_ms: ms(d.percentile(99)),
      max_ms: ms(d.max),
      samples: d.count,
    };
    d.reset();
    const m = process.memoryUsage();
    return {
      pid: process.pid,
      running,
      uptime_seconds: Math.round(process.uptime() * 1000) / 1000,
      active_resources: { total: active.length, by_type: byType },
      event_loop: { utilization: Math.round(elu.utilization * 10_000) / 10_000, window_ms: Math.round(elu.idle + elu.active), delay },
      memory: { rss_bytes: m.rss, heap_total_bytes: m.heapTotal, heap_used_bytes: m.heapUsed, external_bytes: m.external, array_buffers_bytes: m.arrayBuffers },
      open_fds: openFds(),
      versions: { node: process.versions.node, v8: process.versions.v8, uv: process.versions.uv, openssl: process.versions.openssl },
    };
  }

  close(): void {
    this.#delay.disable();
  }
}
