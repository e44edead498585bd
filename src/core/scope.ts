import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { context as otelContext } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import { kScope } from '../symbols.js';
import { settlePerformanceGlobal } from './clock.js';
import { methodIndex } from './methods.js';
import type { RouteMatcher } from './routes.js';

/**
 * Status label for a request whose connection closed before any status was sent
 * (nginx's convention), the same on every framework.
 */
export const STATUS_CLIENT_CLOSED = 499;

/**
 * Status of a request the shutdown cut off at its deadline before any status was sent: the
 * server gave up on it (the client sees its connection close).
 */
export const STATUS_CUT_OFF = 503;

/**
 * The requests started and not yet ended, shared by the cores of one `instrument()` call, so
 * the shutdown can end every open scope before it flushes and exits.
 */
export class OpenRequests {
  count = 0;
  /** Set by the shutdown at its deadline: a request ending unanswered from then on was cut off. */
  cutOff: Error | undefined = undefined;

  /** Resolves once every open request has ended, or after `turns` event-loop turns. */
  async settle(turns = 100): Promise<void> {
    // A destroyed socket's 'close' (and so the response's) comes in the close phase of the next turn.
    for (let i = 0; i < turns && this.count > 0; i++) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Route label for a request that matched no route, so random paths add no series. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The answer to a request turned away at start (the overload concern's 503): written by the
 * core once every hook's `onStart` ran, before the app sees the request. Made once, at setup,
 * and shared by every request it answers.
 */
export interface Rejection {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | number>>;
  readonly body: string;
}

/** One request as every concern sees it. Created at start, completed at end. */
export interface RequestScope {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Index into METHOD_NAMES (`_OTHER` for unknown methods). */
  readonly method: number;
  /**
   * `performance.now()` at start, in milliseconds. The global `performance` (not an import
   * from node:perf_hooks), so other concerns can reuse this one clock read and tests that
   * fake the clock fake it here too.
   */
  readonly startTime: number;
  /** Route template; set by the adapter, `'unmatched'` at end when none was found. */
  route: string | undefined;
  /** Status code sent, or 499 when the client went away before a status was sent. Valid at end. */
  status: number;
  /** Seconds from start to end. Valid at end. */
  duration: number;
  /** Response body bytes. Valid at end. */
  bytes: number;
  /** The request ID, when the logging concern assigned one at start. */
  requestId: string | undefined;
  /**
   * The OpenTelemetry context the rest of the request runs in (the request span active),
   * set by tracing at start; undefined when tracing is off. Adapters run the framework's
   * continuation inside it through `core.run()`.
   */
  context: Context | undefined;
  /** Trace ID of the request span (32 hex digits), for logs and exemplars; undefined when tracing is off. */
  traceId: string | undefined;
  /** Span ID of the request span (16 hex digits); undefined when tracing is off. */
  spanId: string | undefined;
  /** True when the request's trace is sampled (its spans are exported). */
  sampled: boolean;
  /** The SERVER span periscope made for this request; undefined when another instrumentation made it. */
  span: Span | undefined;
  /** The error the framework answered this request with (Fastify onError, Express error path), if any. */
  error: unknown;
  /**
   * Set by a hook's `onStart` to turn the request away: the core answers with it once every
   * `onStart` ran, and the adapter never hands the request to the app. Undefined otherwise.
   */
  rejection: Rejection | undefined;
  /**
   * The framework's request object, given by the adapter at start, whose `ip` is the
   * framework's own proxy-aware client address: Fastify's `request` (honours `trustProxy`),
   * Express's `req` (honours the `trust proxy` setting). Undefined on node:http.
   */
  readonly addressSource: object | undefined;
  /**
   * The client's address once {@link clientAddressOf} resolved it at end; `null` until then.
   * Read it with `clientAddressOf(scope)`.
   */
  keptClientAddress: string | undefined | null;
}

/** What a concern (metrics, logging, tracing) plugs into the request lifecycle. */
export interface RequestHook {
  /** Absent when the hook has nothing to do at start: the core then makes no call. */
  onStart?(scope: RequestScope): void;
  onEnd(scope: RequestScope): void;
  /** True when `onEnd` reads `clientAddressOf(scope)` (the core then keeps the peer address from start). */
  readonly needsClientAddress?: boolean;
}

export interface CoreOptions {
  hooks: readonly RequestHook[];
  /** Supplied by the adapter: the route template of a finished request, when not set at start. */
  resolveRoute?: ((req: IncomingMessage) => string | undefined) | undefined;
  /** Requests whose URL this matches (the `ignore` option) get no scope: no metrics, logs or spans. */
  ignore?: RouteMatcher | undefined;
  /** Counts the open scopes (shared with the shutdown). Default: a new one. */
  open?: OpenRequests | undefined;
  report: (error: unknown, where: string) => void;
}

/**
 * One request's state: a plain object made by one object literal in {@link Core.start}, so
 * every scope has one shape and its allocation is part of `start`'s own code (a class
 * constructor was a separate call whenever it did not fit V8's inlining budget, about 200
 * instructions a request through the generic construct stub).
 */
interface Scope extends RequestScope {
  readonly core: Core;
  /** The overload limiter's partition of an admitted request (-1: none), or -2: not admitted (declared here so every scope has one shape). */
  overloadPartition: number;
  /** Links of the slow-request detector's list (declared here so every scope has one shape). */
  slowPrev: Scope | null;
  slowNext: Scope | null;
  readonly socket: Socket | null;
  /**
   * What the socket had carried before this response's first byte; -1 while the response waits
   * behind earlier ones on a pipelining connection (it gets its socket, and this count, when
   * they finish).
   */
  startBytes: number;
  /**
   * What the socket had carried when this response finished, taken only on a pipelining
   * connection: there the next response is written the moment this one finishes, before this
   * one's `close`, so a count read at the end would include it. -1: not taken (no `finish`
   * listener); -2: a listener will take it.
   */
  endBytes: number;
}

/**
 * The client's address: the framework request's `ip` (see {@link RequestScope.addressSource}),
 * else the socket's peer address. It comes from `X-Forwarded-For` only when the app trusts
 * proxies. Resolved when read: read it at end (Express resolves `req.ip` only once it has
 * handled the request), where it is kept.
 */
export function clientAddressOf(scope: RequestScope): string | undefined {
  let address = scope.keptClientAddress;
  if (address !== null) return address;
  address = (scope as Scope).core.resolveClientAddress(scope);
  // Kept only once the request ended (status set): an early read may precede the framework's view.
  if (scope.status !== 0) scope.keptClientAddress = address;
  return address;
}

/**
 * The framework-neutral request lifecycle: `start(req, res)` makes a scope and tells
 * every hook; the response's `close` event (which fires once, after `finish` or on an
 * aborted connection) ends it.
 */
export class Core {
  readonly #hooks: readonly RequestHook[];
  /** The hooks with an `onStart`, in the same order. */
  readonly #startHooks: readonly (RequestHook & { onStart(scope: RequestScope): void })[];
  readonly #resolveRoute: ((req: IncomingMessage) => string | undefined) | undefined;
  readonly #ignore: RouteMatcher | undefined;
  readonly #open: OpenRequests;
  readonly report: (error: unknown, where: string) => void;
  readonly #keepPeerAddress: boolean;

  constructor(options: CoreOptions) {
    this.#hooks = options.hooks;
    this.#startHooks = options.hooks.filter((hook): hook is RequestHook & { onStart(scope: RequestScope): void } => typeof hook.onStart === 'function');
    this.#keepPeerAddress = options.hooks.some((hook) => hook.needsClientAddress === true);
    this.#resolveRoute = options.resolveRoute;
    this.#ignore = options.ignore;
    this.#open = options.open ?? new OpenRequests();
    this.report = options.report;
    settlePerformanceGlobal();
  }

  /**
   * Starts the request's scope; undefined for a request the `ignore` option leaves out.
   * `addressSource`: the framework's request object whose `ip` resolves the client address
   * (see {@link RequestScope.addressSource}).
   */
  start(req: IncomingMessage, res: ServerResponse, route?: string, addressSource?: object): RequestScope | undefined {
    if (this.#ignore !== undefined && this.#ignore(req.url ?? '/') !== undefined) return undefined;
    const socket = req.socket;
    // A response queued behind earlier ones on a pipelining connection has no socket yet (see queuedStart).
    const queued = socket != null && res.socket == null;
    // One literal, in one field order: every scope has one shape (see Scope).
    const scope: Scope = {
      core: this,
      req,
      res,
      addressSource,
      route,
      status: 0,
      duration: 0,
      bytes: 0,
      requestId: undefined,
      context: undefined,
      traceId: undefined,
      spanId: undefined,
      sampled: false,
      span: undefined,
      error: undefined,
      rejection: undefined,
      overloadPartition: -2,
      keptClientAddress: null,
      slowPrev: null,
      slowNext: null,
      method: methodIndex(req.method),
      socket,
      // Only needed for responses without Content-Length (streamed, chunked).
      startBytes: socket == null || queued ? 0 : bytesSoFar(socket),
      endBytes: -1,
      startTime: performance.now(),
    };
    if (queued) scope.startBytes = queuedStart(scope, res, socket);
    // The peer address read while the socket is surely open: Node keeps it once read, and the
    // socket of an aborted request is destroyed (its address unreadable) by the end.
    if (this.#keepPeerAddress) void socket?.remoteAddress;
    this.#open.count++;
    (res as unknown as Record<symbol, Scope>)[kScope] = scope;
    // One shared listener function: no closure allocated per request.
    res.on('close', onResponseClose);
    const hooks = this.#startHooks;
    for (let i = 0; i < hooks.length; i++) {
      try {
        hooks[i]!.onStart(scope);
      } catch (error) {
        this.report(error, 'request-start');
      }
    }
    if (scope.rejection !== undefined) reject(scope, scope.rejection, this.report);
    return scope;
  }

  /**
   * Runs `fn(...args)` inside the request's OpenTelemetry context, so the handler and
   * everything it awaits see the request span. Without tracing it is a plain call. Up to four
   * arguments, taken one by one rather than as a rest parameter, which would be an array per
   * request on every framework's request path (`fn` is always given four; the adapters' own
   * continuations ignore the ones they do not take).
   */
  run<A extends [unknown?, unknown?, unknown?, unknown?], R>(scope: RequestScope | undefined, fn: (...args: A) => R, ...args: A): R;
  run(scope: RequestScope | undefined, fn: (a: unknown, b: unknown, c: unknown, d: unknown) => unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown): unknown {
    const ctx = scope?.context;
    return ctx === undefined ? fn(a, b, c, d) : otelContext.with(ctx, fn, undefined, a, b, c, d);
  }

  /**
   * The client address of `scope`: the framework's `ip` when the adapter gave its request
   * object, else the socket's peer address. A throwing `ip` (a user's trust-proxy function)
   * is reported and gives undefined rather than a guess.
   */
  resolveClientAddress(scope: RequestScope): string | undefined {
    const req = scope.req;
    const source = scope.addressSource as { readonly ip?: unknown } | undefined;
    // Without X-Forwarded-For every framework's answer is the socket's peer (proxy-addr reads
    // no other header), so the common case skips the arrays proxy-addr builds.
    if (source !== undefined && req.headers['x-forwarded-for'] !== undefined) {
      try {
        const ip = source.ip;
        if (typeof ip === 'string' && ip !== '') return ip;
      } catch (error) {
        this.report(error, 'client-address');
        return undefined;
      }
    }
    return req.socket?.remoteAddress;
  }

  /** Hands the error a framework answered the request with to the scope (the first one wins). */
  recordError(res: ServerResponse, error: unknown): void {
    const scope = (res as unknown as Record<symbol, Scope | undefined>)[kScope];
    if (scope !== undefined && scope.error === undefined) scope.error = error;
  }

  end(scope: Scope): void {
    const res = scope.res;
    scope.duration = (performance.now() - scope.startTime) / 1000;
    const open = this.#open;
    open.count--;
    if (open.cutOff !== undefined && !res.writableFinished) {
      // Cut off by the shutdown deadline: counted, logged and traced with why.
      scope.status = res.headersSent ? res.statusCode : STATUS_CUT_OFF;
      if (scope.error === undefined) scope.error = open.cutOff;
    } else {
      scope.status = res.headersSent ? res.statusCode : STATUS_CLIENT_CLOSED;
    }
    if (scope.route === undefined) {
      let route: string | undefined;
      if (this.#resolveRoute !== undefined) {
        try {
          route = this.#resolveRoute(scope.req);
        } catch (error) {
          this.report(error, 'resolve-route');
        }
      }
      scope.route = route === undefined || route === '' ? UNMATCHED_ROUTE : route;
    }
    scope.bytes = responseBytes(scope);
    const hooks = this.#hooks;
    for (let i = 0; i < hooks.length; i++) {
      try {
        hooks[i]!.onEnd(scope);
      } catch (error) {
        this.report(error, 'request-end');
      }
    }
  }
}

/** Answers a rejected request at once; the connection stays open for the client's next request. */
function reject(scope: Scope, rejection: Rejection, report: (error: unknown, where: string) => void): void {
  const res = scope.res;
  try {
    if (res.headersSent) return;
    res.writeHead(rejection.status, rejection.headers);
    res.end(scope.req.method === 'HEAD' ? undefined : rejection.body);
  } catch (error) {
    report(error, 'request-reject');
  }
}

/**
 * The start count of a response queued behind earlier ones on a pipelining connection: -1
 * until it gets its socket (counting from now would count those earlier responses as its
 * own). Its end is taken when it finishes, and so is the end of the response ahead of it,
 * which is written in full before this one starts (the first of a pipeline had its socket at
 * start, like any other).
 */
function queuedStart(scope: Scope, res: ServerResponse, socket: Socket): number {
  res.once('socket', onResponseSocket);
  markEnd(res, scope);
  const owner = (socket as Socket & { _httpMessage?: unknown })._httpMessage as ServerResponse | null | undefined;
  const ahead = owner == null ? undefined : (owner as unknown as Record<symbol, Scope | undefined>)[kScope];
  if (ahead !== undefined) markEnd(owner!, ahead);
  return -1;
}

/** Takes `scope.endBytes` when `res` finishes, before Node hands the socket to the next response. */
function markEnd(res: ServerResponse, scope: Scope): void {
  if (scope.endBytes !== -1) return;
  scope.endBytes = -2;
  // Ahead of Node's own 'finish' listener, which writes the next queued response.
  res.prependOnceListener('finish', onResponseFinish);
}

function onResponseFinish(this: ServerResponse): void {
  const scope = (this as unknown as Record<symbol, Scope | undefined>)[kScope];
  if (scope !== undefined && scope.socket !== null) scope.endBytes = scope.socket.bytesWritten;
}

/** A pipelined response gets its socket once the responses before it finished: its count starts here. */
function onResponseSocket(this: ServerResponse, socket: Socket): void {
  const scope = (this as unknown as Record<symbol, Scope | undefined>)[kScope];
  if (scope !== undefined && scope.startBytes === -1) scope.startBytes = socket.bytesWritten;
}

function onResponseClose(this: ServerResponse): void {
  const scope = (this as unknown as Record<symbol, Scope | undefined>)[kScope];
  if (scope === undefined) return;
  (this as unknown as Record<symbol, Scope | undefined>)[kScope] = undefined;
  scope.core.end(scope);
}

/** The scope of a request in progress, for concerns and adapters. */
export function scopeOf(res: ServerResponse): RequestScope | undefined {
  return (res as unknown as Record<symbol, Scope | undefined>)[kScope];
}

/**
 * `socket.bytesWritten`, read on every request. That getter copies the socket's write buffer
 * into a new array and iterates it; with nothing buffered or pending (a keep-alive socket
 * between responses, nearly always) its answer is the plain count of bytes dispatched, read
 * here directly. Under callgrind the getter was about 1,800 instructions a request.
 */
function bytesSoFar(socket: Socket): number {
  const s = socket as Socket & { _bytesDispatched?: unknown; _pendingData?: unknown };
  const dispatched = s._bytesDispatched;
  if (typeof dispatched === 'number' && socket.writableLength === 0 && s._pendingData == null) return dispatched;
  return socket.bytesWritten ?? 0;
}

function responseBytes(scope: Scope): number {
  const res = scope.res as ServerResponse & { _contentLength?: unknown; _hasBody?: unknown; _header?: unknown };
  if (!res.headersSent) return 0;
  // HEAD, 204 and 304 carry no body whatever their Content-Length says.
  if (res._hasBody === false) return 0;
  if (res.writableFinished && res.chunkedEncoding !== true) {
    // Node keeps the body length it framed the response with: the Content-Length from setHeader
    // or from writeHead's headers (Fastify passes them to writeHead, where getHeader does not
    // see them; Node parses either the same way), or the one end() computed. Reading it saves a
    // socket read per request. Not a whole number (a garbled header): the socket's count below.
    const framed = res._contentLength;
    if (typeof framed === 'number' && framed >= 0 && Number.isSafeInteger(framed)) return framed;
  }
  // No Content-Length (chunked or aborted): what the socket carried for this response,
  // less the header block. Chunk framing is included; the README says so.
  const socket = scope.socket;
  // No socket, or never given one (closed while queued behind earlier responses): nothing sent.
  if (socket === null || scope.startBytes === -1) return 0;
  const header = res._header;
  const headerLength = typeof header === 'string' ? Buffer.byteLength(header, 'latin1') : 0;
  const end = scope.endBytes >= 0 ? scope.endBytes : socket.bytesWritten;
  const n = end - scope.startBytes - headerLength;
  return n > 0 ? n : 0;
}
