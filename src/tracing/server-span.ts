import { context, defaultTextMapGetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import type { Context, Span, SpanOptions, TextMapPropagator } from '@opentelemetry/api';
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHook, RequestScope } from '../core/index.js';
import { clientAddressOf, METHOD_NAMES, METHOD_OTHER, STATUS_CLIENT_CLOSED, UNMATCHED_ROUTE } from '../core/index.js';
import { contextWithSpan } from './context.js';

/** Span names are cached for at most this many routes. */
const MAX_CACHED_ROUTES = 2000;

/** Shared, so starting a span allocates no options object. */
const SERVER: SpanOptions = Object.freeze({ kind: SpanKind.SERVER });

export interface ServerSpansOptions {
  /** Starts a span (the SDK tracer's, or a light non-recording one when nothing is exported). */
  startSpan: (name: string, options: SpanOptions | undefined, parent: Context) => Span;
  propagator: TextMapPropagator;
  /**
   * Bind the request's stream events to its context, for frameworks whose body parsers
   * continue the request from `data`/`end` listeners (Express, node:http). Fastify re-enters
   * the context in a hook instead, which is cheaper.
   */
  bindRequestBody: boolean;
  /** Marks spans this tracing instance made, so outgoing calls know which instance owns them. */
  mark: (span: Span) => void;
  /** Called when another instrumentation already made the request's SERVER span. */
  onForeignServerSpan: () => void;
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined;
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function hostOf(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(1, end);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** The error.type attribute: the most specific name an error offers. */
export function errorType(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    return error.constructor?.name || error.name || 'Error';
  }
  return '_OTHER';
}

/**
 * One SERVER span per request: started when the core starts the scope (parent taken from
 * W3C `traceparent`/`tracestate`/`baggage`), named and completed when it ends, with the
 * stable HTTP semantic-convention attributes. An unsampled request gets the SDK's
 * non-recording span and no attribute work at all.
 */
export class ServerSpans implements RequestHook {
  readonly #startSpan: (name: string, options: SpanOptions | undefined, parent: Context) => Span;
  readonly #propagator: TextMapPropagator;
  readonly #bindBody: boolean;
  readonly #mark: (span: Span) => void;
  readonly #onForeign: () => void;
  /** `METHOD route` per route and method, built once: no string concatenation per request. */
  readonly #names = new Map<string, string[]>();
  /** `client.address` is set at end, from the scope. */
  readonly needsClientAddress = true;

  constructor(options: ServerSpansOptions) {
    this.#startSpan = options.startSpan;
    this.#propagator = options.propagator;
    this.#bindBody = options.bindRequestBody;
    this.#mark = options.mark;
    this.#onForeign = options.onForeignServerSpan;
  }

  onStart(scope: RequestScope): void {
    const active = context.active();
    const existing = trace.getSpan(active);
    // Something that runs before the request listener (OpenTelemetry's own HTTP
    // instrumentation) already made this request's SERVER span: use it, make no second one.
    // Any other active span is context the server inherited from where it was started (a
    // startup span around listen()), which a request must not become a child of.
    if (existing !== undefined && (existing as { kind?: unknown }).kind === SpanKind.SERVER) {
      const sc = existing.spanContext();
      scope.context = active;
      scope.traceId = sc.traceId;
      scope.spanId = sc.spanId;
      scope.sampled = (sc.traceFlags & TraceFlags.SAMPLED) !== 0;
      this.#onForeign();
      return;
    }
    const req = scope.req;
    const headers = req.headers;
    const parent =
      headers.traceparent === undefined && headers.baggage === undefined
        ? ROOT_CONTEXT
        : this.#propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const method = scope.method;
    const span = this.#startSpan(method === METHOD_OTHER ? 'HTTP' : METHOD_NAMES[method]!, SERVER, parent);
    this.#mark(span);
    const ctx = contextWithSpan(parent, span);
    const sc = span.spanContext();
    scope.span = span;
    scope.context = ctx;
    scope.traceId = sc.traceId;
    scope.spanId = sc.spanId;
    scope.sampled = (sc.traceFlags & TraceFlags.SAMPLED) !== 0;
    if (this.#bindBody && hasBody(headers)) context.bind(ctx, req);
    if (!span.isRecording()) return;
    span.setAttribute('http.request.method', METHOD_NAMES[method]!);
    if (method === METHOD_OTHER && req.method !== undefined) span.setAttribute('http.request.method_original', req.method);
    span.setAttribute('url.path', pathOf(req.url));
    span.setAttribute('url.scheme', (req.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http');
    const host = hostOf(headers.host);
    if (host !== undefined) span.setAttribute('server.address', host);
    span.setAttribute('network.protocol.version', req.httpVersion);
    const localPort = req.socket?.localPort;
    if (localPort !== undefined) span.setAttribute('server.port', localPort);
    const ua = headers['user-agent'];
    if (ua !== undefined) span.setAttribute('user_agent.original', ua);
  }

  onEnd(scope: RequestScope): void {
    const span = scope.span;
    if (span === undefined) return;
    if (!span.isRecording()) {
      span.end();
      return;
    }
    const route = scope.route!;
    const status = scope.status;
    if (route !== UNMATCHED_ROUTE) {
      span.setAttribute('http.route', route);
      span.updateName(this.#name(route, scope.method));
    }
    if (status !== STATUS_CLIENT_CLOSED || scope.res.headersSent) span.setAttribute('http.response.status_code', status);
    // At end, from the framework's proxy-aware resolution (Express knows `req.ip` only once it
    // has handled the request); never a raw X-Forwarded-For the app does not trust.
    const address = clientAddressOf(scope);
    if (address !== undefined) span.setAttribute('client.address', address);
    const error = scope.error;
    if (error !== undefined) {
      span.recordException(error instanceof Error ? error : String(error));
      // A thrown error the framework answered with 4xx is the client's fault: recorded, but
      // the span status stays unset, as the semantic conventions ask for server spans.
      if (status >= 500 || status < 400) {
        span.setAttribute('error.type', errorType(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      }
    } else if (status >= 500 && status !== STATUS_CLIENT_CLOSED) {
      span.setAttribute('error.type', String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  #name(route: string, method: number): string {
    let byMethod = this.#names.get(route);
    if (byMethod === undefined) {
      // Route templates are few; a `routeOf` that returns raw paths must not grow this forever.
      if (this.#names.size >= MAX_CACHED_ROUTES) return `${method === METHOD_OTHER ? 'HTTP' : METHOD_NAMES[method]} ${route}`;
      byMethod = [];
      this.#names.set(route, byMethod);
    }
    return (byMethod[method] ??= `${method === METHOD_OTHER ? 'HTTP' : METHOD_NAMES[method]} ${route}`);
  }
}
