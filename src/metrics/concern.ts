import type { Registry } from '@prometheus-io/client';
import { protect } from '../core/index.js';
import type { Concern, ConcernContext, EndpointHandler } from '../core/index.js';
import type { ResolvedMetricsOptions } from './options.js';
import { createMetrics } from './index.js';
import type { HttpMetrics } from './http-metrics.js';
import { trackRejections } from './rejected.js';

export interface MetricsConcern extends Concern {
  readonly registry: Registry;
  readonly http: HttpMetrics;
  /** The `/metrics` handler (with `metrics.auth` applied), for a server of another concern (the cluster fallback). */
  readonly serve: EndpointHandler;
  /** The request-duration histogram, for reading RED per route (the developer console's sink). */
  readonly red: { readonly bounds: Float64Array; series(): Iterable<{ route: string; status: string; count: number; counts: Float64Array }> };
}

/**
 * The metrics concern: request metrics per route, the runtime and build metrics, and `/metrics`.
 * With `serveEndpoint: false` (a cluster worker) it serves no `/metrics`: on the app port, each
 * scrape would reach whichever worker the OS picked.
 */
export function metricsConcern(ctx: ConcernContext & { readonly registry: Registry }, options: ResolvedMetricsOptions, serveEndpoint = true): MetricsConcern {
  const metrics = createMetrics({ options, registry: ctx.registry, build: { service: ctx.service.name, version: ctx.service.version, commit: ctx.service.commit }, report: ctx.report });
  const trackRejected = trackRejections(ctx.registry, ctx.logger);
  const serve = options.auth === undefined ? metrics.serve : protect(metrics.serve, options.auth);
  return {
    name: 'metrics',
    registry: metrics.registry,
    http: metrics.http,
    red: { bounds: metrics.http.durationBounds, series: () => metrics.http.durationSeries() },
    hook: metrics.http,
    serve,
    endpoints: serveEndpoint ? [{ path: options.path, handler: serve, port: options.port, host: options.host }] : [],
    trackServer: (server) => {
      metrics.http.trackServer(server);
      trackRejected(server);
    },
  };
}
