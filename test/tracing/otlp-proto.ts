/**
 * Reads an OTLP/HTTP protobuf trace export (`ExportTraceServiceRequest`) into the shape of its
 * JSON encoding, so the test receiver handles both the same way. A plain wire-format reader
 * over the field numbers of opentelemetry-proto's trace.proto, common.proto and
 * resource.proto; fields the tests do not look at are skipped.
 */

type Fields = Map<number, (Uint8Array | bigint)[]>;

/** Splits one message into its fields: varints and fixed64 as bigint, length-delimited as bytes. */
function fields(buf: Uint8Array): Fields {
  const out: Fields = new Map();
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let value: Uint8Array | bigint;
    if (wire === 0) value = varint();
    else if (wire === 1) {
      value = new DataView(buf.buffer, buf.byteOffset + pos, 8).getBigUint64(0, true);
      pos += 8;
    } else if (wire === 2) {
      const n = Number(varint());
      value = buf.subarray(pos, pos + n);
      pos += n;
    } else if (wire === 5) {
      value = BigInt(new DataView(buf.buffer, buf.byteOffset + pos, 4).getUint32(0, true));
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
    const list = out.get(field);
    if (list === undefined) out.set(field, [value]);
    else list.push(value);
  }
  return out;
}

const text = (b: Uint8Array | bigint | undefined): string => (b === undefined ? '' : Buffer.from(b as Uint8Array).toString('utf8'));
const hex = (b: Uint8Array | bigint | undefined): string => (b === undefined ? '' : Buffer.from(b as Uint8Array).toString('hex'));
const messages = (f: Fields, n: number): Fields[] => (f.get(n) ?? []).map((b) => fields(b as Uint8Array));
const one = (f: Fields, n: number): Fields | undefined => messages(f, n)[0];
const num = (f: Fields | undefined, n: number): number | undefined => {
  const v = f?.get(n)?.[0];
  return v === undefined ? undefined : Number(v as bigint);
};

interface JsonValue {
  stringValue?: string;
  intValue?: number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values: JsonValue[] };
}

/** AnyValue: string 1, bool 2, int 3, double 4, array 5. */
function anyValue(f: Fields): JsonValue {
  if (f.has(1)) return { stringValue: text(f.get(1)![0]) };
  if (f.has(2)) return { boolValue: (f.get(2)![0] as bigint) !== 0n };
  if (f.has(3)) return { intValue: Number(BigInt.asIntN(64, f.get(3)![0] as bigint)) };
  if (f.has(4)) {
    const view = new DataView(new ArrayBuffer(8));
    view.setBigUint64(0, f.get(4)![0] as bigint, true);
    return { doubleValue: view.getFloat64(0, true) };
  }
  if (f.has(5)) return { arrayValue: { values: messages(fields(f.get(5)![0] as Uint8Array), 1).map(anyValue) } };
  return {};
}

/** KeyValue: key 1, value 2. */
const attributes = (list: Fields[]) => list.map((kv) => ({ key: text(kv.get(1)?.[0]), value: anyValue(one(kv, 2) ?? new Map()) }));

/** The JSON shape of an `ExportTraceServiceRequest` given as protobuf bytes. */
export function decodeTraceRequest(body: Uint8Array) {
  const request = fields(body);
  return {
    // ResourceSpans: resource 1 (attributes 1), scope_spans 2.
    resourceSpans: messages(request, 1).map((rs) => ({
      resource: { attributes: attributes(messages(one(rs, 1) ?? new Map(), 1)) },
      // ScopeSpans: scope 1 (name 1), spans 2.
      scopeSpans: messages(rs, 2).map((ss) => ({
        scope: { name: text(one(ss, 1)?.get(1)?.[0]) },
        // Span: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6, attributes 9, events 11, status 15.
        spans: messages(ss, 2).map((s) => {
          const status = one(s, 15);
          return {
            traceId: hex(s.get(1)?.[0]),
            spanId: hex(s.get(2)?.[0]),
            parentSpanId: hex(s.get(4)?.[0]),
            name: text(s.get(5)?.[0]),
            kind: num(s, 6) ?? 0,
            attributes: attributes(messages(s, 9)),
            // Status: message 2, code 3.
            status: { code: num(status, 3) ?? 0, message: status?.has(2) ? text(status.get(2)![0]) : undefined },
            // Event: name 2, attributes 3.
            events: messages(s, 11).map((e) => ({ name: text(e.get(2)?.[0]), attributes: attributes(messages(e, 3)) })),
          };
        }),
      })),
    })),
  };
}
