import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter } from '@prometheus-io/client';
import { protect, sanitizeText } from '../core/index.js';
import type { Concern, ConcernContext, EndpointAuth, EndpointHandler, EndpointSpec } from '../core/index.js';
import type { ResolvedDiagnosticsOptions } from './options.js';
import { answerText, cpuProfileHandler, Exclusive, heapProfileHandler, heapSnapshotHandler } from './profiles.js';
import { Resources } from './resources.js';
import { StallWatchdog } from './watchdog.js';

/** What a diagnostics concern may be handed beyond the context. */
export interface DiagnosticsSinks {
  /** The document `GET <prefix>/config` serves (periscope's effective options, credentials masked). */
  readonly config?: (() => object) | undefined;
}

/** Who asked: the peer address, and the basic-auth user name when there is one. */
function who(req: IncomingMessage, auth: EndpointAuth | undefined): string {
  const address = req.socket.remoteAddress ?? 'unknown';
  if (auth === undefined || 'bearerToken' in auth) return address;
  const header = req.headers.authorization ?? '';
  if (header.length > 4096 || !/^basic /i.test(header)) return address;
  const user = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8').split(':')[0] ?? '';
  return `${sanitizeText(user, 64)}@${address}`;
}

/**
 * Logs every diagnostics request once it is answered: who asked, what (path and query), the
 * status and how long it took. A profile or a snapshot is something an operator wants to see
 * in the log of the process that served it.
 */
function logged(handler: EndpointHandler, ctx: ConcernContext, auth: EndpointAuth | undefined): EndpointHandler {
  return (req: IncomingMessage, res: ServerResponse) => {
    const start = performance.now();
    res.once('close', () => {
      const fields = {
        diagnostics: sanitizeText(req.url ?? '', 256),
        who: who(req, auth),
        status: res.headersSent ? res.statusCode : 499,
        duration_ms: Math.round(performance.now() - start),
      };
      ctx.logger.info(fields, `diagnostics request ${fields.diagnostics} from ${fields.who}: ${fields.status}`);
    });
    return handler(req, res);
  };
}

export interface DiagnosticsConcern extends Concern {
  /** The stall watchdog, when `stallMs` is not false. */
  readonly watchdog: StallWatchdog | undefined;
}

/**
 * The diagnostics concern: CPU and heap profiles in pprof format, heap snapshots, live
 * resources and the effective configuration under `prefix`, guarded by `auth` or a loopback
 * management port (the options made sure of one), and the event-loop stall watchdog.
 */
export function diagnosticsConcern(ctx: ConcernContext, options: ResolvedDiagnosticsOptions, sinks: DiagnosticsSinks = {}): DiagnosticsConcern {
  const exclusive = new Exclusive();
  const resources = new Resources();
  const json = (body: () => object): EndpointHandler => (_req, res) => {
    const text = JSON.stringify(body(), null, 2);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(`${text}\n`);
  };
  const routes: [string, EndpointHandler][] = [
    ['/pprof/profile', cpuProfileHandler(exclusive)],
    ['/pprof/heap', heapProfileHandler(exclusive)],
    ['/heapsnapshot', heapSnapshotHandler(exclusive)],
    ['/resources', json(() => resources.snapshot(exclusive.running))],
  ];
  const config = sinks.config;
  if (config !== undefined) routes.push(['/config', json(config)]);
  const index: EndpointHandler = (_req, res) => answerText(res, 200, ['periscope diagnostics:', ...routes.map(([p]) => `  ${options.prefix}${p}`)].join('\n'));
  routes.push(['', index]);
  const endpoints: EndpointSpec[] = routes.map(([path, handler]) => ({
    path: `${options.prefix}${path}`,
    handler: logged(options.auth === undefined ? handler : protect(handler, options.auth), ctx, options.auth),
    port: options.port,
    host: options.host,
  }));

  let watchdog: StallWatchdog | undefined;
  if (options.stallMs !== false) {
    const stalls =
      ctx.registry === undefined
        ? undefined
        : new Counter({ name: 'nodejs_eventloop_stalls_total', help: `Event-loop stalls longer than ${options.stallMs} ms (diagnostics.stallMs) seen by the watchdog.`, registers: [ctx.registry] });
    watchdog = new StallWatchdog({
      stallMs: options.stallMs,
      report: ctx.report,
      onStall: (s) => {
        stalls?.inc();
        const fields = { stall_ms: s.durationMs, stall_threshold_ms: options.stallMs, stack: s.stack, stall_trace_id: s.traceId, stall_span_id: s.spanId, stack_error: s.error };
        ctx.logger.warn(fields, `event loop stalled for ${s.durationMs} ms (threshold ${options.stallMs} ms)`);
      },
    });
  }
  return {
    name: 'diagnostics',
    endpoints,
    watchdog,
    shutdown: [
      {
        phase: 'close',
        name: 'diagnostics',
        run: async () => {
          resources.close();
          await watchdog?.close();
        },
      },
    ],
  };
}
