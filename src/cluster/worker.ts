import cluster from 'node:cluster';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { isMainThread } from 'node:worker_threads';
import type { Concern, ConcernContext, EndpointHandler } from '../core/index.js';
import type { RegistrySnapshot } from '../core/snapshot.js';
import type { ResolvedClusterOptions } from './options.js';
import { isMessage, TAG } from './protocol.js';
import { SnapshotEncoder } from './wire.js';
import type { LifecycleStateName, PrimaryMessage, WorkerMessage } from './protocol.js';

/** What the worker side needs of the other concerns, handed in by the composition root. */
export interface ClusterWorkerSinks {
  /** The registry's values (undefined with metrics off: the worker then answers with none). */
  readonly snapshot: (() => Promise<RegistrySnapshot>) | undefined;
  /** The metrics endpoint's handler, for the fallback server. */
  readonly serve: EndpointHandler | undefined;
  /** Its path (`metrics.path`). */
  readonly path: string;
  /** The worker's lifecycle state, reported to the primary for its readiness. */
  readonly state: () => LifecycleStateName;
}

export interface ClusterWorkerConcern extends Concern {
  /** `primary` once a periscope primary welcomed this worker, `fallback` once it serves its own port, else `waiting`. */
  readonly mode: () => 'waiting' | 'primary' | 'fallback';
  /** The slot (`worker` label) the primary gave, or the fallback's. */
  readonly slot: () => number | undefined;
}

/** True in the main thread of a Node cluster worker (PM2 cluster mode included) that has an IPC channel. */
export function isClusterWorker(): boolean {
  return cluster.isWorker && isMainThread && typeof process.send === 'function';
}

/** How often the worker tells its primary that its lifecycle state changed (read, then sent only on change). */
const STATE_POLL_MS = 500;

/**
 * The worker side of the cluster concern. It says hello to its primary; a periscope primary
 * answers with the worker's slot, then asks for the worker's values at each scrape. Without an
 * answer within `primaryTimeoutMs` (PM2's daemon, a custom primary), the worker serves its own
 * `/metrics` on `fallbackPort + slot` and warns once.
 */
export function clusterWorkerConcern(ctx: ConcernContext, options: ResolvedClusterOptions, sinks: ClusterWorkerSinks): ClusterWorkerConcern {
  let mode: 'waiting' | 'primary' | 'fallback' = 'waiting';
  let slot: number | undefined;
  let lastState: LifecycleStateName | undefined;
  let fallback: Server | undefined;
  let poll: NodeJS.Timeout | undefined;
  const encoder = new SnapshotEncoder();
  /** Whether the primary reads wire.ts's compact values (its welcome said `wire: 2`). */
  let compact = false;

  const send = (message: WorkerMessage): void => {
    try {
      // The callback catches a channel that closed while the message was queued.
      process.send!(message, undefined, undefined, (error: Error | null) => {
        if (error) ctx.report(error, 'cluster-send');
      });
    } catch (error) {
      ctx.report(error, 'cluster-send');
    }
  };

  const state = (): LifecycleStateName => {
    try {
      return sinks.state();
    } catch {
      return 'starting';
    }
  };

  const collect = async (id: number): Promise<void> => {
    let families: RegistrySnapshot = [];
    try {
      if (sinks.snapshot !== undefined) families = await sinks.snapshot();
    } catch (error) {
      ctx.report(error, 'cluster-collect');
    }
    lastState = state();
    send({ tag: TAG, type: 'values', id, state: lastState, families: compact ? encoder.encode(families) : families });
  };

  const onMessage = (message: unknown): void => {
    if (!isMessage(message)) return;
    const m = message as PrimaryMessage;
    if (m.type === 'welcome') {
      clearTimeout(timer);
      // A primary slower than primaryTimeoutMs (a loaded machine) still wins: the fallback stops.
      if (mode === 'fallback') stopFallback();
      mode = 'primary';
      slot = m.slot;
      compact = m.wire === 2;
      if (poll === undefined) {
        poll = setInterval(() => {
          const now = state();
          if (now !== lastState) {
            lastState = now;
            send({ tag: TAG, type: 'state', state: now });
          }
        }, STATE_POLL_MS).unref();
      }
    } else if (m.type === 'collect' && typeof m.id === 'number') {
      void collect(m.id);
    }
  };

  const startFallback = (): void => {
    if (mode !== 'waiting') return;
    mode = 'fallback';
    slot = options.instance ?? (cluster.worker === undefined ? 0 : cluster.worker.id - 1);
    const port = options.fallbackPort + slot;
    const where = `${options.fallbackHost ?? '0.0.0.0'}:${port}`;
    if (sinks.serve === undefined) {
      ctx.notice('PERISCOPE_CLUSTER_FALLBACK', `periscope: no periscope primary answered within ${options.primaryTimeoutMs} ms (PM2 cluster mode or a custom primary?); metrics are off, so nothing is served`);
      return;
    }
    ctx.notice(
      'PERISCOPE_CLUSTER_FALLBACK',
      `periscope: no periscope primary answered within ${options.primaryTimeoutMs} ms (PM2 cluster mode or a custom primary?); this worker (slot ${slot}) serves its own metrics on ${where}${sinks.path}. Call instrumentPrimary() in the primary for one merged /metrics.`,
    );
    const serve = sinks.serve;
    const server = createServer((req, res) => {
      const q = req.url?.indexOf('?') ?? -1;
      const path = q < 0 ? req.url : req.url!.slice(0, q);
      if (path !== sinks.path) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found\n');
        return;
      }
      Promise.resolve()
        .then(() => serve(req, res))
        .catch((error: unknown) => {
          ctx.report(error, 'cluster-fallback');
          if (!res.headersSent) res.writeHead(500).end();
        });
    });
    server.on('error', (error) => ctx.report(error, 'cluster-fallback-listen'));
    // exclusive: a cluster worker's listen() otherwise goes through the primary, which would
    // share one handle between workers (and with PM2 spread scrapes over them).
    server.listen({ port, host: options.fallbackHost, exclusive: true });
    server.unref();
    fallback = server;
  };

  const stopFallback = (): void => {
    const server = fallback;
    fallback = undefined;
    if (server === undefined) return;
    server.close();
    server.closeAllConnections();
    ctx.logger.info({ slot }, 'periscope: a periscope primary answered after all; this worker stopped serving its own metrics');
  };

  process.on('message', onMessage);
  // The timer may come due while the welcome waits unread (a worker busy starting up runs its
  // timers before it reads its IPC channel): one more turn of the event loop reads it first.
  const timer = setTimeout(() => setImmediate(startFallback), options.primaryTimeoutMs);
  timer.unref();
  lastState = state();
  send({ tag: TAG, type: 'hello', state: lastState });

  return {
    name: 'cluster',
    mode: () => mode,
    slot: () => slot,
    shutdown: [
      {
        phase: 'close',
        name: 'cluster',
        run: async () => {
          clearTimeout(timer);
          if (poll !== undefined) clearInterval(poll);
          // Draining: the primary stops counting this worker as ready at once.
          if (mode === 'primary') send({ tag: TAG, type: 'state', state: 'draining' });
          process.off('message', onMessage);
          const server = fallback;
          if (server !== undefined && server.listening) {
            await new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            });
          }
        },
      },
    ],
  };
}
