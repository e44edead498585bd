import type { Cluster } from 'node:cluster';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Gauge, Histogram } from '@prometheus-io/client';
import type { Registry } from '@prometheus-io/client';
import type { Concern, ConcernContext, EndpointSpec } from '../core/index.js';
import type { RegistrySnapshot } from '../core/snapshot.js';
import { Fleet } from './fleet.js';
import type { CollectResult, WorkerInfo } from './fleet.js';
import { ClusterMerger } from './merge.js';
import type { ResolvedPrimaryOptions } from './options.js';

const TEXT = 'text/plain; charset=utf-8';
const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** `/healthz` of a primary. */
export interface PrimaryHealthzBody {
  status: 'healthy' | 'degraded' | 'unhealthy';
  version: string;
  uptime_seconds: number;
  ready_workers: number;
  min_ready_workers: number;
  draining: boolean;
  workers: WorkerInfo[];
}

export interface ClusterPrimaryConcern extends Concern {
  readonly fleet: Fleet;
  /** Readiness off: `/readyz` answers 503 from now on. */
  drain(): void;
  /** Stops following the cluster. */
  close(): void;
}

export interface ClusterPrimarySinks {
  readonly cluster: Cluster;
  /** The primary's own registry's values, merged with the workers'. */
  readonly snapshot: () => Promise<RegistrySnapshot>;
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Resolves when `res` can take more, or has closed (a scrape given up on). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function refuseMethod(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  res.writeHead(405, { allow: 'GET, HEAD', 'content-type': TEXT }).end('Method Not Allowed\n');
  return true;
}

/**
 * The primary side of the cluster concern: follows the workers (slots, states), serves the
 * merged `/metrics` and the primary's probes on the primary's own port, and records
 * `periscope_cluster_*` in the primary's registry.
 */
export function clusterPrimaryConcern(ctx: ConcernContext & { readonly registry: Registry }, options: ResolvedPrimaryOptions, sinks: ClusterPrimarySinks): ClusterPrimaryConcern {
  const merger = new ClusterMerger((code, message) => ctx.warn(code, message));
  const fleet = new Fleet(sinks.cluster, merger, options.cluster.collectTimeoutMs, ctx.report, (slot, pid, code, signal) => {
    // A death the shutdown did not ask for: readiness only counts live workers, so say it here.
    if (draining) return;
    const how = signal != null ? `signal ${signal}` : code != null ? `code ${code}` : 'before its exit was seen';
    ctx.warn('PERISCOPE_CLUSTER_WORKER_EXITED', `periscope: cluster worker ${slot} (pid ${pid ?? '?'}) exited (${how}); its counters stay under worker="${slot}" and the next fork takes the slot`, {
      worker: slot,
      pid,
      code: code ?? null,
      signal: signal ?? null,
    });
  });
  const registry = ctx.registry;
  const up = new Gauge({
    name: 'periscope_cluster_worker_up',
    help: 'Whether the worker in this slot answered the last scrape in time (1) or not (0: late, blocked, or exited).',
    labelNames: ['worker'],
    registers: [registry],
  });
  const expected = new Gauge({ name: 'periscope_cluster_workers_expected', help: 'Live cluster workers at the last scrape.', registers: [registry] });
  const responded = new Gauge({ name: 'periscope_cluster_workers_responded', help: 'Cluster workers that answered the last scrape in time.', registers: [registry] });
  const duration = new Histogram({
    name: 'periscope_cluster_collect_duration_seconds',
    help: "Time the primary waited for its workers' values at a scrape.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const started = performance.now();
  let draining = false;

  async function metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (refuseMethod(req, res)) return;
    const start = performance.now();
    const r = await fleet.collect();
    duration.observe((performance.now() - start) / 1000);
    // The workers' value arrays are written into again by later answers once this scrape has
    // written its body out (or given up).
    try {
      await answer(req, res, r);
    } finally {
      r.release();
    }
  }

  async function answer(req: IncomingMessage, res: ServerResponse, r: CollectResult): Promise<void> {
    expected.set(r.expected);
    responded.set(r.responded);
    for (const [slot, v] of r.up) up.set({ worker: String(slot) }, v);
    if (r.late.length > 0 && options.cluster.onWorkerTimeout === 'fail') {
      send(req, res, 503, TEXT, `worker${r.late.length === 1 ? '' : 's'} ${r.late.join(', ')} did not answer within ${options.cluster.collectTimeoutMs} ms (cluster.onWorkerTimeout: 'fail')\n`);
      return;
    }
    const own = await sinks.snapshot();
    // Streamed (chunked), each piece sent as it is made and the next one made once the socket
    // takes it: the primary never holds the whole body (39 MB at 8 x 2,000 label sets), and
    // writes it into the same few Buffers scrape after scrape.
    res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    for (const piece of merger.pieces(own, r.workers)) {
      if (res.destroyed) return;
      // The piece's memory is written into again once the socket has it (not on an error:
      // a destroyed socket's queue may still hold it).
      const taken = res.write(piece, (error) => {
        if (error == null) merger.recycle(piece);
      });
      if (!taken) await drained(res);
    }
    res.end();
  }

  const ready = (): boolean => !draining && fleet.readyCount() >= options.cluster.minReadyWorkers;

  function healthz(): PrimaryHealthzBody {
    const workers = fleet.workers();
    const readyWorkers = fleet.readyCount();
    const status = !ready() ? 'unhealthy' : readyWorkers < workers.length ? 'degraded' : 'healthy';
    return {
      status,
      version: options.version,
      uptime_seconds: Math.round((performance.now() - started) / 1000),
      ready_workers: readyWorkers,
      min_ready_workers: options.cluster.minReadyWorkers,
      draining,
      workers,
    };
  }

  const { port, host } = options.metrics;
  const endpoints: EndpointSpec[] = [{ path: options.metrics.path, handler: metrics, port, host }];
  const h = options.health;
  if (h !== false) {
    endpoints.push(
      {
        path: h.livePath,
        port,
        host,
        handler: (req, res) => {
          if (!refuseMethod(req, res)) send(req, res, 200, TEXT, 'ok\n');
        },
      },
      {
        path: h.readyPath,
        port,
        host,
        handler: (req, res) => {
          if (refuseMethod(req, res)) return;
          const n = fleet.readyCount();
          const line = `${n} of ${fleet.workers().length} workers ready (at least ${options.cluster.minReadyWorkers} needed)`;
          if (ready()) send(req, res, 200, TEXT, `ok: ${line}\n`);
          else send(req, res, 503, TEXT, draining ? 'not ready: shutting down\n' : `not ready: ${line}\n`);
        },
      },
      {
        path: h.healthPath,
        port,
        host,
        handler: (req, res) => {
          if (refuseMethod(req, res)) return;
          const body = healthz();
          send(req, res, body.status === 'unhealthy' ? 503 : 200, 'application/json; charset=utf-8', JSON.stringify(body));
        },
      },
    );
  }

  fleet.attach();
  return {
    name: 'cluster',
    fleet,
    endpoints,
    drain: () => void (draining = true),
    close: () => fleet.detach(),
    shutdown: [{ phase: 'close', name: 'cluster', run: () => fleet.detach() }],
  };
}
