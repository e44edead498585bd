import type { Server } from 'node:http';
import type { RequestHook, RequestScope } from '../core/index.js';
import { METHOD_NAMES } from '../core/index.js';
import { kHistogramSeries, kWriteExposition } from '../symbols.js';
import { NativeBuckets } from './native-histogram.js';
import { escapeLabelValue, familyHeader, formatValue } from './format.js';
import type { ExpositionWriter } from './writer.js';
import { BlockCache } from './blocks.js';
import { kWriteProtobuf, ProtoType } from './protobuf.js';
import type { ProtoBody } from './protobuf.js';
import { defaultsKey, writeCounterSeries, writeHistogramSeries } from './exposition-protobuf.js';

/** Label value of every label of the series that collects folded label sets. */
export const OVERFLOW_LABEL = '__overflow__';

/** One label set (method, route, status_code) of the three request metrics. */
class Series {
  count = 0;
  durationSum = 0;
  sizeSum = 0;
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly durationCounts: Float64Array;
  readonly sizeCounts: Float64Array;
  /**
   * OpenMetrics exemplars of the duration histogram, one per bucket: the trace ID, value
   * and time (seconds) of the latest sampled request that fell in it. Allocated on the first
   * sampled observation, so a service without tracing pays nothing.
   */
  exemplarTrace: (string | undefined)[] | undefined;
  exemplarValue: Float64Array | undefined;
  exemplarTime: Float64Array | undefined;
  /** The duration's native histogram, when `metrics.nativeHistograms` is on. */
  native: NativeBuckets | undefined = undefined;
  constructor(
    readonly method: string,
    readonly route: string,
    readonly status: string,
    /** `method="GET",route="/x",status_code="200"`, escaped once here, reused by every scrape. */
    readonly labelText: string,
    durationBuckets: number,
    sizeBuckets: number,
  ) {
    this.durationCounts = new Float64Array(durationBuckets + 1);
    this.sizeCounts = new Float64Array(sizeBuckets + 1);
  }
}

/** A series' labels as an object, in the order every format writes them. */
function labelsOf(s: Series): Record<string, string> {
  return { method: s.method, route: s.route, status_code: s.status };
}

function bucketIndex(bounds: Float64Array, value: number): number {
  const n = bounds.length;
  for (let i = 0; i < n; i++) if (value <= bounds[i]!) return i;
  return n;
}

export interface HttpMetricsOptions {
  durationBuckets: readonly number[];
  sizeBuckets: readonly number[];
  maxSeries: number;
  /** Called once per folded label set (feeds `periscope_series_folded_total`). */
  onFold: (metric: string) => void;
  /** Keep the duration as a native histogram too, at this resolution. Default: classic buckets only. */
  native?: { schema: number; maxBuckets: number } | undefined;
}

interface MetricShape {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: SampleValue[] }>;
  reset(): void;
  [kWriteExposition]?(out: ExpositionWriter, openMetrics: boolean, defaultLabels: string): void;
  [kHistogramSeries]?(): HistogramSeries[];
  [kWriteProtobuf]?(body: ProtoBody, defaults: Record<string, unknown>): void;
}

/** One label set of a histogram, read from its counters. */
export interface HistogramSeries {
  labels: Record<string, string>;
  /** Upper bounds, without +Inf. */
  bounds: Float64Array;
  /** Per-bucket (not cumulative) counts; the last is +Inf's. */
  counts: Float64Array;
  sum: number;
  count: number;
  /** Per bucket: the latest sampled request's trace ID, value and time (seconds). */
  exemplars: { traceId: (string | undefined)[]; value: Float64Array; time: Float64Array } | undefined;
  native: NativeBuckets | undefined;
}

interface SampleValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  exemplar?: { labelSet: Record<string, string>; value: number; timestamp: number };
}

/**
 * The RED request metrics, recorded without the Prometheus client on the hot path: each
 * label set is a plain object of numbers found through two Map lookups keyed by the
 * route string and a small integer (method and status). The client's labelled children
 * would allocate a label object and hash it on every observation. The metric objects
 * registered in the registry read these counters at scrape time.
 */
export class HttpMetrics implements RequestHook {
  readonly #durationBounds: Float64Array;
  readonly #sizeBounds: Float64Array;
  readonly #durationLe: string[];
  readonly #sizeLe: string[];
  readonly #maxSeries: number;
  readonly #onFold: (metric: string) => void;
  readonly #native: { schema: number; maxBuckets: number } | undefined;
  readonly #routes = new Map<string, Map<number, Series>>();
  /**
   * Every series in the order it was made (the overflow series, made only once the cap is
   * reached, is last): the exposition's order, so a new label set only ever extends the last
   * block of each family's {@link BlockCache}.
   */
  readonly #list: Series[] = [];
  /** Each family's cached series (requests, duration, size), in the text format, OpenMetrics and protobuf. */
  readonly #blocks = [0, 1, 2].map(() => ({ text: new BlockCache<Series>(), openMetrics: new BlockCache<Series>(), protobuf: new BlockCache<Series>() }));
  #seriesCount = 0;
  #overflow: Series | undefined;
  readonly #inFlight = new Float64Array(METHOD_NAMES.length);
  readonly #methodSeen = new Uint8Array(METHOD_NAMES.length);
  readonly #statusText = new Map<number, string>();
  readonly #servers = new Set<Server>();

  constructor(options: HttpMetricsOptions) {
    this.#durationBounds = Float64Array.from(options.durationBuckets);
    this.#sizeBounds = Float64Array.from(options.sizeBuckets);
    this.#durationLe = [...options.durationBuckets.map(formatValue), '+Inf'];
    this.#sizeLe = [...options.sizeBuckets.map(formatValue), '+Inf'];
    this.#maxSeries = options.maxSeries;
    this.#onFold = options.onFold;
    this.#native = options.native;
  }

  /** Number of distinct label sets held (the overflow series included). */
  get seriesCount(): number {
    return this.#seriesCount + (this.#overflow === undefined ? 0 : 1);
  }

  onStart(scope: RequestScope): void {
    this.#inFlight[scope.method]!++;
    this.#methodSeen[scope.method] = 1;
  }

  onEnd(scope: RequestScope): void {
    this.#inFlight[scope.method]!--;
    const s = this.#series(scope.route!, scope.method, scope.status);
    const duration = scope.duration;
    const bytes = scope.bytes;
    s.count++;
    s.durationSum += duration;
    const bucket = bucketIndex(this.#durationBounds, duration);
    s.durationCounts[bucket]!++;
    const native = s.native;
    if (native !== undefined) native.observe(duration);
    // The request's trace ID comes through the scope (set by tracing, if on): an exemplar
    // only for sampled traces, since only those can be looked up.
    if (scope.sampled && scope.traceId !== undefined) {
      if (s.exemplarTrace === undefined) {
        const n = s.durationCounts.length;
        s.exemplarTrace = new Array<string | undefined>(n).fill(undefined);
        s.exemplarValue = new Float64Array(n);
        s.exemplarTime = new Float64Array(n);
      }
      s.exemplarTrace[bucket] = scope.traceId;
      s.exemplarValue![bucket] = duration;
      // The end time from the two clock reads the core already made (timeOrigin is a constant),
      // rather than a third clock read on every sampled request.
      s.exemplarTime![bucket] = (performance.timeOrigin + scope.startTime) / 1000 + duration;
    }
    s.sizeSum += bytes;
    s.sizeCounts[bucketIndex(this.#sizeBounds, bytes)]!++;
  }

  #series(route: string, method: number, status: number): Series {
    let byKey = this.#routes.get(route);
    const key = method * 1000 + status;
    if (byKey !== undefined) {
      const found = byKey.get(key);
      if (found !== undefined) return found;
    }
    if (this.#seriesCount >= this.#maxSeries) {
      this.#onFold('http_requests_total');
      if (this.#overflow === undefined) {
        this.#overflow = this.#newSeries(OVERFLOW_LABEL, OVERFLOW_LABEL, OVERFLOW_LABEL);
        this.#list.push(this.#overflow);
      }
      return this.#overflow;
    }
    if (byKey === undefined) {
      byKey = new Map();
      this.#routes.set(route, byKey);
    }
    const s = this.#newSeries(METHOD_NAMES[method]!, route, this.#status(status));
    byKey.set(key, s);
    this.#list.push(s);
    this.#seriesCount++;
    return s;
  }

  #status(status: number): string {
    let text = this.#statusText.get(status);
    if (text === undefined) {
      text = String(status);
      this.#statusText.set(status, text);
    }
    return text;
  }

  #newSeries(method: string, route: string, status: string): Series {
    const labelText = `method="${method}",route="${escapeLabelValue(route)}",status_code="${status}"`;
    const s = new Series(method, route, status, labelText, this.#durationBounds.length, this.#sizeBounds.length);
    const native = this.#native;
    if (native !== undefined) s.native = new NativeBuckets(native.schema, native.maxBuckets);
    return s;
  }

  /** Upper bounds of the duration buckets (seconds, without +Inf). */
  get durationBounds(): Float64Array {
    return this.#durationBounds;
  }

  /**
   * Each label set's route, status, count and per-bucket duration counts, read as they stand
   * (the developer console reads RED from here; nothing is recorded twice). The counts are
   * the live arrays: read them, never write them.
   */
  *durationSeries(): Generator<{ route: string; status: string; count: number; counts: Float64Array }> {
    for (const s of this.#list) yield { route: s.route, status: s.status, count: s.count, counts: s.durationCounts };
  }

  reset(): void {
    this.#routes.clear();
    this.#list.length = 0;
    for (const family of this.#blocks) {
      family.text.clear();
      family.openMetrics.clear();
      family.protobuf.clear();
    }
    this.#seriesCount = 0;
    this.#overflow = undefined;
  }

  /** Counts `server`'s open connections in `http_server_active_connections` (read at scrape). */
  trackServer(server: Server): void {
    this.#servers.add(server);
  }

  hasServer(server: Server): boolean {
    return this.#servers.has(server);
  }

  /** The registry-compatible metric objects, to register in the Prometheus client's Registry. */
  metrics(): MetricShape[] {
    return [this.#requestsTotal(), this.#histogram('duration'), this.#histogram('size'), this.#inFlightGauge(), this.#connectionsGauge()];
  }

  #requestsTotal(): MetricShape {
    const name = 'http_requests_total';
    const help = 'Total number of HTTP requests completed, by method, route template and status code.';
    return {
      name,
      help,
      type: 'counter',
      aggregator: 'sum',
      get: async () => {
        const values: SampleValue[] = [];
        for (const s of this.#list) values.push({ value: s.count, labels: { method: s.method, route: s.route, status_code: s.status } });
        return { name, help, type: 'counter', aggregator: 'sum', values };
      },
      reset: () => this.reset(),
      [kWriteExposition]: (out: ExpositionWriter, openMetrics: boolean, defaultLabels: string) => {
        const family = openMetrics ? 'http_requests' : name;
        out.write(familyHeader(family, help, 'counter', openMetrics));
        const extra = defaultLabels === '' ? '' : `,${defaultLabels}`;
        const cache = openMetrics ? this.#blocks[0]!.openMetrics : this.#blocks[0]!.text;
        cache.write(out, extra, this.#list, (s) => `${name}{${s.labelText}${extra}} ${s.count}\n`);
      },
      [kWriteProtobuf]: (body: ProtoBody, defaults: Record<string, unknown>) => {
        const encoder = body.encoder<Series>((w, s) => writeCounterSeries(w, labelsOf(s), s.count, defaults));
        const series = this.#blocks[0]!.protobuf.parts(defaultsKey(defaults), this.#list, encoder);
        body.family(name, help, ProtoType.Counter, series);
      },
    };
  }

  #histogram(kind: 'duration' | 'size'): MetricShape {
    const duration = kind === 'duration';
    const name = duration ? 'http_request_duration_seconds' : 'http_response_size_bytes';
    const help = duration
      ? 'Duration of HTTP requests in seconds, from the request reaching the server to the response being sent.'
      : 'Size of HTTP response bodies in bytes.';
    const le = duration ? this.#durationLe : this.#sizeLe;
    const countsOf = (s: Series) => (duration ? s.durationCounts : s.sizeCounts);
    const sumOf = (s: Series) => (duration ? s.durationSum : s.sizeSum);
    const bounds = duration ? this.#durationBounds : this.#sizeBounds;
    const histogramSeries = (s: Series): HistogramSeries => ({
      labels: labelsOf(s),
      bounds,
      counts: countsOf(s),
      sum: sumOf(s),
      count: s.count,
      exemplars: duration && s.exemplarTrace !== undefined ? { traceId: s.exemplarTrace, value: s.exemplarValue!, time: s.exemplarTime! } : undefined,
      native: duration ? s.native : undefined,
    });
    return {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: async () => {
        const values: SampleValue[] = [];
        for (const s of this.#list) {
          const labels = { method: s.method, route: s.route, status_code: s.status };
          const counts = countsOf(s);
          let acc = 0;
          for (let i = 0; i < counts.length; i++) {
            acc += counts[i]!;
            const value: SampleValue = { value: acc, labels: { ...labels, le: le[i]! }, metricName: `${name}_bucket` };
            const traceId = duration ? s.exemplarTrace?.[i] : undefined;
            if (traceId !== undefined) {
              value.exemplar = { labelSet: { trace_id: traceId }, value: s.exemplarValue![i]!, timestamp: s.exemplarTime![i]! };
            }
            values.push(value);
          }
          values.push({ value: sumOf(s), labels, metricName: `${name}_sum` });
          values.push({ value: s.count, labels, metricName: `${name}_count` });
        }
        return { name, help, type: 'histogram', aggregator: 'sum', values };
      },
      // For the OTLP push and the snapshot: the counters as they are, no sample objects.
      [kHistogramSeries]: () => this.#list.map(histogramSeries),
      [kWriteProtobuf]: (body: ProtoBody, defaults: Record<string, unknown>) => {
        // Every series of a family shares its bounds: +Inf appended once, not per series.
        const withInf = [...bounds, Infinity];
        const cache = this.#blocks[duration ? 1 : 2]!.protobuf;
        // A series' count versions its native buckets and exemplars too: onEnd changes them all together.
        const encoder = body.encoder<Series>((w, s) => writeHistogramSeries(w, histogramSeries(s), withInf, defaults));
        const series = cache.parts(defaultsKey(defaults), this.#list, encoder);
        body.family(name, help, ProtoType.Histogram, series);
      },
      reset: () => this.reset(),
      [kWriteExposition]: (out: ExpositionWriter, openMetrics: boolean, defaultLabels: string) => {
        out.write(familyHeader(name, help, 'histogram', openMetrics));
        const extra = defaultLabels === '' ? '' : `,${defaultLabels}`;
        const bucket = `${name}_bucket{`;
        const family = this.#blocks[duration ? 1 : 2]!;
        const cache = openMetrics ? family.openMetrics : family.text;
        cache.write(out, extra, this.#list, (s) => {
          const labels = s.labelText + extra;
          const counts = countsOf(s);
          let acc = 0;
          let lines = '';
          // Exemplars exist only in OpenMetrics; the 0.0.4 text format has no syntax for them.
          const exemplars = openMetrics && duration ? s.exemplarTrace : undefined;
          for (let i = 0; i < counts.length; i++) {
            acc += counts[i]!;
            const traceId = exemplars?.[i];
            if (traceId === undefined) lines += `${bucket}${labels},le="${le[i]}"} ${acc}\n`;
            else {
              lines += `${bucket}${labels},le="${le[i]}"} ${acc} # {trace_id="${traceId}"} ${formatValue(s.exemplarValue![i]!)} ${s.exemplarTime![i]!.toFixed(3)}\n`;
            }
          }
          lines += `${name}_sum{${labels}} ${formatValue(sumOf(s))}\n${name}_count{${labels}} ${s.count}\n`;
          return lines;
        });
      },
    };
  }

  #inFlightGauge(): MetricShape {
    const name = 'http_requests_in_flight';
    const help = 'Number of HTTP requests being served, by method.';
    const values = (): SampleValue[] => {
      const out: SampleValue[] = [];
      for (let i = 0; i < METHOD_NAMES.length; i++) {
        if (this.#methodSeen[i] === 1) out.push({ value: this.#inFlight[i]!, labels: { method: METHOD_NAMES[i]! } });
      }
      return out;
    };
    return {
      name,
      help,
      type: 'gauge',
      aggregator: 'sum',
      get: async () => {
        return { name, help, type: 'gauge', aggregator: 'sum', values: values() };
      },
      reset: () => {},
      [kWriteExposition]: (out: ExpositionWriter, openMetrics: boolean, defaultLabels: string) => {
        out.write(familyHeader(name, help, 'gauge', openMetrics));
        const extra = defaultLabels === '' ? '' : `,${defaultLabels}`;
        for (const v of values()) out.write(`${name}{method="${v.labels.method}"${extra}} ${v.value}\n`);
      },
    };
  }

  #connectionsGauge(): MetricShape {
    const name = 'http_server_active_connections';
    const help = 'Number of open connections to the instrumented HTTP server(s).';
    const count = async (): Promise<number> => {
      let total = 0;
      for (const server of this.#servers) {
        total += await new Promise<number>((resolve) => server.getConnections((error, n) => resolve(error ? 0 : n)));
      }
      return total;
    };
    return {
      name,
      help,
      type: 'gauge',
      aggregator: 'sum',
      get: async () => {
        return { name, help, type: 'gauge', aggregator: 'sum', values: [{ value: await count(), labels: {} }] };
      },
      // The connection count is only known asynchronously, so this metric goes through get().
      reset: () => {},
    };
  }
}
