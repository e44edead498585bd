import type { IncomingMessage, ServerResponse } from 'node:http';
import { aggregate } from './checks.js';
import type { CheckKind, CheckReport, CheckRunner, HealthStatus } from './checks.js';
import type { Lifecycle } from './lifecycle.js';
import { sanitizeText, unauthorized, verifier } from '../core/index.js';
import type { EndpointAuth, Presented } from '../core/index.js';

export interface ProbeContext {
  readonly runner: CheckRunner;
  readonly lifecycle: Lifecycle;
  readonly version: string;
  /** `health.auth`: what the details need. Default: none (details open). */
  readonly auth?: EndpointAuth | undefined;
}

/**
 * Who may read the details (per-check lines and messages, `/healthz`'s checks): `'all'`
 * without `health.auth`, else `'bare'` for a request with no credentials (a Kubernetes probe
 * sends none, and gets its status code), `'refused'` for wrong ones when it asked for details.
 */
type Access = 'all' | 'bare' | 'refused';

function accessOf(verify: ((req: IncomingMessage) => Presented) | undefined): (req: IncomingMessage, asksDetails: boolean) => Access {
  if (verify === undefined) return () => 'all';
  return (req, asksDetails) => {
    const presented = verify(req);
    if (presented === 'valid') return 'all';
    return presented === 'invalid' && asksDetails ? 'refused' : 'bare';
  };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

interface Query {
  verbose: boolean;
  exclude: Set<string>;
}

function parseQuery(url: string | undefined): Query {
  const q = url === undefined ? -1 : url.indexOf('?');
  if (q < 0) return { verbose: false, exclude: new Set() };
  const params = new URLSearchParams(url!.slice(q + 1));
  const exclude = new Set<string>();
  for (const v of params.getAll('exclude')) for (const name of v.split(',')) if (name !== '') exclude.add(name);
  const verbose = params.get('verbose');
  return { verbose: verbose !== null && verbose !== 'false' && verbose !== '0', exclude };
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function refuseMethod(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method Not Allowed\n');
  return true;
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
/** Cap on a name echoed from the request (check names are at most 64 characters). */
const ECHO_BYTES = 128;

function line(r: CheckReport): string {
  if (r.status === 'healthy') return `[+]${r.name} ok`;
  const suffix = r.message === undefined ? '' : `: ${r.message}`;
  if (r.status === 'degraded') return `[~]${r.name} degraded${suffix}`;
  return `[-]${r.name} failed${r.critical ? '' : ' (non-critical)'}${suffix}`;
}

function selected(ctx: ProbeContext, kind: CheckKind | undefined, exclude: Set<string>): string[] {
  const names = ctx.runner.names(kind);
  return exclude.size === 0 ? names : names.filter((n) => !exclude.has(n));
}

/**
 * `/livez` and `/readyz` in the Kubernetes API server's style: `ok` when passing, one
 * `[+]`/`[~]`/`[-]` line per check with `?verbose` or on failure, `?exclude=name` to skip a
 * check, and `/<probe>/<name>` for one check alone.
 */
function textProbe(ctx: ProbeContext, probe: 'livez' | 'readyz', base: string): Handler {
  const kind: CheckKind | undefined = probe === 'livez' ? 'liveness' : undefined;
  const access = accessOf(ctx.auth === undefined ? undefined : verifier(ctx.auth));
  const auth = ctx.auth;
  return async (req, res) => {
    if (refuseMethod(req, res)) return;
    const path = pathOf(req.url);
    const one = path.length > base.length + 1 && path.startsWith(`${base}/`);
    const query = parseQuery(req.url);
    const allowed = access(req, one || query.verbose);
    if (allowed === 'refused') return unauthorized(res, auth!);
    const bare = allowed === 'bare';
    if (one) {
      let name: string;
      try {
        name = decodeURIComponent(path.slice(base.length + 1));
      } catch {
        name = '';
      }
      const known = ctx.runner.has(name) && (kind === undefined || ctx.runner.names(kind).includes(name));
      if (!known) return send(req, res, 404, TEXT, `no ${probe} check named "${sanitizeText(name, ECHO_BYTES)}"\n`);
      const [r] = await ctx.runner.collect([name]);
      const body = r!.status === 'healthy' ? 'ok\n' : bare ? `${r!.status === 'degraded' ? 'degraded' : 'failed'}\n` : `${line(r!)}\n`;
      return send(req, res, r!.status === 'unhealthy' ? 503 : 200, TEXT, body);
    }
    const lines: string[] = [];
    let gate: string | undefined;
    if (probe === 'readyz') {
      const state = ctx.lifecycle.state;
      if (state === 'draining' || state === 'stopped') {
        // A draining service answers at once and leaves its dependencies alone.
        return send(req, res, 503, TEXT, bare ? 'readyz check failed\n' : `[-]lifecycle failed: ${state}\nreadyz check failed\n`);
      }
      const reason = ctx.lifecycle.notReadyReason();
      // It names the user's startup tasks, which nothing validates.
      gate = reason === undefined ? undefined : sanitizeText(reason);
      lines.push(gate === undefined ? '[+]lifecycle ok' : `[-]lifecycle failed: ${gate}`);
    }
    const reports = await ctx.runner.collect(selected(ctx, kind, query.exclude));
    let status = aggregate(reports);
    if (gate !== undefined) status = 'unhealthy';
    const code = status === 'unhealthy' ? 503 : 200;
    if (status === 'healthy' && !query.verbose) return send(req, res, 200, TEXT, 'ok\n');
    if (status === 'degraded' && !query.verbose) return send(req, res, 200, TEXT, 'degraded\n');
    if (bare) return send(req, res, code, TEXT, status === 'unhealthy' ? `${probe} check failed\n` : status === 'degraded' ? 'degraded\n' : 'ok\n');
    for (const r of reports) lines.push(line(r));
    // Echoed from the query: escaped, so `?exclude=x%0A%5B%2B%5Dfake_db%20ok` cannot add a line.
    for (const name of query.exclude) lines.push(`[x]${sanitizeText(name, ECHO_BYTES)} excluded`);
    lines.push(`${probe} check ${status === 'unhealthy' ? 'failed' : status === 'degraded' ? 'passed (degraded)' : 'passed'}`);
    send(req, res, code, TEXT, `${lines.join('\n')}\n`);
  };
}

/** The `/healthz` JSON body. */
export interface HealthzBody {
  status: HealthStatus;
  state: string;
  version: string;
  uptime_seconds: number;
  checks: Record<
    string,
    {
      status: HealthStatus;
      latency_ms: number;
      message: string | null;
      critical: boolean;
      kind: CheckKind;
      timed_out: boolean;
      details?: Readonly<Record<string, number | string | boolean>>;
    }
  >;
}

function healthz(ctx: ProbeContext): Handler {
  const access = accessOf(ctx.auth === undefined ? undefined : verifier(ctx.auth));
  const auth = ctx.auth;
  return async (req, res) => {
    if (refuseMethod(req, res)) return;
    const allowed = access(req, true);
    if (allowed === 'refused') return unauthorized(res, auth!);
    const query = parseQuery(req.url);
    const state = ctx.lifecycle.state;
    const names = selected(ctx, undefined, query.exclude);
    let reports: CheckReport[];
    if (state === 'draining' || state === 'stopped') {
      // Show what was last known rather than touch dependencies that may be closing.
      reports = [];
      for (const n of names) {
        const r = ctx.runner.last(n);
        if (r !== undefined) reports.push(r);
      }
    } else {
      reports = await ctx.runner.collect(names);
    }
    const status: HealthStatus = state === 'ready' ? aggregate(reports) : 'unhealthy';
    const code = status === 'unhealthy' ? 503 : 200;
    // Without credentials under `health.auth`: the status alone, no version, state or checks.
    if (allowed === 'bare') return send(req, res, code, JSON_TYPE, JSON.stringify({ status }));
    const body: HealthzBody = {
      status,
      state,
      version: ctx.version,
      uptime_seconds: Math.round(process.uptime() * 1000) / 1000,
      checks: {},
    };
    for (const r of reports) {
      body.checks[r.name] = {
        status: r.status,
        latency_ms: r.latencyMs,
        message: r.message ?? null,
        critical: r.critical,
        kind: r.kind,
        timed_out: r.timedOut,
        ...(r.details === undefined ? {} : { details: r.details }),
      };
    }
    send(req, res, code, JSON_TYPE, JSON.stringify(body));
  };
}

export interface ProbePaths {
  readonly live: string;
  readonly ready: string;
  readonly health: string;
}

/** The probe endpoints as `[path, handler]`; `/*` paths serve the per-check forms. */
export function probeEndpoints(ctx: ProbeContext, paths: ProbePaths): [string, Handler][] {
  const live = textProbe(ctx, 'livez', paths.live);
  const ready = textProbe(ctx, 'readyz', paths.ready);
  return [
    [paths.live, live],
    [`${paths.live}/*`, live],
    [paths.ready, ready],
    [`${paths.ready}/*`, ready],
    [paths.health, healthz(ctx)],
  ];
}
