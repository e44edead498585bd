import { collectDefaultMetrics, Gauge } from '@prometheus-io/client';
import type { Registry } from '@prometheus-io/client';
import { performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

/**
 * The client's default metrics include three gauges whose names end in `_total`, which
 * Prometheus naming rules reserve for counters (`promtool check metrics` rejects them).
 * periscope drops those three and exposes the same numbers under these names.
 */
export const RENAMED_RUNTIME_GAUGES = {
  nodejs_active_handles_total: 'nodejs_active_handles_all',
  nodejs_active_requests_total: 'nodejs_active_requests_all',
  nodejs_active_resources_total: 'nodejs_active_resources_all',
} as const;

type ProcessWithInternals = NodeJS.Process & {
  _getActiveHandles?: () => unknown[];
  _getActiveRequests?: () => unknown[];
};

/**
 * The client's event-loop-utilization pair is named after its types
 * (`nodejs_eventloop_utilization_histogram`, `_summary`), which promtool also rejects, and
 * is fed by a 100 ms interval. periscope replaces both with one gauge computed when scraped.
 */
const CLIENT_ELU_METRICS = ['nodejs_eventloop_utilization_histogram', 'nodejs_eventloop_utilization_summary'];

/**
 * Registers the client's process and runtime metrics (once per registry), with conforming names.
 * In a worker thread the process-wide ones (`process_*`: CPU, RSS, fds, start time, the
 * process's heap) are left to the main thread, so a process's threads never report them again
 * (RSS once, not once per thread); the per-isolate `nodejs_*` ones (heap, GC, event loop) stay.
 */
export function registerRuntimeMetrics(registry: Registry, mainThread = isMainThread): void {
  if (registry.getSingleMetric('nodejs_eventloop_lag_seconds') !== undefined) return;
  collectDefaultMetrics({ register: registry });
  for (const name of [...Object.keys(RENAMED_RUNTIME_GAUGES), ...CLIENT_ELU_METRICS]) registry.removeSingleMetric(name);
  if (!mainThread) for (const m of registry.getMetricsAsArray()) if (m.name.startsWith('process_')) registry.removeSingleMetric(m.name);
  let lastElu = performance.eventLoopUtilization();
  new Gauge({
    name: 'nodejs_eventloop_utilization',
    help: 'Share of time the event loop was busy (0 to 1) since the previous scrape.',
    registers: [registry],
    collect() {
      const now = performance.eventLoopUtilization();
      this.set(performance.eventLoopUtilization(now, lastElu).utilization);
      lastElu = now;
    },
  });
  const proc = process as ProcessWithInternals;
  const gauges: [string, string, () => number | undefined][] = [
    [RENAMED_RUNTIME_GAUGES.nodejs_active_handles_total, 'Number of active libuv handles, all types together.', () => proc._getActiveHandles?.().length],
    [RENAMED_RUNTIME_GAUGES.nodejs_active_requests_total, 'Number of active libuv requests, all types together.', () => proc._getActiveRequests?.().length],
    [RENAMED_RUNTIME_GAUGES.nodejs_active_resources_total, 'Number of active resources keeping the event loop alive, all types together.', () => process.getActiveResourcesInfo().length],
  ];
  for (const [name, help, read] of gauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const n = read();
        if (n !== undefined) this.set(n);
      },
    });
  }
}

export interface BuildInfo {
  service: string;
  version: string;
  commit: string;
}

/** `app_build_info{service,version,commit,node_version} 1`. */
export function registerBuildInfo(registry: Registry, info: BuildInfo): void {
  if (registry.getSingleMetric('app_build_info') !== undefined) return;
  const gauge = new Gauge({
    name: 'app_build_info',
    help: 'Always 1; the labels say which build of the service is running.',
    labelNames: ['service', 'version', 'commit', 'node_version'],
    registers: [registry],
  });
  gauge.set({ service: info.service, version: info.version, commit: info.commit, node_version: process.version }, 1);
}
