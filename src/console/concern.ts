import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Concern, ConcernContext, LoggerLike } from '../core/index.js';
import { sanitizeText } from '../core/index.js';
import { APP_CSS, APP_JS, FAVICON_SVG, INDEX_HTML } from './assets.js';
import { COOKIE, hostAllowed, newToken, presentedToken, tokenDigest, tokenMatches } from './auth.js';
import { EventHub } from './events.js';
import { LogStore } from './logs.js';
import type { LogEntry } from './logs.js';
import { CONSOLE_DEFAULTS } from './options.js';
import type { ResolvedConsoleOptions } from './options.js';
import { RedSampler } from './red.js';
import type { RedSource } from './red.js';
import { spanTap, summaryOf, TraceStore } from './traces.js';
import type { TraceSummary } from './traces.js';

/** A breaker as the console reads it (the resilience concern's CircuitBreaker fits). */
export interface BreakerLike {
  readonly name: string;
  readonly state: string;
  stats(): { readonly calls: number; readonly failures: number; readonly failureRate: number; readonly inFlight: number };
  on(event: 'stateChange', listener: (e: { readonly from: string; readonly to: string; readonly reason: string }) => void): unknown;
}

/** A health check's last run, as the health concern reports it. */
export interface CheckView {
  readonly name: string;
  readonly status: string;
  readonly critical: boolean;
  readonly kind: string;
  readonly message: string | undefined;
  readonly latencyMs: number;
  readonly checkedAt: number;
}

/** What the console reads once the other concerns exist (handed to `start()` by the composition root). */
export interface ConsoleSources {
  readonly logger: LoggerLike;
  /** The request-duration histogram of the metrics concern; undefined with metrics off. */
  readonly red: RedSource | undefined;
  /** Runs (or reads from cache) every health check. */
  readonly health: (() => Promise<{ readonly status: string; readonly state: string; readonly checks: readonly CheckView[] }>) | undefined;
}

/** The taps the other concerns are handed at creation, when (and only when) the console is on. */
export interface ConsoleTaps {
  /** For tracing's provider: every ended, sampled span. */
  readonly spans: SpanProcessor;
  /** For the logging concern's destination: every line periscope's logger writes. */
  readonly logLine: (line: string) => void;
  /** For the breakers concern: each breaker made. */
  readonly breaker: (breaker: BreakerLike) => void;
}

export interface ConsoleConcern extends Concern {
  readonly taps: ConsoleTaps;
  /** Listens on 127.0.0.1 and starts reading the sources. */
  start(sources: ConsoleSources): void;
  /** The login URL (`http://127.0.0.1:PORT/login?t=TOKEN`), once the listener listens. */
  url(): Promise<string>;
  /** Bounds and counters, as `/api/stats` serves them. */
  stats(): ConsoleStats;
}

export interface ConsoleStats {
  readonly traces: { readonly held: number; readonly max: number; readonly spans: number; readonly maxSpans: number; readonly evicted: number; readonly droppedSpans: number; readonly pinnedErrors: number; readonly pinnedSlowest: number };
  readonly logs: { readonly held: number; readonly max: number; readonly evicted: number; readonly tracesIndexed: number };
  readonly routes: { readonly held: number; readonly max: number; readonly maxPoints: number; readonly pointsHeld: number; readonly dropped: number };
  readonly stream: { readonly clients: number; readonly lastId: number; readonly resyncs: number; readonly overflows: number; readonly queueHighWater: number; readonly queueMax: number; readonly rejected: number; readonly skipped: number };
  readonly rss: number;
}

interface Transition {
  readonly kind: 'breaker' | 'check';
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
  readonly at: number;
}

const SECURITY_HEADERS = Object.freeze({
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
});

/** Most lines or traces one batch carries; the rest are counted as skipped (the page can refetch). */
const MAX_BATCH_ITEMS = 200;

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra }).end(body);
}

function json(res: ServerResponse, body: unknown): void {
  send(res, 200, 'application/json; charset=utf-8', JSON.stringify(body));
}

/**
 * The developer console: a page, its script and its stylesheet served from memory on a
 * listener of its own on 127.0.0.1, behind a random per-process token; JSON endpoints for the
 * initial state and one Server-Sent Events stream for what changes. Everything it shows is
 * held in bounded buffers fed by taps the other concerns are handed only when it is on.
 */
export function consoleConcern(ctx: Omit<ConcernContext, 'logger'>, options: ResolvedConsoleOptions): ConsoleConcern {
  const d = CONSOLE_DEFAULTS;
  const token = newToken();
  const expected = tokenDigest(token);
  const traces = new TraceStore({ maxTraces: d.maxTraces, maxSpans: d.maxSpans, maxSpansPerTrace: d.maxSpansPerTrace, pinnedErrors: d.pinnedErrors, pinnedSlowest: d.pinnedSlowest });
  const logs = new LogStore(d.maxLogLines);
  const hub = new EventHub({ replayEvents: d.replayEvents, replayBytes: d.replayBytes, clientQueueBytes: d.clientQueueBytes, maxClients: d.maxClients });
  const breakers = new Map<string, BreakerLike>();
  const transitions: Transition[] = [];
  const checkStatus = new Map<string, string>();
  let lastChecks: { status: string; state: string; checks: readonly CheckView[] } | undefined;
  let red: RedSampler | undefined;
  let sources: ConsoleSources | undefined;

  // What the next batch carries (bounded: past MAX_BATCH_ITEMS the rest are only counted).
  let pendingLogs: LogEntry[] = [];
  let pendingTraces: TraceSummary[] = [];
  let skipped = 0;
  let batchTimer: NodeJS.Timeout | undefined;
  const timers: NodeJS.Timeout[] = [];

  const schedule = () => {
    if (batchTimer !== undefined || hub.clients === 0) return;
    batchTimer = setTimeout(flush, d.batchMs);
    batchTimer.unref();
  };
  const flush = () => {
    batchTimer = undefined;
    if (pendingLogs.length > 0) hub.send('logs', pendingLogs);
    if (pendingTraces.length > 0) hub.send('traces', pendingTraces);
    pendingLogs = [];
    pendingTraces = [];
    hub.send('stats', stats());
  };
  logs.onLine = (entry) => {
    if (hub.clients === 0) return;
    if (pendingLogs.length < MAX_BATCH_ITEMS) pendingLogs.push(entry);
    else skipped++;
    schedule();
  };
  traces.onComplete = (t) => {
    if (hub.clients === 0) return;
    if (pendingTraces.length < MAX_BATCH_ITEMS) pendingTraces.push(summaryOf(t));
    else skipped++;
    schedule();
  };

  const addTransition = (t: Transition) => {
    transitions.push(t);
    if (transitions.length > d.transitions) transitions.shift();
  };

  const breakerViews = () =>
    [...breakers.values()].map((b) => {
      const s = b.stats();
      return { name: sanitizeText(b.name, 128), state: b.state, calls: s.calls, failures: s.failures, failureRate: s.failureRate, inFlight: s.inFlight };
    });

  const healthView = () => ({ overall: lastChecks?.status, state: lastChecks?.state, checks: lastChecks?.checks ?? [], breakers: breakerViews(), transitions: transitions.slice().reverse() });

  const readHealth = async (): Promise<void> => {
    const h = sources?.health;
    if (h === undefined) return;
    const snapshot = await h();
    for (const c of snapshot.checks) {
      const before = checkStatus.get(c.name);
      if (before !== undefined && before !== c.status) addTransition({ kind: 'check', name: c.name, from: before, to: c.status, reason: c.message ?? '', at: c.checkedAt });
      checkStatus.set(c.name, c.status);
    }
    lastChecks = snapshot;
  };

  const stats = (): ConsoleStats => {
    const pinned = traces.pinned;
    return {
      traces: { held: traces.traceCount, max: d.maxTraces, spans: traces.spanCount, maxSpans: d.maxSpans, evicted: traces.evicted, droppedSpans: traces.droppedSpans, pinnedErrors: pinned.errors, pinnedSlowest: pinned.slowest },
      logs: { held: logs.size, max: d.maxLogLines, evicted: logs.evicted, tracesIndexed: logs.tracesIndexed },
      routes: { held: red?.routesHeld() ?? 0, max: d.maxRoutes, maxPoints: d.redPoints, pointsHeld: red?.maxPointsHeld ?? 0, dropped: red?.routesDropped ?? 0 },
      stream: { clients: hub.clients, lastId: hub.lastId, resyncs: hub.resyncs, overflows: hub.overflows, queueHighWater: hub.queueHighWater, queueMax: d.clientQueueBytes, rejected: hub.rejected, skipped },
      rss: process.memoryUsage.rss(),
    };
  };

  const state = () => ({ service: ctx.service, stats: stats(), redIntervalMs: d.redIntervalMs, hasMetrics: red !== undefined, hasHealth: sources?.health !== undefined });

  const api = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const path = url.pathname;
    if (path === '/api/state') return json(res, state());
    if (path === '/api/stats') return json(res, stats());
    if (path === '/api/routes') return json(res, red?.routes() ?? []);
    if (path === '/api/traces') return json(res, traces.lists());
    if (path.startsWith('/api/traces/')) {
      const id = path.slice('/api/traces/'.length);
      const t = /^[0-9a-f]{32}$/.test(id) ? traces.get(id) : undefined;
      if (t === undefined) return send(res, 404, 'application/json; charset=utf-8', '{"error":"no such trace held"}');
      return json(res, { summary: summaryOf(t), spans: t.spans, dropped: t.dropped, logs: logs.ofTrace(id) });
    }
    if (path === '/api/logs') {
      const level = url.searchParams.get('level') ?? undefined;
      return json(res, logs.query({ minLevel: level, q: url.searchParams.get('q') ?? undefined, limit: Math.min(Number(url.searchParams.get('limit')) || d.maxLogLines, d.maxLogLines) }));
    }
    if (path === '/api/health') {
      readHealth().then(
        () => json(res, healthView()),
        (error: unknown) => {
          ctx.report(error, 'console-health');
          json(res, healthView());
        },
      );
      return;
    }
    if (path === '/api/events') {
      const last = req.headers['last-event-id'];
      if (!hub.open(res, typeof last === 'string' ? last : undefined, state, SECURITY_HEADERS)) send(res, 503, 'text/plain; charset=utf-8', 'too many console pages open\n');
      else schedule();
      return;
    }
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  };

  let port = options.port;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (!hostAllowed(req.headers.host, port, options.allowedHosts)) return send(res, 403, 'text/plain; charset=utf-8', 'forbidden: this Host is not the console\'s (see console.allowedHosts)\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    if (url.pathname === '/login') {
      if (!tokenMatches(expected, url.searchParams.get('t') ?? undefined)) return send(res, 401, 'text/plain; charset=utf-8', 'unauthorized: open the URL periscope printed\n');
      // The token leaves the address bar: a redirect to the page, with the cookie.
      return send(res, 303, 'text/plain; charset=utf-8', '', { location: '/', 'set-cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/` });
    }
    if (!tokenMatches(expected, presentedToken(req))) return send(res, 401, 'text/plain; charset=utf-8', 'unauthorized: open the URL periscope printed (…/login?t=…), or send Authorization: Bearer <token>\n', { 'www-authenticate': 'Bearer realm="periscope console"' });
    if (url.pathname === '/' || url.pathname === '/index.html') return send(res, 200, 'text/html; charset=utf-8', INDEX_HTML);
    if (url.pathname === '/app.js') return send(res, 200, 'text/javascript; charset=utf-8', APP_JS);
    if (url.pathname === '/app.css') return send(res, 200, 'text/css; charset=utf-8', APP_CSS);
    if (url.pathname === '/favicon.svg') return send(res, 200, 'image/svg+xml', FAVICON_SVG);
    if (url.pathname.startsWith('/api/')) return api(req, res, url);
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  };

  let server: Server | undefined;
  let listening: Promise<string> | undefined;
  const taps: ConsoleTaps = {
    spans: spanTap(traces, ctx.report),
    logLine: (line) => {
      try {
        logs.write(line);
      } catch (error) {
        ctx.report(error, 'console-log');
      }
    },
    breaker: (b) => {
      breakers.set(b.name, b);
      b.on('stateChange', (e) => {
        addTransition({ kind: 'breaker', name: sanitizeText(b.name, 128), from: e.from, to: e.to, reason: e.reason, at: Date.now() });
        if (hub.clients > 0) hub.send('health', healthView());
      });
    },
  };

  return {
    name: 'console',
    taps,
    start(s) {
      sources = s;
      if (s.red !== undefined) {
        const sampler = new RedSampler(s.red, { maxPoints: d.redPoints, maxRoutes: d.maxRoutes });
        red = sampler;
        sampler.sample(Date.now());
        const t = setInterval(() => sampler.sample(Date.now()), d.redIntervalMs);
        t.unref();
        timers.push(t);
      }
      // While a page is open: routes every second, health every two, a heartbeat.
      const live = setInterval(() => {
        if (hub.clients > 0 && red !== undefined) hub.send('routes', red.routes());
      }, 1000);
      const healthTimer = setInterval(() => {
        if (hub.clients === 0) return;
        readHealth().then(
          () => hub.send('health', healthView()),
          (error: unknown) => ctx.report(error, 'console-health'),
        );
      }, d.healthIntervalMs);
      const beat = setInterval(() => hub.heartbeat(), d.heartbeatMs);
      for (const t of [live, healthTimer, beat]) {
        t.unref();
        timers.push(t);
      }
      const srv = createServer(handle);
      server = srv;
      listening = new Promise<string>((resolve, reject) => {
        srv.once('listening', () => {
          port = (srv.address() as AddressInfo).port;
          const url = `http://${CONSOLE_DEFAULTS.host}:${port}/login?t=${token}`;
          s.logger.info({ console_url: url }, `periscope console: ${url}`);
          resolve(url);
        });
        srv.once('error', (error) => {
          ctx.report(error, 'console-listen');
          reject(error);
        });
      });
      listening.catch(() => {});
      srv.listen(options.port, CONSOLE_DEFAULTS.host);
      srv.unref();
    },
    url: () => listening ?? Promise.reject(new Error('periscope console: not started')),
    stats,
    shutdown: [
      {
        phase: 'close',
        name: 'console',
        run: () => {
          for (const t of timers) clearInterval(t);
          if (batchTimer !== undefined) clearTimeout(batchTimer);
          hub.close();
          const srv = server;
          if (srv === undefined || !srv.listening) return undefined;
          return new Promise<void>((resolve) => {
            srv.close(() => resolve());
            srv.closeAllConnections();
          });
        },
      },
    ],
  };
}
