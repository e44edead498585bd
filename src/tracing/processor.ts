import { context, ROOT_CONTEXT, TraceFlags } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import { EncodedBatch, EncodedSpans } from './otlp-encoder.js';
import type { OtlpTraceEncoder } from './otlp-encoder.js';
import { encoderOf } from './otlp-exporter.js';

/** A logger-like sink; periscope's pino logger fits, so does a small adapter over process warnings. */
export interface WarnLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** Why a span was not exported. */
export type DropReason = 'queue_full' | 'export_failed';

export interface ExportQueueOptions {
  /** Where batches go (periscope uses the OTLP/HTTP or the console exporter). */
  exporter: SpanExporter;
  /** Most finished spans held; past it spans are dropped and counted (periscope's default 2048). */
  maxQueueSize: number;
  /** Most spans per export call, at most maxQueueSize (periscope's default 512). */
  maxExportBatchSize: number;
  /** Wait before a partial batch is exported (periscope's default 5000 ms). */
  scheduledDelayMillis: number;
  /** An export not settled after this long counts as failed (periscope's default 10000 ms). */
  exportTimeoutMillis: number;
  /** Counts spans that will never be exported (feeds `periscope_spans_dropped_total`). */
  onDrop: (reason: DropReason, count: number) => void;
  logger: WarnLogger;
  /** Export failures are logged at most once per this many milliseconds. Default 60000. */
  logIntervalMillis?: number;
}

/**
 * A batching span processor with a hard bound. Finished spans wait in one array of at most
 * `maxQueueSize`; past it they are dropped and counted, so a dead or hanging collector costs
 * bounded memory and nothing on the request path. One export is in flight at a time, and an
 * export that outlives its timeout is given up on (the exporter's own timeout ends the
 * socket). Export failures are logged at most once per interval, with the counts since.
 *
 * Written here rather than taken from the SDK's BatchSpanProcessor because that one reports
 * drops only through a meter and failures through the global diag error handler per batch.
 */
export class ExportQueue implements SpanProcessor {
  readonly #exporter: SpanExporter;
  readonly #max: number;
  readonly #batch: number;
  readonly #delay: number;
  readonly #timeout: number;
  readonly #onDrop: (reason: DropReason, count: number) => void;
  readonly #logger: WarnLogger;
  readonly #logInterval: number;
  readonly #pending: Pending;
  #timer: NodeJS.Timeout | undefined;
  #exporting: Promise<void> | undefined;
  #shutdown = false;
  #lastLog = -Infinity;
  #failedSinceLog = 0;
  #droppedSinceLog = 0;
  /** The longest the queue has been; tests assert it never passes the maximum. */
  highWater = 0;

  constructor(options: ExportQueueOptions) {
    this.#exporter = options.exporter;
    const encoder = encoderOf(options.exporter);
    this.#pending = encoder === undefined ? new SpanList() : new EncodedPending(encoder);
    this.#max = options.maxQueueSize;
    this.#batch = Math.min(options.maxExportBatchSize, options.maxQueueSize);
    this.#delay = options.scheduledDelayMillis;
    this.#timeout = options.exportTimeoutMillis;
    this.#onDrop = options.onDrop;
    this.#logger = options.logger;
    this.#logInterval = options.logIntervalMillis ?? 60_000;
  }

  /** Spans waiting for export. */
  get length(): number {
    return this.#pending.length;
  }

  onStart(_span: Span): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#shutdown || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.length >= this.#max) {
      this.#droppedSinceLog++;
      this.#onDrop('queue_full', 1);
      return;
    }
    try {
      this.#pending.add(span);
    } catch (error) {
      // A span the encoder cannot write is lost alone, counted and logged like a failed export.
      this.#failed(1, error as Error);
      return;
    }
    const length = this.length;
    if (length > this.highWater) this.highWater = length;
    if (this.#exporting !== undefined) return;
    if (length >= this.#batch) {
      this.#exportNext();
    } else if (this.#timer === undefined) {
      // One timer per batch, never one per span.
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#exportNext();
      }, this.#delay);
      this.#timer.unref();
    }
  }

  /** Starts one export if none is running; the next one follows when it settles. */
  #exportNext(): void {
    if (this.#exporting !== undefined || this.length === 0) return;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const running = this.#exportBatch().finally(() => {
      this.#exporting = undefined;
      if (this.length >= this.#batch) this.#exportNext();
      else if (this.length > 0 && this.#timer === undefined && !this.#shutdown) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#exportNext();
        }, this.#delay);
        this.#timer.unref();
      }
    });
    this.#exporting = running;
  }

  #exportBatch(): Promise<void> {
    const spans = this.#pending.take(Math.min(this.length, this.#batch));
    return new Promise<void>((resolve) => {
      let settled = false;
      const done = (result: ExportResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (result.code !== ExportResultCode.SUCCESS) this.#failed(spans.length, result.error);
        resolve();
      };
      const timer = setTimeout(
        () => done({ code: ExportResultCode.FAILED, error: new Error(`span export timed out after ${this.#timeout} ms`) }),
        this.#timeout,
      );
      timer.unref();
      try {
        // The exporter's own HTTP request must not become a CLIENT span of anything.
        context.with(suppressTracing(ROOT_CONTEXT), () => this.#exporter.export(spans, done));
      } catch (error) {
        done({ code: ExportResultCode.FAILED, error: error as Error });
      }
    });
  }

  #failed(count: number, error: Error | undefined): void {
    this.#onDrop('export_failed', count);
    this.#failedSinceLog += count;
    const now = Date.now();
    if (now - this.#lastLog < this.#logInterval) return;
    this.#lastLog = now;
    try {
      this.#logger.warn(
        {
          err: error,
          failed_spans: this.#failedSinceLog,
          dropped_spans: this.#droppedSinceLog,
          queued_spans: this.length,
        },
        `periscope: span export failed: ${error?.message ?? 'unknown error'} (logged at most once per ${Math.round(this.#logInterval / 1000)} s; counted in periscope_spans_dropped_total)`,
      );
    } catch {
      // A failing logger must not break the export loop.
    }
    this.#failedSinceLog = 0;
    this.#droppedSinceLog = 0;
  }

  /** Exports everything queued, batch by batch. */
  async forceFlush(): Promise<void> {
    while (this.#exporting !== undefined || this.length > 0) {
      if (this.#exporting === undefined) this.#exportNext();
      await this.#exporting;
    }
  }

  /** Flushes within `timeoutMillis`, then shuts the exporter down; spans still queued then are dropped and counted. */
  async shutdown(timeoutMillis = 5000): Promise<void> {
    if (this.#shutdown) return;
    this.#shutdown = true;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMillis);
      timer.unref();
    });
    await Promise.race([this.forceFlush(), deadline]);
    clearTimeout(timer);
    const left = this.length;
    this.#pending.clear();
    if (left > 0) this.#onDrop('export_failed', left);
    await Promise.race([this.#exporter.shutdown().catch(() => {}), new Promise<void>((r) => setTimeout(r, 100).unref())]);
  }
}

/** The finished spans waiting for export, as the queue keeps them. */
interface Pending {
  readonly length: number;
  /** Keeps `span`; on a throw nothing of it is kept. */
  add(span: ReadableSpan): void;
  /** The first `n` spans (at most `length`) as the exporter takes them, no longer kept. */
  take(n: number): ReadableSpan[];
  clear(): void;
}

/** The spans themselves, for any exporter. */
class SpanList implements Pending {
  #spans: ReadableSpan[] = [];

  get length(): number {
    return this.#spans.length;
  }

  add(span: ReadableSpan): void {
    this.#spans.push(span);
  }

  take(n: number): ReadableSpan[] {
    if (n < this.#spans.length) return this.#spans.splice(0, n);
    const all = this.#spans;
    this.#spans = [];
    return all;
  }

  clear(): void {
    this.#spans = [];
  }
}

/**
 * With periscope's protobuf exporter: each span encoded as it ends, waiting as bytes. A span
 * object waiting for its batch outlived young-generation collections and was promoted, which
 * lengthened every scavenge under tracing.
 */
class EncodedPending implements Pending {
  readonly #spans = new EncodedSpans();

  constructor(readonly encoder: OtlpTraceEncoder) {}

  get length(): number {
    return this.#spans.length;
  }

  add(span: ReadableSpan): void {
    this.#spans.add(span);
  }

  take(n: number): ReadableSpan[] {
    // Handed through the exporter as its spans: its serializer knows an EncodedBatch is the body.
    return new EncodedBatch(this.encoder.encodeQueued(this.#spans, n), n) as unknown as ReadableSpan[];
  }

  clear(): void {
    this.#spans.clear();
  }
}
