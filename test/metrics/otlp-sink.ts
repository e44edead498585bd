import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { ExportMetricsServiceRequest } from '../otlp-definitions.js';
import type { Decoder } from '../otlp-definitions.js';

const RequestType = ExportMetricsServiceRequest as Decoder<ExportRequest>;

interface KeyValue {
  key: string;
  value: { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean };
}
export interface PointJson {
  attributes?: KeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  asDouble?: number;
  asInt?: number | string;
  count?: number | string;
  sum?: number;
  bucketCounts?: (number | string)[];
  explicitBounds?: number[];
}
export interface MetricJson {
  name: string;
  description?: string;
  unit?: string;
  sum?: { dataPoints: PointJson[]; aggregationTemporality: number; isMonotonic?: boolean };
  gauge?: { dataPoints: PointJson[] };
  histogram?: { dataPoints: PointJson[]; aggregationTemporality: number };
  exponentialHistogram?: { dataPoints: ExponentialPointJson[]; aggregationTemporality: number };
}
export interface ExponentialPointJson {
  attributes?: KeyValue[];
  count?: number | string;
  sum?: number;
  scale?: number;
  zeroCount?: number | string;
  positive?: { offset?: number; bucketCounts?: (number | string)[] };
}
interface ExportRequest {
  resourceMetrics?: { resource?: { attributes?: KeyValue[] }; scopeMetrics?: { scope?: { name?: string }; metrics?: MetricJson[] }[] }[];
}

/** One export request as received: its resource attributes and metrics by name. */
export interface ReceivedExport {
  contentType: string;
  resource: Record<string, unknown>;
  metrics: Map<string, MetricJson>;
}

export function attributes(list: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) {
    const v = kv.value;
    out[kv.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.doubleValue ?? v.boolValue));
  }
  return out;
}

/** An OTLP/HTTP metrics receiver on 127.0.0.1: decodes protobuf and JSON export requests. */
export class MetricsSink {
  readonly exports: ReceivedExport[] = [];
  readonly server: Server;
  #waiters: { test: (e: ReceivedExport) => boolean; resolve: (e: ReceivedExport) => void }[] = [];

  constructor() {
    this.server = createServer((req, res) => this.#handle(req, res));
  }

  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = req.headers['content-encoding'] === 'gzip' ? gunzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks);
      const contentType = req.headers['content-type'] ?? '';
      const body: ExportRequest =
        contentType === 'application/x-protobuf'
          ? RequestType.toObject(RequestType.decode(raw), { longs: String, defaults: false, arrays: true })
          : (JSON.parse(raw.toString('utf8')) as ExportRequest);
      for (const rm of body.resourceMetrics ?? []) {
        const metrics = new Map<string, MetricJson>();
        for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) metrics.set(m.name, m);
        const received = { contentType, resource: attributes(rm.resource?.attributes), metrics };
        this.exports.push(received);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.test(received)) return true;
          w.resolve(received);
          return false;
        });
      }
      if (contentType === 'application/x-protobuf') res.writeHead(200, { 'content-type': contentType }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  }

  /** Resolves with the first export (received already or later) that passes `test`. */
  waitFor(test: (e: ReceivedExport) => boolean): Promise<ReceivedExport> {
    const found = this.exports.find(test);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The summed `count` of a histogram's points. */
export function histogramCount(m: MetricJson | undefined): number {
  return (m?.histogram?.dataPoints ?? []).reduce((n, p) => n + Number(p.count ?? 0), 0);
}
