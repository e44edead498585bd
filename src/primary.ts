import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from '@prometheus-io/client';
import { compose, Reporter } from './core/index.js';
import type { ConcernContext } from './core/index.js';
import { EnvReader, emitEnvWarning, readEnv, resolveIdentity } from './core/env.js';
import { createError } from './errors.js';
import { clusterPrimaryConcern, resolvePrimary } from './cluster/index.js';
import type { PrimaryOptions, ResolvedPrimaryOptions, WorkerInfo } from './cluster/index.js';
import { registerRuntimeMetrics, snapshotRegistry } from './metrics/index.js';
import { createLogger } from './logging/index.js';

/** The handle {@link instrumentPrimary} returns. */
export interface PeriscopePrimary {
  /** The primary's own registry: its process metrics and `periscope_cluster_*`; add your own. Merged with the workers' at each scrape. */
  readonly registry: Registry;
  /** The options after defaults were applied (frozen). */
  readonly options: ResolvedPrimaryOptions;
  /** The primary's server (merged `/metrics` and probes). */
  readonly managementServer: Server | undefined;
  /** Resolves with its address once it listens (undefined if it failed to). */
  managementAddress(): Promise<AddressInfo | undefined>;
  /** The live workers: slot, pid, lifecycle state, and whether each answered the last scrape. */
  workers(): WorkerInfo[];
  /**
   * The cluster's graceful shutdown, as on SIGTERM but without exiting: readiness off, each
   * worker sent SIGTERM (each drains with its own periscope shutdown; the app's `exit` listener
   * sees `worker.exitedAfterDisconnect` true and should not fork a replacement), SIGKILL for the
   * workers still running at `shutdown.timeoutMs`, then the primary's server closed. Idempotent.
   */
  shutdown(): Promise<void>;
}

function waitForExit(workers: readonly Worker[], timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    let left = 0;
    const timer = setTimeout(() => {
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
      resolve();
    }, timeoutMs);
    const done = (): void => {
      if (--left > 0) return;
      clearTimeout(timer);
      resolve();
    };
    for (const w of workers) {
      if (w.isDead()) continue;
      left++;
      w.process.once('exit', done);
      // Marked as a chosen exit, so an `exit` listener written the usual way does not fork again.
      (w as { exitedAfterDisconnect: boolean }).exitedAfterDisconnect = true;
      w.process.kill('SIGTERM');
    }
    if (left === 0) {
      clearTimeout(timer);
      resolve();
    }
  });
}

/**
 * In a Node cluster primary: serves one merged `/metrics` (and `/livez`, `/readyz`,
 * `/healthz`) on its own port, never the workers' app port. Workers call `instrument(app)`
 * unchanged; their periscope finds this primary over IPC. Call it before or after forking.
 * Throws `PERISCOPE_ERR_INVALID_ARGUMENT` outside a cluster primary, and
 * `PERISCOPE_ERR_INVALID_OPTION` for a bad option.
 */
export function instrumentPrimary(options?: PrimaryOptions): PeriscopePrimary {
  if (!cluster.isPrimary) {
    throw createError('PERISCOPE_ERR_INVALID_ARGUMENT', ['instrumentPrimary()', 'the calling process', 'the cluster primary (cluster.isPrimary)', 'a cluster worker: call instrument(app) there']);
  }
  const read = new EnvReader(readEnv(), emitEnvWarning);
  const identity = resolveIdentity({}, read);
  const o = resolvePrimary(options, identity.version);
  const registry = o.metrics.registry ?? new Registry();
  const reporter = new Reporter(undefined, registry);
  const logger = createLogger({ serviceName: identity.serviceName, version: o.version });
  reporter.useLogger(logger);
  if (o.metrics.defaultMetrics) registerRuntimeMetrics(registry);
  const ctx: ConcernContext & { readonly registry: Registry } = {
    service: { name: identity.serviceName, version: o.version, commit: 'unknown' },
    framework: 'node-http',
    registry,
    logger,
    report: reporter.report,
    notice: (code, message) => reporter.notice(code, message),
    warn: (code, message, fields) => reporter.warn(code, message, fields),
  };
  const primary = clusterPrimaryConcern(ctx, o, {
    cluster,
    snapshot: () => snapshotRegistry(registry, (metric, error) => reporter.report(error, `collect:${metric}`)),
  });
  const composition = compose([primary], reporter.report);
  composition.management.listen();

  let stopping: Promise<void> | undefined;
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
  const stop = (reason: string, exit: boolean): Promise<void> =>
    (stopping ??= (async () => {
      for (const s of signals) process.off(s, onSignal);
      primary.drain();
      const workers = primary.fleet.liveWorkers();
      logger.info({ reason, workers: workers.length }, 'periscope: cluster shutdown: draining the workers');
      await waitForExit(workers, o.shutdown === false ? 30_000 : o.shutdown.timeoutMs);
      primary.close();
      await composition.management.close();
      logger.info({ reason }, 'periscope: cluster shutdown complete');
      if (exit) process.exit(0);
    })());
  const onSignal = (signal: NodeJS.Signals): void => void stop(signal, o.shutdown !== false && o.shutdown.exit);
  if (o.shutdown !== false) for (const s of signals) process.once(s, onSignal);

  return Object.freeze({
    registry,
    options: o,
    managementServer: composition.management.server(),
    managementAddress: () => composition.management.address(),
    workers: () => primary.fleet.workers(),
    shutdown: () => stop('shutdown() called', false),
  });
}
