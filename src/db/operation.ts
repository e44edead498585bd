import { context, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import type { Context, Span, SpanOptions } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import type { LoggerLike, Report } from '../core/index.js';
import { sanitizeText } from '../core/index.js';
import type { DbMetrics } from './metrics.js';

/** Pool sizes, as the health concern's pool gauges read them. */
export interface PoolStats {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
  readonly max?: number | undefined;
}

/** What tracing hands the db concern: its span factory and a test for its own spans. */
export interface SpanSink {
  startSpan(name: string, options: SpanOptions | undefined, parent: Context): Span;
  /** True for a span of this `instrument()` call (another call's requests are not ours to trace). */
  owns(span: Span): boolean;
}

/**
 * One database or cache call, described the same way whatever reported it (a driver's tracing
 * channel, or periscope's wrapper around `pg`). Turning a source into this is all a new source needs.
 */
export interface DbCall {
  /** `db.system.name`: `redis`, `postgresql`. */
  readonly system: string;
  /** `db.operation.name` and the span name: `GET`, `SELECT`, `MULTI`. */
  readonly operation: string;
  /** `db.query.text`: parameterized or redacted, never with values. */
  readonly queryText?: string | undefined;
  readonly namespace?: string | undefined;
  readonly collection?: string | undefined;
  readonly serverAddress?: string | undefined;
  readonly serverPort?: number | undefined;
  /** `db.operation.batch.size`, for pipelines and transactions. */
  readonly batchSize?: number | undefined;
  /** Seconds spent waiting for a pool connection before this call (recorded on its span). */
  readonly connectionWait?: number | undefined;
  /** The pool the call ran on, for the slow-operation line. */
  readonly pool?: { readonly name: string; stats(): PoolStats | undefined } | undefined;
}

/** A call in flight: started by {@link DbRecorder.start}, finished once by {@link DbRecorder.end}. */
export interface DbOperation {
  readonly call: DbCall;
  readonly span: Span | undefined;
  /** The trace the call belongs to (sampled or not), for the slow-operation line. */
  readonly traceId: string | undefined;
  readonly sampled: boolean;
  readonly startedAt: number;
  ended: boolean;
}

const CLIENT: SpanOptions = Object.freeze({ kind: SpanKind.CLIENT });

/** `error.type`: a driver's code (SQLSTATE for PostgreSQL), else the error's class name. */
export function dbErrorType(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(code)) return code;
    return error.constructor?.name || error.name || 'Error';
  }
  return '_OTHER';
}

export interface DbRecorderOptions {
  /** Undefined with `tracing: false`: metrics and slow lines still work. */
  readonly spans: SpanSink | undefined;
  /** Undefined with `metrics: false`. */
  readonly metrics: DbMetrics | undefined;
  readonly slowQueryMs: number | false;
  readonly logger: LoggerLike;
  readonly report: Report;
}

/**
 * Turns {@link DbCall}s into a CLIENT span (child of the active request span), one histogram
 * observation, and a slow-operation line and count. Every source of calls goes through here.
 */
export class DbRecorder {
  readonly #spans: SpanSink | undefined;
  readonly #metrics: DbMetrics | undefined;
  readonly #slowMs: number;
  readonly #logger: LoggerLike;
  readonly #report: Report;

  constructor(options: DbRecorderOptions) {
    this.#spans = options.spans;
    this.#metrics = options.metrics;
    this.#slowMs = options.slowQueryMs === false ? Infinity : options.slowQueryMs;
    this.#logger = options.logger;
    this.#report = options.report;
  }

  /**
   * Starts a call in the active context. Undefined when the call belongs to another
   * `instrument()` call's request, or tracing is suppressed there (an exporter's own traffic).
   */
  start(call: DbCall): DbOperation | undefined {
    const active = context.active();
    const parent = trace.getSpan(active);
    if (isTracingSuppressed(active)) return undefined;
    let span: Span | undefined;
    if (parent !== undefined && this.#spans !== undefined) {
      if (!this.#spans.owns(parent)) return undefined;
      span = this.#spans.startSpan(call.operation, CLIENT, active);
      if (span.isRecording()) setAttributes(span, call);
    }
    const sc = (span ?? parent)?.spanContext();
    return {
      call,
      span,
      traceId: sc?.traceId,
      sampled: sc !== undefined && (sc.traceFlags & TraceFlags.SAMPLED) !== 0,
      startedAt: performance.now(),
      ended: false,
    };
  }

  /** Finishes a call once (later calls do nothing); never throws. */
  end(op: DbOperation, error?: unknown): void {
    if (op.ended) return;
    op.ended = true;
    const seconds = (performance.now() - op.startedAt) / 1000;
    const call = op.call;
    const failed = error !== undefined;
    const type = failed ? dbErrorType(error) : '';
    try {
      const span = op.span;
      if (span !== undefined) {
        if (failed && span.isRecording()) {
          span.setAttribute('error.type', type);
          if (call.system === 'postgresql' && /^[0-9A-Z]{5}$/.test(type)) span.setAttribute('db.response.status_code', type);
          const message = errorMessage(call.system, type, error);
          span.recordException({ name: error instanceof Error ? error.name : type, message, ...(call.system === 'postgresql' ? {} : { stack: (error as Error).stack }) });
          span.setStatus({ code: SpanStatusCode.ERROR, message });
        }
        span.end();
      }
      const metrics = this.#metrics;
      const opLabel = metrics === undefined ? call.operation : metrics.operationLabel(call.operation);
      metrics?.operation(call.system, opLabel, type, seconds, op.sampled ? op.traceId : undefined);
      if (seconds * 1000 >= this.#slowMs) {
        metrics?.slow(call.system, opLabel);
        this.#slowLine(op, seconds, type);
      }
    } catch (e) {
      this.#report(e, `db-${call.system}`);
    }
  }

  #slowLine(op: DbOperation, seconds: number, errorType: string): void {
    const call = op.call;
    const pool = call.pool;
    const stats = pool?.stats();
    this.#logger.warn(
      {
        db_system_name: call.system,
        db_operation_name: call.operation,
        db_query_text: call.queryText === undefined ? undefined : sanitizeText(call.queryText),
        duration_ms: Math.round(seconds * 1e6) / 1e3,
        slow_query_ms: this.#slowMs,
        ...(op.traceId === undefined ? {} : { trace_id: op.traceId }),
        ...(errorType === '' ? {} : { error_type: errorType }),
        ...(pool === undefined ? {} : { pool_name: pool.name }),
        ...(stats === undefined ? {} : { pool: { total: stats.total, idle: stats.idle, waiting: stats.waiting, ...(stats.max === undefined ? {} : { max: stats.max }) } }),
      },
      'slow database operation',
    );
  }
}

/**
 * The error's message as a span may carry it. PostgreSQL quotes the offending value in data
 * errors (`invalid input syntax for type integer: "..."`), which may be a parameter: outside
 * class 42 (syntax and access errors, whose quotes are tokens of the statement itself) quoted
 * parts become `?`, and no stack is kept (it repeats the message).
 */
function errorMessage(system: string, type: string, error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  if (system === 'postgresql' && !type.startsWith('42')) message = message.replace(/"[^"]*"|'[^']*'/g, '?');
  return sanitizeText(message);
}

function setAttributes(span: Span, call: DbCall): void {
  span.setAttribute('db.system.name', call.system);
  span.setAttribute('db.operation.name', call.operation);
  if (call.namespace !== undefined) span.setAttribute('db.namespace', call.namespace);
  if (call.collection !== undefined) span.setAttribute('db.collection.name', call.collection);
  if (call.queryText !== undefined) span.setAttribute('db.query.text', call.queryText);
  if (call.serverAddress !== undefined) span.setAttribute('server.address', call.serverAddress);
  if (call.serverPort !== undefined) span.setAttribute('server.port', call.serverPort);
  if (call.batchSize !== undefined) span.setAttribute('db.operation.batch.size', call.batchSize);
  if (call.connectionWait !== undefined) span.setAttribute('db.client.connection.wait_time', call.connectionWait);
}
