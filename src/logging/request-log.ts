import type { IncomingMessage } from 'node:http';
import { context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { RequestHook, RequestScope } from '../core/index.js';
import type { LogLevel, ResolvedLoggingOptions, RequestLogField } from '../options.js';
import { requestIdOf } from './request-id.js';

/** The request line's message. */
export const REQUEST_LINE_MESSAGE = 'request completed';

/**
 * The request line. Every field is always present on the object (undefined when left out by
 * `logging.requests.fields`; pino skips undefined) so every line has one shape for V8.
 */
interface RequestLine {
  request_id: string | undefined;
  method: string | undefined;
  route: string | undefined;
  path: string | undefined;
  status_code: number | undefined;
  duration_ms: number | undefined;
  bytes: number | undefined;
  client_address: string | undefined;
  user_agent: string | undefined;
  headers: IncomingMessage['headers'] | undefined;
  err: unknown;
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

  constructor(logger: Logger, options: ResolvedLoggingOptions) {
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
  }

  onStart(scope: RequestScope): void {
    const header = this.#idHeader;
    if (header === undefined) return;
    // Tracing's hook runs first and puts the request span's trace ID on the scope.
    const id = requestIdOf(scope.req, header, this.#idMaxLength, scope.traceId);
    scope.requestId = id;
    if (!scope.res.headersSent) scope.res.setHeader(header, id);
  }

  onEnd(scope: RequestScope): void {
    if (!this.#enabled) return;
    // The response may end outside the request's context (a timer, another request's code):
    // write the line inside it so it carries the request's trace IDs. No closure: the
    // method and its argument go to context.with as they are.
    const ctx = scope.context;
    if (ctx !== undefined && context.active() !== ctx) context.with(ctx, this.#write, this, scope);
    else this.#write(scope);
  }

  #write(scope: RequestScope): void {
    const status = scope.status;
    const level = status >= 500 ? this.#serverError : status >= 400 ? this.#clientError : this.#success;
    if (level === 'silent') return;
    const logger = this.#logger;
    if (!logger.isLevelEnabled(level)) return;
    const req = scope.req;
    const f = this.#f;
    const line: RequestLine = {
      request_id: f.request_id ? scope.requestId : undefined,
      method: f.method ? req.method : undefined,
      route: f.route ? scope.route : undefined,
      path: f.path ? pathOf(req) : undefined,
      status_code: f.status_code ? status : undefined,
      // Microsecond resolution is plenty and keeps the line short.
      duration_ms: f.duration_ms ? Math.round(scope.duration * 1e6) / 1e3 : undefined,
      bytes: f.bytes ? scope.bytes : undefined,
      client_address: f.client_address ? req.socket?.remoteAddress : undefined,
      user_agent: f.user_agent ? req.headers['user-agent'] : undefined,
      headers: f.headers ? req.headers : undefined,
      err: scope.error,
    };
    logger[level](line, REQUEST_LINE_MESSAGE);
  }
}
