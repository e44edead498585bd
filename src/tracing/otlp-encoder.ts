import type { Attributes, HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { ProtoWriter } from '../core/proto-writer.js';

/*
 * An OTLP `ExportTraceServiceRequest` (opentelemetry-proto's trace_service.proto, trace.proto,
 * common.proto, resource.proto) written straight from the SDK's spans, in one pass, into a buffer
 * kept from batch to batch. It writes the fields OpenTelemetry's own ProtobufTraceSerializer
 * writes, in its order, so the two decode to the same message; what it saves is the serializer's
 * sizing pass, an array per ID, and the resource and scope, encoded once per object and kept.
 */

// Field numbers, one enum per message of the .proto files.
const enum RequestF { ResourceSpans = 1 }
const enum ResourceSpansF { Resource = 1, ScopeSpans = 2, SchemaUrl = 3 }
const enum ResourceF { Attributes = 1, Dropped = 2 }
const enum ScopeSpansF { Scope = 1, Span = 2, SchemaUrl = 3 }
const enum ScopeF { Name = 1, Version = 2, Attributes = 3, Dropped = 4 }
const enum SpanF {
  TraceId = 1,
  SpanId = 2,
  TraceState = 3,
  ParentSpanId = 4,
  Name = 5,
  Kind = 6,
  Start = 7,
  End = 8,
  Attributes = 9,
  DroppedAttributes = 10,
  Events = 11,
  DroppedEvents = 12,
  Links = 13,
  DroppedLinks = 14,
  Status = 15,
  Flags = 16,
}
const enum EventF { Time = 1, Name = 2, Attributes = 3, Dropped = 4 }
const enum LinkF { TraceId = 1, SpanId = 2, TraceState = 3, Attributes = 4, Dropped = 5, Flags = 6 }
const enum StatusF { Message = 2, Code = 3 }
const enum KeyValueF { Key = 1, Value = 2 }
const enum AnyValueF { String = 1, Bool = 2, Int = 3, Double = 4, Array = 5, Kvlist = 6, Bytes = 7 }
/** ArrayValue's `values` (AnyValue) and KeyValueList's `values` (KeyValue). */
const VALUES = 1;

// SpanFlags: the low 8 bits are the W3C trace flags; bit 8 says whether bit 9 (is remote) is known.
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** Encodes batches of SDK spans as OTLP/HTTP protobuf request bodies. One instance per exporter. */
export class OtlpTraceEncoder {
  readonly #w = new ProtoWriter();
  /** The encoded `resource` field (tag included) of each resource seen. */
  readonly #resources = new WeakMap<Resource, Buffer>();
  /** The encoded `scope` field (tag included) of each instrumentation scope seen. */
  readonly #scopes = new WeakMap<InstrumentationScope, Buffer>();

  /** The request body for `spans`: a fresh Buffer, safe to hold while the next batch is encoded. */
  encode(spans: readonly ReadableSpan[]): Buffer {
    const w = this.#w;
    w.reset();
    const first = spans[0];
    if (first === undefined) return w.copy();
    // One resource and one scope (one tracer, one provider) is the usual batch: no grouping.
    let mixed = false;
    for (let i = 1; i < spans.length; i++) {
      const s = spans[i]!;
      if (s.resource !== first.resource || s.instrumentationScope !== first.instrumentationScope) {
        mixed = true;
        break;
      }
    }
    if (!mixed) {
      w.begin(RequestF.ResourceSpans);
      this.#resource(first.resource);
      this.#scopeSpans(spans);
      if (first.resource.schemaUrl) w.string(ResourceSpansF.SchemaUrl, first.resource.schemaUrl);
      w.end();
      return w.copy();
    }
    // Grouped by resource, then scope, by identity and in first-seen order, as OpenTelemetry's
    // serializer groups them.
    const byResource = new Map<Resource, Map<InstrumentationScope, ReadableSpan[]>>();
    for (const span of spans) {
      let scopes = byResource.get(span.resource);
      if (scopes === undefined) byResource.set(span.resource, (scopes = new Map()));
      const list = scopes.get(span.instrumentationScope);
      if (list === undefined) scopes.set(span.instrumentationScope, [span]);
      else list.push(span);
    }
    for (const [resource, scopes] of byResource) {
      w.begin(RequestF.ResourceSpans);
      this.#resource(resource);
      for (const list of scopes.values()) this.#scopeSpans(list);
      if (resource.schemaUrl) w.string(ResourceSpansF.SchemaUrl, resource.schemaUrl);
      w.end();
    }
    return w.copy();
  }

  #resource(resource: Resource): void {
    const w = this.#w;
    const kept = this.#resources.get(resource);
    if (kept !== undefined) {
      w.raw(kept);
      return;
    }
    const from = w.length;
    w.begin(ResourceSpansF.Resource);
    writeAttributes(w, ResourceF.Attributes, resource.attributes);
    w.uint(ResourceF.Dropped, 0);
    w.end();
    // Attributes still being resolved may change: keep the encoding only once they are settled.
    if (resource.asyncAttributesPending !== true) this.#resources.set(resource, w.copy(from));
  }

  /** One ScopeSpans of spans that share their scope. */
  #scopeSpans(spans: readonly ReadableSpan[]): void {
    const w = this.#w;
    const scope = spans[0]!.instrumentationScope;
    w.begin(ResourceSpansF.ScopeSpans);
    this.#scope(scope);
    for (let i = 0; i < spans.length; i++) writeSpan(w, spans[i]!);
    if (scope.schemaUrl) w.string(ScopeSpansF.SchemaUrl, scope.schemaUrl);
    w.end();
  }

  /**
   * The request body for the first `n` spans of `queued`, which it then drops: the same bytes as
   * `encode()` of those spans, made from the span fields written when each span ended.
   */
  encodeQueued(queued: EncodedSpans, n: number): Buffer {
    const w = this.#w;
    w.reset();
    if (n === 0) return w.copy();
    const resources = queued.resources;
    const scopes = queued.scopes;
    const ends = queued.ends;
    const source = queued.writer;
    // Grouped by resource, then scope, by identity and in first-seen order, as encode() does
    // (one group, the usual batch, costs two small maps).
    const byResource = new Map<Resource, Map<InstrumentationScope, number[]>>();
    for (let i = 0; i < n; i++) {
      let byScope = byResource.get(resources[i]!);
      if (byScope === undefined) byResource.set(resources[i]!, (byScope = new Map()));
      const list = byScope.get(scopes[i]!);
      if (list === undefined) byScope.set(scopes[i]!, [i]);
      else list.push(i);
    }
    for (const [r, byScope] of byResource) {
      w.begin(RequestF.ResourceSpans);
      this.#resource(r);
      for (const [sc, list] of byScope) {
        w.begin(ResourceSpansF.ScopeSpans);
        this.#scope(sc);
        // Spans queued one after the other lie back to back: each run is one copy.
        for (let k = 0; k < list.length; ) {
          const first = list[k]!;
          let last = first;
          while (++k < list.length && list[k] === last + 1) last++;
          w.raw(source.view(first === 0 ? 0 : ends[first - 1]!, ends[last]!));
        }
        if (sc.schemaUrl) w.string(ScopeSpansF.SchemaUrl, sc.schemaUrl);
        w.end();
      }
      if (r.schemaUrl) w.string(ResourceSpansF.SchemaUrl, r.schemaUrl);
      w.end();
    }
    const body = w.copy();
    queued.drop(n);
    return body;
  }

  /** The `scope` field of a ScopeSpans, encoded once per scope and kept. */
  #scope(scope: InstrumentationScope): void {
    const w = this.#w;
    const kept = this.#scopes.get(scope);
    if (kept !== undefined) w.raw(kept);
    else {
      const from = w.length;
      w.begin(ScopeSpansF.Scope);
      w.string(ScopeF.Name, scope.name);
      if (scope.version) w.string(ScopeF.Version, scope.version);
      const s = scope as InstrumentationScope & { attributes?: Attributes; droppedAttributesCount?: number };
      if (s.attributes) writeAttributes(w, ScopeF.Attributes, s.attributes);
      if (s.droppedAttributesCount) w.uint(ScopeF.Dropped, s.droppedAttributesCount);
      w.end();
      this.#scopes.set(scope, w.copy(from));
    }
  }
}

/**
 * Finished spans kept as their encoded OTLP `Span` fields, back to back in one buffer, until
 * their batch is sent (`OtlpTraceEncoder.encodeQueued`). A span object queued for export lives
 * until its batch fills, long enough to be copied by a young-generation collection or two and
 * promoted; its bytes here are a few hundred, in one buffer V8 never copies, and the span object
 * dies with its request.
 */
export class EncodedSpans {
  readonly writer = new ProtoWriter(16 * 1024);
  /** Where each span's bytes end in `writer`. */
  readonly ends: number[] = [];
  readonly resources: Resource[] = [];
  readonly scopes: InstrumentationScope[] = [];

  get length(): number {
    return this.ends.length;
  }

  /** Encodes `span` at the end; on a throw nothing of it is kept. */
  add(span: ReadableSpan): void {
    const w = this.writer;
    const from = w.length;
    try {
      writeSpan(w, span);
    } catch (error) {
      w.truncate(from);
      throw error;
    }
    this.ends.push(w.length);
    this.resources.push(span.resource);
    this.scopes.push(span.instrumentationScope);
  }

  /** Drops the first `n` spans. */
  drop(n: number): void {
    if (n <= 0) return;
    if (n >= this.ends.length) {
      this.clear();
      return;
    }
    const cut = this.ends[n - 1]!;
    this.writer.shift(cut);
    this.ends.splice(0, n);
    for (let i = 0; i < this.ends.length; i++) this.ends[i]! -= cut;
    this.resources.splice(0, n);
    this.scopes.splice(0, n);
  }

  clear(): void {
    this.writer.reset();
    this.ends.length = 0;
    this.resources.length = 0;
    this.scopes.length = 0;
  }
}

/** A batch `ExportQueue` encoded from `EncodedSpans`, handed through the exporter in place of spans. */
export class EncodedBatch {
  constructor(
    readonly body: Buffer,
    readonly length: number,
  ) {}
}

function flagsOf(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote === true ? IS_REMOTE : 0);
}

function time(w: ProtoWriter, field: number, t: HrTime): void {
  w.hrTime(field, t[0], t[1]);
}

function writeSpan(w: ProtoWriter, span: ReadableSpan): void {
  w.begin(ScopeSpansF.Span);
  const ctx = span.spanContext();
  w.hex(SpanF.TraceId, ctx.traceId);
  w.hex(SpanF.SpanId, ctx.spanId);
  const traceState = ctx.traceState?.serialize();
  if (traceState) w.string(SpanF.TraceState, traceState);
  const parent = span.parentSpanContext;
  if (parent?.spanId) w.hex(SpanF.ParentSpanId, parent.spanId);
  w.string(SpanF.Name, span.name);
  // The API's SpanKind starts at INTERNAL = 0; OTLP's at UNSPECIFIED = 0, INTERNAL = 1.
  if (span.kind != null) w.uint(SpanF.Kind, span.kind + 1);
  time(w, SpanF.Start, span.startTime);
  time(w, SpanF.End, span.endTime);
  if (span.attributes) writeAttributes(w, SpanF.Attributes, span.attributes);
  w.uint(SpanF.DroppedAttributes, span.droppedAttributesCount);
  const events = span.events;
  for (let i = 0; i < events.length; i++) writeEvent(w, events[i]!);
  w.uint(SpanF.DroppedEvents, span.droppedEventsCount);
  const links = span.links;
  for (let i = 0; i < links.length; i++) writeLink(w, links[i]!);
  w.uint(SpanF.DroppedLinks, span.droppedLinksCount);
  const status = span.status;
  w.begin(SpanF.Status);
  if (status.message) w.string(StatusF.Message, status.message);
  w.uint(StatusF.Code, status.code);
  w.end();
  w.fixed32(SpanF.Flags, flagsOf(ctx.traceFlags, parent?.isRemote));
  w.end();
}

function writeEvent(w: ProtoWriter, event: TimedEvent): void {
  w.begin(SpanF.Events);
  time(w, EventF.Time, event.time);
  w.string(EventF.Name, event.name);
  if (event.attributes) writeAttributes(w, EventF.Attributes, event.attributes);
  w.uint(EventF.Dropped, event.droppedAttributesCount || 0);
  w.end();
}

function writeLink(w: ProtoWriter, link: Link): void {
  w.begin(SpanF.Links);
  const ctx: SpanContext = link.context;
  w.hex(LinkF.TraceId, ctx.traceId);
  w.hex(LinkF.SpanId, ctx.spanId);
  const traceState = ctx.traceState?.serialize();
  if (traceState) w.string(LinkF.TraceState, traceState);
  if (link.attributes) writeAttributes(w, LinkF.Attributes, link.attributes);
  w.uint(LinkF.Dropped, link.droppedAttributesCount || 0);
  w.fixed32(LinkF.Flags, flagsOf(ctx.traceFlags, ctx.isRemote));
  w.end();
}

/** Repeated KeyValue in `field`, in the attributes' own key order. */
function writeAttributes(w: ProtoWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    w.begin(field);
    w.string(KeyValueF.Key, key);
    w.begin(KeyValueF.Value);
    writeAnyValue(w, attributes[key]);
    w.end();
    w.end();
  }
}

/**
 * AnyValue of an attribute value. Beyond the API's types (string, number, boolean, arrays of
 * them) it takes what OpenTelemetry's serializer takes, byte arrays and plain objects; null and
 * undefined (inside an array) are an empty AnyValue, as there.
 */
function writeAnyValue(w: ProtoWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.string(AnyValueF.String, value);
      return;
    case 'boolean':
      w.bool(AnyValueF.Bool, value);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) w.int64(AnyValueF.Int, value);
      else w.double(AnyValueF.Double, value);
      return;
    case 'object':
      if (value === null) return;
      if (value instanceof Uint8Array) {
        w.bytes(AnyValueF.Bytes, value);
      } else if (Array.isArray(value)) {
        w.begin(AnyValueF.Array);
        for (const item of value as unknown[]) {
          w.begin(VALUES);
          writeAnyValue(w, item);
          w.end();
        }
        w.end();
      } else {
        w.begin(AnyValueF.Kvlist);
        writeAttributes(w, VALUES, value as Attributes);
        w.end();
      }
      return;
    default:
  }
}
