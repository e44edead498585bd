import { Gauge, Histogram } from '@prometheus-io/client';
import type { Registry } from '@prometheus-io/client';
import type { CheckReport, HealthSink, PoolStats } from './checks.js';
import type { LifecycleState } from './lifecycle.js';

const CHECK_STATUS_VALUE = { healthy: 1, degraded: 0.5, unhealthy: 0 } as const;

export interface HealthMetricsSources {
  state(): LifecycleState;
  poolStats(): [string, PoolStats][];
}

/**
 * The health concern's metrics: each check's last status and run time, `app_ready`, and the
 * sizes of the pools that checks watch (read at scrape time). Returns the sink the check
 * runner writes results through.
 */
export function registerHealthMetrics(registry: Registry, sources: HealthMetricsSources): HealthSink {
  const status = new Gauge({
    name: 'health_check_status',
    help: 'Last result of each health check: 1 healthy, 0.5 degraded, 0 unhealthy.',
    labelNames: ['check'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'health_check_duration_seconds',
    help: 'Time taken by health check runs (a timed-out run counts its timeout).',
    labelNames: ['check'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  /** Critical readiness checks whose last result was unhealthy. */
  const failing = new Set<string>();
  new Gauge({
    name: 'app_ready',
    help: 'Whether the service is ready (1) or not (0): starting, a critical readiness check failing at its last run, draining or stopped.',
    registers: [registry],
    collect() {
      this.set(sources.state() === 'ready' && failing.size === 0 ? 1 : 0);
    },
  });
  // Pool sizes follow OpenTelemetry's db.client.connection.* conventions, named by Prometheus'
  // rules first: a gauge never ends in _count (promtool reads that as a histogram's or summary's).
  new Gauge({
    name: 'db_client_connections',
    help: 'Connections in the pools that health checks watch, by state (idle, used).',
    labelNames: ['pool_name', 'state'],
    registers: [registry],
    collect() {
      for (const [name, s] of sources.poolStats()) {
        this.set({ pool_name: name, state: 'idle' }, s.idle);
        this.set({ pool_name: name, state: 'used' }, s.total - s.idle);
      }
    },
  });
  new Gauge({
    name: 'db_client_connection_pending_requests',
    help: 'Requests waiting for a connection from the pools that health checks watch.',
    labelNames: ['pool_name'],
    registers: [registry],
    collect() {
      for (const [name, s] of sources.poolStats()) this.set({ pool_name: name }, s.waiting);
    },
  });
  new Gauge({
    name: 'db_client_connection_max',
    help: 'Configured maximum size of the pools that health checks watch.',
    labelNames: ['pool_name'],
    registers: [registry],
    collect() {
      for (const [name, s] of sources.poolStats()) if (s.max !== undefined) this.set({ pool_name: name }, s.max);
    },
  });
  return {
    checkFinished(r: CheckReport) {
      status.set({ check: r.name }, CHECK_STATUS_VALUE[r.status]);
      duration.observe({ check: r.name }, r.latencyMs / 1000);
      if (r.critical && r.kind === 'readiness' && r.status === 'unhealthy') failing.add(r.name);
      else failing.delete(r.name);
    },
  };
}
