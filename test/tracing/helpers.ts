import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeTraceRequest } from '../otlp-definitions.js';

/** One span as the OTLP/HTTP JSON body carries it, flattened for assertions. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP numbering: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  events: { name: string; attributes: Record<string, string | number | boolean> }[];
  resource: Record<string, string | number | boolean>;
  scope: string;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}

function valueOf(v: OtlpValue): string | number | boolean {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return JSON.stringify((v.arrayValue.values ?? []).map(valueOf));
  return '';
}

function attrs(list: { key: string; value: OtlpValue }[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const a of list ?? []) out[a.key] = valueOf(a.value);
  return out;
}

interface OtlpBody {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: OtlpValue }[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: { key: string; value: OtlpValue }[];
        status?: { code?: number; message?: string };
        events?: { name: string; attributes?: { key: string; value: OtlpValue }[] }[];
      }[];
    }[];
  }[];
}

export type ReceiverMode = 'ok' | 'fail' | 'hang';

/**
 * A tiny OTLP/HTTP receiver on port 0: it decodes protobuf (`application/x-protobuf`, the
 * default) and JSON (`application/json`) export requests into flat spans. `mode` makes it a collector
 * that answers 500 or never answers.
 */
export class Receiver {
  readonly spans: ReceivedSpan[] = [];
  /** The content-type of each export request that was answered. */
  readonly contentTypes: string[] = [];
  /** The content-encoding of each export request that was answered ('' when none); gzip bodies are decoded. */
  readonly contentEncodings: string[] = [];
  /** The headers of each export request that was answered. */
  readonly headers: IncomingMessage['headers'][] = [];
  requests = 0;
  mode: ReceiverMode = 'ok';
  readonly server: Server;
  readonly #waiters: { count: number; resolve: () => void }[] = [];
  readonly #hanging: ServerResponse[] = [];

  constructor() {
    this.server = createServer((req, res) => this.#handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.requests++;
      if (this.mode === 'hang') {
        this.#hanging.push(res);
        return;
      }
      if (this.mode === 'fail') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      const encoding = req.headers['content-encoding'] ?? '';
      const raw = encoding === 'gzip' ? gunzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks);
      const type = req.headers['content-type'] ?? '';
      this.contentTypes.push(type);
      this.contentEncodings.push(encoding);
      this.headers.push(req.headers);
      const body = (type === 'application/x-protobuf' ? decodeTraceRequest(raw) : JSON.parse(raw.toString('utf8'))) as OtlpBody;
      for (const rs of body.resourceSpans ?? []) {
        const resource = attrs(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            this.spans.push({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              name: s.name,
              kind: s.kind,
              attributes: attrs(s.attributes),
              status: { code: s.status?.code ?? 0, ...(s.status?.message ? { message: s.status.message } : {}) },
              events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attrs(e.attributes) })),
              resource,
              scope: ss.scope?.name ?? '',
            });
          }
        }
      }
      // A full success in the request's encoding: `{}`, or an empty protobuf message.
      if (type === 'application/x-protobuf') res.writeHead(200, { 'content-type': type }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      for (let i = this.#waiters.length - 1; i >= 0; i--) {
        const w = this.#waiters[i]!;
        if (this.spans.length >= w.count) {
          this.#waiters.splice(i, 1);
          w.resolve();
        }
      }
    });
  }

  /** Resolves once at least `count` spans arrived. */
  waitFor(count: number): Promise<ReceivedSpan[]> {
    if (this.spans.length >= count) return Promise.resolve(this.spans);
    return new Promise((resolve) => this.#waiters.push({ count, resolve: () => resolve(this.spans) }));
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export async function listen(server: Server): Promise<string> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Tracing options that export to `endpoint` quickly, for tests. */
export function fastExport(endpoint: string) {
  return { endpoint, scheduledDelayMillis: 10, exportTimeoutMillis: 2000 } as const;
}

export const PARENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
export const PARENT_SPAN = 'b7ad6b7169203331';
export const TRACEPARENT = `00-${PARENT_TRACE}-${PARENT_SPAN}-01`;

export const SERVER_KIND = 2;
export const CLIENT_KIND = 3;
export const INTERNAL_KIND = 1;
export const STATUS_ERROR = 2;
