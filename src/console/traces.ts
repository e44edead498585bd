import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/** A span as the console keeps it: plain values, strings capped, ready to be sent as JSON. */
export interface SpanRecord {
  readonly spanId: string;
  readonly parentId: string | undefined;
  readonly name: string;
  /** OpenTelemetry SpanKind: 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
  readonly kind: number;
  /** Epoch milliseconds. */
  readonly start: number;
  readonly durationMs: number;
  /** 0 unset, 1 ok, 2 error. */
  readonly status: number;
  readonly statusMessage: string | undefined;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  readonly events: readonly { readonly name: string; readonly time: number; readonly attributes: Readonly<Record<string, string | number | boolean>> }[];
}

/** One trace held: its spans in the order they ended. */
export interface TraceEntry {
  readonly traceId: string;
  readonly spans: SpanRecord[];
  /** Name of its local root span (the SERVER span of a request), once that ended. */
  rootName: string | undefined;
  route: string | undefined;
  statusCode: number | undefined;
  start: number;
  end: number;
  error: boolean;
  /** Set once its local root ended: then it may be pinned as an error or one of the slowest. */
  complete: boolean;
  pinnedError: boolean;
  pinnedSlow: boolean;
  /** Spans past the per-trace cap. */
  dropped: number;
}

/** What the trace list shows of a trace. */
export interface TraceSummary {
  readonly traceId: string;
  readonly name: string;
  readonly route: string | undefined;
  readonly statusCode: number | undefined;
  readonly start: number;
  readonly durationMs: number;
  readonly spans: number;
  readonly error: boolean;
}

export interface TraceLimits {
  readonly maxTraces: number;
  readonly maxSpans: number;
  readonly maxSpansPerTrace: number;
  readonly pinnedErrors: number;
  readonly pinnedSlowest: number;
}

const MAX_ATTRIBUTES = 64;
const MAX_EVENTS = 32;
const MAX_TEXT = 1024;

function hrToMs(t: readonly [number, number]): number {
  return t[0] * 1000 + t[1] / 1e6;
}

function text(value: string): string {
  return value.length <= MAX_TEXT ? value : `${value.slice(0, MAX_TEXT)}…`;
}

function attributesOf(attributes: Readonly<Record<string, unknown>>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  let n = 0;
  for (const key of Object.keys(attributes)) {
    if (n++ >= MAX_ATTRIBUTES) break;
    const v = attributes[key];
    out[text(key)] = typeof v === 'number' || typeof v === 'boolean' ? v : typeof v === 'string' ? text(v) : text(JSON.stringify(v) ?? String(v));
  }
  return out;
}

/** A span as the console keeps it. */
export function recordOf(span: ReadableSpan): SpanRecord {
  const parent = span.parentSpanContext;
  return {
    spanId: span.spanContext().spanId,
    parentId: parent?.spanId,
    name: text(span.name),
    kind: span.kind,
    start: hrToMs(span.startTime),
    durationMs: hrToMs(span.duration),
    status: span.status.code,
    statusMessage: span.status.message === undefined ? undefined : text(span.status.message),
    attributes: attributesOf(span.attributes),
    events: span.events.slice(0, MAX_EVENTS).map((e) => ({ name: text(e.name), time: hrToMs(e.time), attributes: attributesOf(e.attributes ?? {}) })),
  };
}

export function summaryOf(t: TraceEntry): TraceSummary {
  return {
    traceId: t.traceId,
    name: t.rootName ?? t.spans[0]?.name ?? '',
    route: t.route,
    statusCode: t.statusCode,
    start: t.start,
    durationMs: Math.round((t.end - t.start) * 1000) / 1000,
    spans: t.spans.length,
    error: t.error,
  };
}

/**
 * The recent traces, bounded: at most `maxTraces` traces and `maxSpans` spans, whole traces
 * evicted oldest-first. The last `pinnedErrors` error traces and the `pinnedSlowest` slowest
 * (by their local root's duration) are skipped by that eviction, so a burst of fast requests
 * cannot push the interesting ones out; they count in the bounds all the same, and when only
 * pinned traces are left over a bound, the oldest of them goes too (the bounds always hold).
 */
export class TraceStore {
  readonly #limits: TraceLimits;
  /** Insertion order is first-seen order: the first entry is the oldest. */
  readonly #traces = new Map<string, TraceEntry>();
  #spans = 0;
  /** Error trace IDs, oldest first. */
  readonly #errors: string[] = [];
  /** The slowest traces, fastest first. */
  readonly #slowest: TraceEntry[] = [];
  evicted = 0;
  droppedSpans = 0;
  /** Called with each trace whose local root ended (for the live list). */
  onComplete: ((t: TraceEntry) => void) | undefined;

  constructor(limits: TraceLimits) {
    this.#limits = limits;
  }

  get traceCount(): number {
    return this.#traces.size;
  }

  get spanCount(): number {
    return this.#spans;
  }

  get(traceId: string): TraceEntry | undefined {
    return this.#traces.get(traceId);
  }

  add(traceId: string, span: SpanRecord, localRoot: boolean, route: string | undefined, statusCode: number | undefined): void {
    let t = this.#traces.get(traceId);
    if (t === undefined) {
      t = { traceId, spans: [], rootName: undefined, route: undefined, statusCode: undefined, start: span.start, end: span.start + span.durationMs, error: false, complete: false, pinnedError: false, pinnedSlow: false, dropped: 0 };
      this.#traces.set(traceId, t);
    }
    if (t.spans.length >= this.#limits.maxSpansPerTrace) {
      t.dropped++;
      this.droppedSpans++;
    } else {
      t.spans.push(span);
      this.#spans++;
    }
    t.start = Math.min(t.start, span.start);
    t.end = Math.max(t.end, span.start + span.durationMs);
    if (span.status === 2) t.error = true;
    if (localRoot) {
      t.rootName = span.name;
      t.route = route;
      t.statusCode = statusCode;
      t.complete = true;
      if (t.error) this.#pinError(t);
      this.#pinSlow(t);
    }
    this.#evict();
    if (localRoot && this.#traces.get(traceId) === t) this.onComplete?.(t);
  }

  #pinError(t: TraceEntry): void {
    if (t.pinnedError) return;
    t.pinnedError = true;
    this.#errors.push(t.traceId);
    if (this.#errors.length > this.#limits.pinnedErrors) {
      const old = this.#traces.get(this.#errors.shift()!);
      if (old !== undefined) old.pinnedError = false;
    }
  }

  #pinSlow(t: TraceEntry): void {
    const slow = this.#slowest;
    if (this.#limits.pinnedSlowest === 0) return;
    const d = t.end - t.start;
    if (t.pinnedSlow) {
      slow.splice(slow.indexOf(t), 1);
    } else if (slow.length >= this.#limits.pinnedSlowest) {
      if (d <= slow[0]!.end - slow[0]!.start) return;
      slow.shift()!.pinnedSlow = false;
    }
    t.pinnedSlow = true;
    let i = 0;
    while (i < slow.length && slow[i]!.end - slow[i]!.start < d) i++;
    slow.splice(i, 0, t);
  }

  #evict(): void {
    const { maxTraces, maxSpans } = this.#limits;
    if (this.#traces.size <= maxTraces && this.#spans <= maxSpans) return;
    for (const t of this.#traces.values()) {
      if (this.#traces.size <= maxTraces && this.#spans <= maxSpans) return;
      if (!t.pinnedError && !t.pinnedSlow) this.#remove(t);
    }
    // Only pinned traces are left over a bound: the oldest go anyway.
    for (const t of this.#traces.values()) {
      if (this.#traces.size <= maxTraces && this.#spans <= maxSpans) return;
      this.#remove(t);
    }
  }

  #remove(t: TraceEntry): void {
    this.#traces.delete(t.traceId);
    this.#spans -= t.spans.length;
    this.evicted++;
    if (t.pinnedError) this.#errors.splice(this.#errors.indexOf(t.traceId), 1);
    if (t.pinnedSlow) this.#slowest.splice(this.#slowest.indexOf(t), 1);
  }

  /** Newest first: the recent traces, the pinned error traces and the slowest. */
  lists(limit = this.#limits.maxTraces): { recent: TraceSummary[]; errors: TraceSummary[]; slowest: TraceSummary[] } {
    const recent: TraceSummary[] = [];
    for (const t of this.#traces.values()) if (t.complete) recent.push(summaryOf(t));
    recent.reverse();
    const errors = this.#errors.map((id) => this.#traces.get(id)).filter((t): t is TraceEntry => t !== undefined).map(summaryOf).reverse();
    const slowest = this.#slowest.map(summaryOf).reverse();
    return { recent: recent.slice(0, limit), errors, slowest };
  }

  get pinned(): { errors: number; slowest: number } {
    return { errors: this.#errors.length, slowest: this.#slowest.length };
  }
}

/**
 * The span processor tracing is handed when the console is on (and only then): each ended,
 * sampled span goes to the store. A span is a local root when its parent is absent or remote
 * (the SERVER span of a request, or a root `withSpan`).
 */
export function spanTap(store: TraceStore, report: (error: unknown, where: string) => void): SpanProcessor {
  return {
    onStart(_span: Span, _parent: Context): void {},
    onEnd(span: ReadableSpan): void {
      try {
        if ((span.spanContext().traceFlags & 1) === 0) return;
        const parent = span.parentSpanContext;
        const localRoot = parent === undefined || parent.isRemote === true;
        const a = span.attributes;
        const route = typeof a['http.route'] === 'string' ? a['http.route'] : typeof a['url.path'] === 'string' ? a['url.path'] : undefined;
        const status = typeof a['http.response.status_code'] === 'number' ? a['http.response.status_code'] : undefined;
        store.add(span.spanContext().traceId, recordOf(span), localRoot, route, status);
      } catch (error) {
        report(error, 'console-span');
      }
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}
