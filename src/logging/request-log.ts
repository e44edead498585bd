import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RequestHook, RequestScope } from '../core/index.js';
import { clientAddressOf } from '../core/index.js';
import type { LogLevel, ResolvedLoggingOptions, RequestLogField } from './options.js';
import { directLineWriter } from './direct-line.js';
import type { DirectLine, DirectLineWriter } from './direct-line.js';
import { kOwnTraceFields } from './logger.js';
import { requestIdOf, setRequestIdHeader } from './request-id.js';

/** The request line's message. */
export const REQUEST_LINE_MESSAGE = 'request completed';

/**
 * The request line. Every field is always present (undefined when left out by
 * `logging.requests.fields`; pino skips undefined), so every line has one shape for V8. The
 * trace fields come first, where the mixin would put them, and from the request scope: the
 * line needs neither a lookup of the active span nor a switch into the request's context, and
 * the mixin leaves a line marked with {@link kOwnTraceFields} alone.
 */
class RequestLine implements DirectLine {
  constructor(
    readonly trace_id: string | undefined,
    readonly span_id: string | undefined,
    readonly trace_flags: string | undefined,
    readonly request_id: string | undefined,
    readonly method: string | undefined,
    readonly route: string | undefined,
    readonly path: string | undefined,
    readonly status_code: number | undefined,
    readonly duration_ms: number | undefined,
    readonly bytes: number | undefined,
    readonly client_address: string | undefined,
    readonly user_agent: string | undefined,
    readonly headers: IncomingMessage['headers'] | undefined,
    readonly err: unknown,
  ) {}
}
(RequestLine.prototype as unknown as Record<symbol, boolean>)[kOwnTraceFields] = true;

/** Milliseconds, to the microsecond: plenty, and it keeps the line short. */
function durationMs(scope: RequestScope): number {
  return Math.round(scope.duration * 1e6) / 1e3;
}

function pathOf(req: IncomingMessage): string | undefined {
  // Express rewrites req.url inside mounted routers; originalUrl is the URL the client sent.
  const url = (req as { originalUrl?: string }).originalUrl ?? req.url;
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * The logging concern's request hook. At start: the request ID (header, trace ID or new),
 * echoed in the response. At end: one line at the level the status calls for.
 */
export class RequestLog implements RequestHook {
  readonly #logger: Logger;
  readonly #idHeader: string | undefined;
  readonly #idMaxLength: number;
  readonly #success: LogLevel;
  readonly #clientError: LogLevel;
  readonly #serverError: LogLevel;
  readonly #enabled: boolean;
  readonly #f: Record<RequestLogField, boolean>;
  /** Writes lines without an error or headers straight from the scope, when the logger allows. */
  readonly #direct: DirectLineWriter | undefined;
  /** The line logs the client address (read from the scope at end). */
  readonly needsClientAddress: boolean;

  /** `direct: false` sends every line through pino (the tests compare both ways). */
  constructor(logger: Logger, options: ResolvedLoggingOptions, { direct = true }: { direct?: boolean } = {}) {
    this.#logger = logger;
    this.#idHeader = options.requestId === false ? undefined : options.requestId.header;
    this.#idMaxLength = options.requestId === false ? 0 : options.requestId.maxLength;
    const r = options.requests;
    this.#enabled = r !== false;
    this.#success = r === false ? 'silent' : r.levels.success;
    this.#clientError = r === false ? 'silent' : r.levels.clientError;
    this.#serverError = r === false ? 'silent' : r.levels.serverError;
    const fields = r === false ? [] : r.fields;
    this.#f = {
      request_id: fields.includes('request_id') && this.#idHeader !== undefined,
      method: fields.includes('method'),
      route: fields.includes('route'),
      path: fields.includes('path'),
      status_code: fields.includes('status_code'),
      duration_ms: fields.includes('duration_ms'),
      bytes: fields.includes('bytes'),
      client_address: fields.includes('client_address'),
      user_agent: fields.includes('user_agent'),
      headers: fields.includes('headers'),
    };
    this.needsClientAddress = this.#enabled && this.#f.client_address;
    this.#direct = direct && !this.#f.headers ? directLineWriter(logger, REQUEST_LINE_MESSAGE) : undefined;
  }

  onStart(scope: RequestScope): void {
    const header = this.#idHeader;
    if (header === undefined) return;
    // Tracing's hook runs first and puts the request span's trace ID on the scope.
    const id = requestIdOf(scope.req, header, this.#idMaxLength, scope.traceId);
    scope.requestId = id;
    if (!scope.res.headersSent) setRequestIdHeader(scope.res, header, id);
  }

  onEnd(scope: RequestScope): void {
    if (!this.#enabled) return;
    const status = scope.status;
    // A request turned away at start (shed under overload) logs at debug: during an overload
    // there are thousands a second, and the overload concern counts them.
    const level = scope.rejection !== undefined ? 'debug' : status >= 500 ? this.#serverError : status >= 400 ? this.#clientError : this.#success;
    if (level === 'silent') return;
    const logger = this.#logger;
    if (!logger.isLevelEnabled(level)) return;
    const req = scope.req;
    const f = this.#f;
    // The scope's own IDs, also when the response ends outside the request's context.
    const traceId = scope.traceId;
    const line = new RequestLine(
      traceId,
      traceId === undefined ? undefined : scope.spanId,
      traceId === undefined ? undefined : scope.sampled ? '01' : '00',
      f.request_id ? scope.requestId : undefined,
      f.method ? req.method : undefined,
      f.route ? scope.route : undefined,
      f.path ? pathOf(req) : undefined,
      f.status_code ? status : undefined,
      f.duration_ms ? durationMs(scope) : undefined,
      f.bytes ? scope.bytes : undefined,
      f.client_address ? clientAddressOf(scope) : undefined,
      f.user_agent ? req.headers['user-agent'] : undefined,
      f.headers ? req.headers : undefined,
      scope.error,
    );
    const direct = this.#direct;
    if (direct !== undefined && line.err === undefined) direct.write(level, line);
    else logger[level](line, REQUEST_LINE_MESSAGE);
  }
}
