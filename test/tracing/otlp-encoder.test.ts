import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Link, Tracer } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { EncodedSpans, OtlpTraceEncoder } from '../../src/tracing/otlp-encoder.js';
import { decodeTraceRequest } from '../otlp-definitions.js';

interface KeyValueJson {
  key: string;
  value: Record<string, unknown>;
}
interface SpanJson {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValueJson[];
  droppedAttributesCount?: number;
  events: { timeUnixNano: string; name: string; attributes: KeyValueJson[]; droppedAttributesCount?: number }[];
  droppedEventsCount?: number;
  links: { traceId: string; spanId: string; traceState?: string; attributes: KeyValueJson[]; droppedAttributesCount?: number }[];
  droppedLinksCount?: number;
  status: { code?: number; message?: string };
}
interface RequestJson {
  resourceSpans: {
    resource: { attributes: KeyValueJson[] };
    schemaUrl?: string;
    scopeSpans: { scope: { name: string; version?: string }; schemaUrl?: string; spans: SpanJson[] }[];
  }[];
}

/** The request as opentelemetry-proto's definitions decode it: 64-bit integers as decimal text, IDs as hex. */
const decode = (body: Uint8Array) => decodeTraceRequest(body) as RequestJson;

function recorder(): { spans: ReadableSpan[]; processor: SpanProcessor } {
  const spans: ReadableSpan[] = [];
  return { spans, processor: { onStart() {}, onEnd: (s) => spans.push(s), forceFlush: async () => {}, shutdown: async () => {} } };
}

const EVERY_KIND: Attributes = {
  'str': 'text',
  'str.empty': '',
  'str.unicode': 'grüße 日本語 🎉',
  'str.long': 'x'.repeat(200),
  'str.long.unicode': 'é'.repeat(150),
  'int': 42,
  'int.zero': 0,
  'int.negative': -7,
  'int.negative.zero': -0,
  'int.2^32': 2 ** 32,
  'int.max.safe': Number.MAX_SAFE_INTEGER,
  'int.2^62': 2 ** 62,
  'int.min': -(2 ** 63),
  'int.large.negative': -(2 ** 40) - 3,
  'int.2^63': 2 ** 63,
  'double': 3.25,
  'double.negative': -0.5,
  'double.infinity': Infinity,
  'double.nan': NaN,
  'bool.true': true,
  'bool.false': false,
  'array.string': ['a', '', 'ü'],
  'array.int': [1, -2, 2 ** 50],
  'array.double': [1.5, 2],
  'array.bool': [true, false],
  'array.empty': [],
  'array.holes': ['a', null, undefined, 'b'],
};

/** A batch of spans of every shape a user's instrumentation can make, from 2 resources and 3 scopes. */
function variedSpans(): ReadableSpan[] {
  const { spans, processor } = recorder();
  const a = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'shop', 'service.version': '1.0.0', 'process.pid': 4242, 'host.tags': ['a', 'b'] }),
    spanProcessors: [processor],
    spanLimits: { attributeCountLimit: 40, eventCountLimit: 3, linkCountLimit: 2 },
  });
  const b = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'ключ', 'deployment.environment.name': '' }, { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' }),
    spanProcessors: [processor],
  });
  const periscope = a.getTracer('periscope', '0.1.0');
  const user = a.getTracer('user-lib', undefined, { schemaUrl: 'https://opentelemetry.io/schemas/1.21.0' });
  const other = b.getTracer('other');

  const s1 = periscope.startSpan('every attribute kind', { kind: SpanKind.SERVER, attributes: EVERY_KIND });
  s1.setStatus({ code: SpanStatusCode.ERROR, message: 'boom: ünïcode' });
  s1.end();

  // More attributes than the limit: the rest are dropped and counted.
  const many: Attributes = {};
  for (let i = 0; i < 45; i++) many[`k${i}`] = i;
  const s2 = periscope.startSpan('dropped', { kind: SpanKind.INTERNAL, attributes: many });
  for (let i = 0; i < 5; i++) s2.addEvent(`e${i}`, { i });
  s2.end();

  // A remote parent with a trace state; links with and without attributes, over the limit.
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
    isRemote: true,
    traceState: new TraceState('vendor=opaque,other=1'),
  });
  const links: Link[] = [
    { context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true, traceState: new TraceState('l=1') }, attributes: { 'link.kind': 'follows', n: [1, 2] } },
    { context: { traceId: 'ffffffffffffffffffffffffffffffff', spanId: '0000000000000001', traceFlags: 0 } },
    { context: { traceId: '11111111111111111111111111111111', spanId: '2222222222222222', traceFlags: 1 } },
  ];
  // One more span whose links all fit, with their trace state and attributes.
  const linked = other.startSpan('linked', { kind: SpanKind.INTERNAL, links: links.slice(0, 1) });
  linked.end();
  const s3 = user.startSpan('GET /users/:id', { kind: SpanKind.CLIENT, links, startTime: [1_700_000_000, 5] }, remote);
  s3.addEvent('no attributes');
  s3.addEvent('at a time', { 'event.attr': 'ü' }, [1_700_000_000, 123_456_789]);
  s3.recordException(new TypeError('bad input'));
  s3.setStatus({ code: SpanStatusCode.OK });
  s3.end([1_700_000_001, 999_999_999]);

  // A child of a local span, every remaining kind, empty names.
  const parent = periscope.startSpan('parent', { kind: SpanKind.PRODUCER });
  const child = periscope.startSpan('', { kind: SpanKind.CONSUMER, attributes: { '': '' } }, trace.setSpan(ROOT_CONTEXT, parent));
  child.end();
  parent.end();

  // Many spans across the scopes and resources, interleaved, so the messages pass 128 and 16,384 bytes.
  const tracers: Tracer[] = [periscope, user, other];
  for (let i = 0; i < 300; i++) {
    const s = tracers[i % 3]!.startSpan(`span ${i}`, { kind: SpanKind.SERVER, attributes: { 'http.route': `/items/${i}`, 'http.response.status_code': 200 + (i % 5) } });
    s.end();
  }
  return spans;
}

describe('OtlpTraceEncoder', () => {
  it('decodes with the official definitions to what OpenTelemetry’s ProtobufTraceSerializer writes, byte for byte', () => {
    const spans = variedSpans();
    const ours = new OtlpTraceEncoder().encode(spans);
    const theirs = ProtobufTraceSerializer.serializeRequest(spans)!;
    expect(decode(ours)).toEqual(decode(theirs));
    // The same fields in the same order, `flags` included (the definitions above predate it).
    expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true);
  });

  it('writes spans encoded as they ended into the bytes encode() writes for the same spans, batch after batch', () => {
    const spans = variedSpans();
    const queued = new EncodedSpans();
    const encoder = new OtlpTraceEncoder();
    const reference = new OtlpTraceEncoder();
    let arrived = 0;
    let taken = 0;
    // Uneven batches with spans arriving between them, as an export queue takes them: mixed
    // resources and scopes, batches that split a group, one left over to the end.
    for (const [arrive, take] of [
      [120, 50],
      [100, 130],
      [86, 40],
      [0, 86],
    ] as const) {
      for (let i = 0; i < arrive; i++) queued.add(spans[arrived++]!);
      const body = encoder.encodeQueued(queued, take);
      expect(body.equals(reference.encode(spans.slice(taken, taken + take)))).toBe(true);
      taken += take;
      expect(queued.length).toBe(arrived - taken);
    }
    expect(taken).toBe(spans.length);
    // One resource and one scope (the usual batch): the spans' bytes are copied in one piece.
    const first = spans[0]!;
    const same = spans.filter((s) => s.resource === first.resource && s.instrumentationScope === first.instrumentationScope);
    expect(same.length).toBeGreaterThan(100);
    for (const span of same) queued.add(span);
    expect(encoder.encodeQueued(queued, 100).equals(reference.encode(same.slice(0, 100)))).toBe(true);
    expect(encoder.encodeQueued(queued, queued.length).equals(reference.encode(same.slice(100)))).toBe(true);
    expect(queued.length).toBe(0);
  });

  it('keeps nothing of a span it cannot encode', () => {
    const spans = variedSpans();
    const queued = new EncodedSpans();
    queued.add(spans[0]!);
    const broken = Object.create(spans[1]!, { status: { get: () => { throw new Error('no status'); } } }) as ReadableSpan;
    expect(() => queued.add(broken)).toThrow('no status');
    queued.add(spans[2]!);
    expect(queued.length).toBe(2);
    expect(new OtlpTraceEncoder().encodeQueued(queued, 2).equals(new OtlpTraceEncoder().encode([spans[0]!, spans[2]!]))).toBe(true);
  });

  it('groups by resource, then scope, in first-seen order', () => {
    const request = decode(new OtlpTraceEncoder().encode(variedSpans()));
    expect(request.resourceSpans.map((rs) => rs.scopeSpans.map((ss) => [ss.scope.name, ss.spans.length]))).toEqual([
      [
        ['periscope', 104],
        ['user-lib', 101],
      ],
      [['other', 101]],
    ]);
    expect(request.resourceSpans[1]!.schemaUrl).toBe('https://opentelemetry.io/schemas/1.26.0');
    expect(request.resourceSpans[0]!.scopeSpans[1]!.schemaUrl).toBe('https://opentelemetry.io/schemas/1.21.0');
    expect(request.resourceSpans[0]!.scopeSpans[0]!.scope).toEqual({ name: 'periscope', version: '0.1.0', attributes: [] });
  });

  it('writes each field as the span has it', () => {
    const spans = variedSpans();
    const request = decode(new OtlpTraceEncoder().encode(spans));
    const [every, dropped, client] = request.resourceSpans[0]!.scopeSpans[0]!.spans.slice(0, 1).concat(
      request.resourceSpans[0]!.scopeSpans[0]!.spans.slice(1, 2),
      request.resourceSpans[0]!.scopeSpans[1]!.spans.slice(0, 1),
    ) as [SpanJson, SpanJson, SpanJson];
    const source = spans[0]!;
    const nanos = (t: [number, number]) => String(BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]));
    expect(every.traceId).toBe(source.spanContext().traceId);
    expect(every.spanId).toBe(source.spanContext().spanId);
    expect(every.parentSpanId).toBeUndefined();
    expect(every.kind).toBe(2);
    expect(every.startTimeUnixNano).toBe(nanos(source.startTime));
    expect(every.endTimeUnixNano).toBe(nanos(source.endTime));
    expect(every.status).toEqual({ code: 2, message: 'boom: ünïcode' });
    const value = (key: string) => every.attributes.find((kv) => kv.key === key)?.value;
    expect(value('str.empty')).toEqual({ stringValue: '' });
    expect(value('str.unicode')).toEqual({ stringValue: 'grüße 日本語 🎉' });
    expect(value('str.long.unicode')).toEqual({ stringValue: 'é'.repeat(150) });
    expect(value('int.negative')).toEqual({ intValue: '-7' });
    expect(value('int.2^62')).toEqual({ intValue: '4611686018427387904' });
    expect(value('int.min')).toEqual({ intValue: '-9223372036854775808' });
    expect(value('int.large.negative')).toEqual({ intValue: '-1099511627779' });
    expect(value('int.2^63')).toEqual({ doubleValue: 2 ** 63 });
    expect(value('double.nan')).toEqual({ doubleValue: NaN });
    expect(value('bool.false')).toEqual({ boolValue: false });
    expect(value('array.int')).toEqual({ arrayValue: { values: [{ intValue: '1' }, { intValue: '-2' }, { intValue: '1125899906842624' }] } });
    expect(value('array.empty')).toEqual({ arrayValue: { values: [] } });
    expect(value('array.holes')).toEqual({ arrayValue: { values: [{ stringValue: 'a' }, {}, {}, { stringValue: 'b' }] } });
    expect(dropped.attributes).toHaveLength(40);
    expect(dropped.droppedAttributesCount).toBe(5);
    expect(dropped.events.map((e) => e.name)).toEqual(['e2', 'e3', 'e4']);
    expect(dropped.droppedEventsCount).toBe(2);
    expect(client.parentSpanId).toBe('b7ad6b7169203331');
    expect(client.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(client.traceState).toBe('vendor=opaque,other=1');
    // Over the limit, the SDK keeps the last links.
    expect(client.links.map((l) => [l.traceId, l.spanId, l.traceState, l.attributes.length])).toEqual([
      ['ffffffffffffffffffffffffffffffff', '0000000000000001', undefined, 0],
      ['11111111111111111111111111111111', '2222222222222222', undefined, 0],
    ]);
    expect(client.droppedLinksCount).toBe(1);
    const linked = request.resourceSpans[1]!.scopeSpans[0]!.spans[0]!;
    expect(linked.links).toEqual([
      {
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        traceState: 'l=1',
        attributes: [
          { key: 'link.kind', value: { stringValue: 'follows' } },
          { key: 'n', value: { arrayValue: { values: [{ intValue: '1' }, { intValue: '2' }] } } },
        ],
        droppedAttributesCount: 0,
      },
    ]);
    expect(client.events.map((e) => e.name)).toEqual(['no attributes', 'at a time', 'exception']);
    expect(client.events[1]!.timeUnixNano).toBe('1700000000123456789');
    expect(client.startTimeUnixNano).toBe('1700000000000000005');
    expect(client.endTimeUnixNano).toBe('1700000001999999999');
    expect(client.status).toEqual({ code: 1 });
  });

  it('hands out a copy, so a body sent later is not overwritten by the next batch', () => {
    const encoder = new OtlpTraceEncoder();
    const spans = variedSpans();
    const first = encoder.encode(spans.slice(0, 10));
    const before = Buffer.from(first);
    encoder.encode(spans.slice(10));
    expect(first.equals(before)).toBe(true);
    expect(encoder.encode([]).length).toBe(0);
  });

  it('encodes a resource whose attributes are still pending each time, and keeps it once settled', async () => {
    const { spans, processor } = recorder();
    let settle!: (v: string) => void;
    const resource = resourceFromAttributes({ 'service.name': 'late', 'host.id': new Promise<string>((r) => (settle = r)) });
    const provider = new TracerProvider({ resource, spanProcessors: [processor] });
    const encoder = new OtlpTraceEncoder();
    provider.getTracer('t').startSpan('a').end();
    const early = decode(encoder.encode(spans));
    expect(early.resourceSpans[0]!.resource.attributes.map((kv) => kv.key)).toEqual(['service.name']);
    settle('h-1');
    await resource.waitForAsyncAttributes?.();
    const late = decode(encoder.encode(spans));
    expect(late.resourceSpans[0]!.resource.attributes).toEqual([
      { key: 'service.name', value: { stringValue: 'late' } },
      { key: 'host.id', value: { stringValue: 'h-1' } },
    ]);
  });
});
