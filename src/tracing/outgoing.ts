import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Span, SpanOptions, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { errorType } from './server-span.js';

const CLIENT: SpanOptions = Object.freeze({ kind: SpanKind.CLIENT });
const kSpan = Symbol('periscope.clientSpan');

/** The request object undici publishes on its diagnostics channels (Node's bundled fetch). */
interface UndiciRequest {
  method: string;
  origin: string;
  path: string;
  /** undici 6+: flat `[name, value, name, value, ...]`. */
  headers: unknown;
  addHeader(name: string, value: string): unknown;
  [kSpan]?: Span;
}

type TracedClientRequest = ClientRequest & { [kSpan]?: Span };

const undiciSetter: TextMapSetter<UndiciRequest> = {
  set(carrier, key, value) {
    carrier.addHeader(key, value);
  },
};

const clientRequestSetter: TextMapSetter<ClientRequest> = {
  set(carrier, key, value) {
    carrier.setHeader(key, value);
  },
};

function undiciHasTraceparent(headers: unknown): boolean {
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (typeof name === 'string' && name.toLowerCase() === 'traceparent') return true;
    }
    return false;
  }
  // undici 5 kept headers as one `name: value\r\n` string.
  return typeof headers === 'string' && /(^|\n)traceparent:/i.test(headers);
}

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

export interface OutgoingSpansOptions {
  /** Starts a span (the SDK tracer's, or a light non-recording one when nothing is exported). */
  startSpan: (name: string, options: SpanOptions | undefined, parent: Context) => Span;
  propagator: TextMapPropagator;
  /** True for a span made by this tracing instance: only its own requests' calls get CLIENT spans from it. */
  owns: (span: Span) => boolean;
  report: (error: unknown, where: string) => void;
}

/**
 * CLIENT spans for outgoing `fetch` (undici) and `http.request`/`https.request` calls made
 * inside a request, with `traceparent` injected, from Node's diagnostics channels: no module
 * is patched and no preload flag is needed, so it works the same in ESM and CommonJS apps.
 * A call that already carries `traceparent` (set by hand, or by another instrumentation)
 * is left alone, so nothing gets two CLIENT spans.
 */
export class OutgoingSpans {
  readonly #startSpan: (name: string, options: SpanOptions | undefined, parent: Context) => Span;
  readonly #propagator: TextMapPropagator;
  readonly #owns: (span: Span) => boolean;
  readonly #report: (error: unknown, where: string) => void;
  readonly #subscriptions: [string, (message: unknown) => void][];

  constructor(options: OutgoingSpansOptions) {
    this.#startSpan = options.startSpan;
    this.#propagator = options.propagator;
    this.#owns = options.owns;
    this.#report = options.report;
    this.#subscriptions = [
      ['undici:request:create', (m) => this.#guard(m, this.#undiciCreate, 'outgoing-fetch')],
      ['undici:request:headers', (m) => this.#guard(m, this.#undiciHeaders, 'outgoing-fetch')],
      ['undici:request:trailers', (m) => this.#guard(m, this.#undiciTrailers, 'outgoing-fetch')],
      ['undici:request:error', (m) => this.#guard(m, this.#error, 'outgoing-fetch')],
      ['http.client.request.created', (m) => this.#guard(m, this.#httpCreated, 'outgoing-http')],
      ['http.client.request.start', (m) => this.#guard(m, this.#httpCreated, 'outgoing-http')],
      ['http.client.response.finish', (m) => this.#guard(m, this.#httpResponse, 'outgoing-http')],
      ['http.client.request.error', (m) => this.#guard(m, this.#error, 'outgoing-http')],
    ];
  }

  subscribe(): void {
    for (const [name, fn] of this.#subscriptions) diagnosticsChannel.subscribe(name, fn);
  }

  unsubscribe(): void {
    for (const [name, fn] of this.#subscriptions) diagnosticsChannel.unsubscribe(name, fn);
  }

  #guard(message: unknown, fn: (message: never) => void, where: string): void {
    try {
      fn.call(this, message as never);
    } catch (error) {
      // A subscriber that throws would surface in the caller's fetch(): report, never throw.
      this.#report(error, where);
    }
  }

  /** The context a CLIENT span should start in, or undefined when this call is not ours to trace. */
  #parent(): Context | undefined {
    const active = context.active();
    const parent = trace.getSpan(active);
    if (parent === undefined || isTracingSuppressed(active) || !this.#owns(parent)) return undefined;
    return active;
  }

  #start(parentContext: Context, method: string, url: URL): Span {
    const span = this.#startSpan(method, CLIENT, parentContext);
    if (span.isRecording()) {
      span.setAttribute('http.request.method', method);
      span.setAttribute('server.address', url.hostname);
      span.setAttribute('server.port', portOf(url));
      span.setAttribute('url.full', `${url.origin}${url.pathname}`);
    }
    return span;
  }

  #undiciCreate({ request }: { request: UndiciRequest }): void {
    const parentContext = this.#parent();
    if (parentContext === undefined || undiciHasTraceparent(request.headers)) return;
    const span = this.#start(parentContext, request.method, new URL(request.path, request.origin));
    this.#propagator.inject(trace.setSpan(parentContext, span), request, undiciSetter);
    request[kSpan] = span;
  }

  #undiciHeaders({ request, response }: { request: UndiciRequest; response: { statusCode: number } }): void {
    const span = request[kSpan];
    if (span !== undefined) recordStatus(span, response.statusCode);
  }

  #undiciTrailers({ request }: { request: UndiciRequest }): void {
    takeSpan(request)?.end();
  }

  /** A fetch or http.request call that failed: the span records the error and ends. */
  #error({ request, error }: { request: UndiciRequest | TracedClientRequest; error: unknown }): void {
    const span = takeSpan(request);
    if (span !== undefined) failed(span, error);
  }

  #httpCreated({ request }: { request: TracedClientRequest }): void {
    // `created` (Node 22.14+) comes before the headers are written; `start` is the fallback
    // on older versions, where the header can only be added if nothing was sent yet.
    if (request[kSpan] !== undefined || request.headersSent || request.hasHeader('traceparent')) return;
    const parentContext = this.#parent();
    if (parentContext === undefined) return;
    const host = request.host.includes(':') && !request.host.startsWith('[') ? `[${request.host}]` : request.host;
    const port = (request as unknown as { socketPath?: string; agent?: { defaultPort?: number } }).agent?.defaultPort;
    const headerHost = request.getHeader('host');
    const authority = typeof headerHost === 'string' ? headerHost : port === undefined ? host : `${host}:${port}`;
    const span = this.#start(parentContext, request.method, new URL(request.path, `${request.protocol}//${authority}`));
    this.#propagator.inject(trace.setSpan(parentContext, span), request, clientRequestSetter);
    request[kSpan] = span;
  }

  #httpResponse({ request, response }: { request: TracedClientRequest; response: IncomingMessage }): void {
    const span = takeSpan(request);
    if (span === undefined) return;
    recordStatus(span, response.statusCode ?? 0);
    span.end();
  }
}

/** The call's span, detached from the call so that it ends exactly once. */
function takeSpan(carrier: { [kSpan]?: Span }): Span | undefined {
  const span = carrier[kSpan];
  if (span !== undefined) carrier[kSpan] = undefined;
  return span;
}

/** The response status on a CLIENT span; 4xx and 5xx mark it failed. */
function recordStatus(span: Span, status: number): void {
  span.setAttribute('http.response.status_code', status);
  if (status >= 400) {
    span.setAttribute('error.type', String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
}

function failed(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setAttribute('error.type', errorType(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  span.end();
}
