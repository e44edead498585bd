import type { Counter } from '@prometheus-io/client';
import type { Registry } from '@prometheus-io/client';
import { ValueType } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { ExportResultCode, millisToHrTime } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as OTLPJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import type { Resource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { CollectionResult, DataPoint, ExponentialHistogram, Histogram, MetricData, MetricProducer, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { zeroedCounter } from '../core/index.js';
import type { Concern, ConcernContext } from '../core/index.js';
import { kHistogramSeries } from '../symbols.js';
import { defaultLabelsOf, groupSamples } from './exposition.js';
import type { MetricItem, MetricValue as Sample } from './exposition.js';
import type { HistogramSeries } from './http-metrics.js';
import type { ResolvedMetricsOtlpOptions } from './otlp-options.js';

/**
 * periscope's own metrics under their OpenTelemetry semantic-convention names and units, with
 * their labels renamed to the conventions' attributes. Every other metric keeps its name.
 */
const SEMANTIC: Readonly<Record<string, { name: string; unit: string }>> = {
  http_request_duration_seconds: { name: 'http.server.request.duration', unit: 's' },
  http_response_size_bytes: { name: 'http.server.response.body.size', unit: 'By' },
  http_requests_in_flight: { name: 'http.server.active_requests', unit: '{request}' },
  db_client_operation_duration_seconds: { name: 'db.client.operation.duration', unit: 's' },
};
const ATTRIBUTE: Readonly<Record<string, string>> = {
  method: 'http.request.method',
  route: 'http.route',
  status_code: 'http.response.status_code',
};

interface Item extends MetricItem {
  /** A histogram periscope records itself, read without sample objects. */
  points?: HistogramPoint[];
  /** The same, as exponential points, when it keeps native buckets (`metrics.nativeHistograms`). */
  exponential?: { labels: Record<string, unknown>; value: ExponentialHistogram }[];
}
/** One label set of a histogram as an OTLP point: per-bucket (not cumulative) counts, the last one +Inf. */
export interface HistogramPoint {
  labels: Record<string, unknown>;
  value: Histogram;
}
interface RegistryMetric {
  name: string;
  help: string;
  get(): Promise<Item> | Item;
  [kHistogramSeries]?(): HistogramSeries[];
}

/** The scope periscope's pushed metrics carry (their instrumentation library). */
export const METRICS_SCOPE = { name: 'periscope' };

/**
 * Reads a Prometheus client registry, periscope's own metric objects included, into the
 * OpenTelemetry metrics SDK's data model: counters as cumulative monotonic sums, gauges as
 * gauges, histograms as explicit-bucket histograms. Summaries have no OTLP form the SDK can
 * send (their quantiles cannot be re-aggregated) and are left out, reported once.
 */
export class RegistryProducer implements MetricProducer {
  readonly #registry: Registry;
  readonly #resource: Resource;
  readonly #start: HrTime;
  readonly #onSkip: (name: string, type: string) => void;

  constructor(registry: Registry, resource: Resource, onSkip: (name: string, type: string) => void, startMillis = Date.now()) {
    this.#registry = registry;
    this.#resource = resource;
    this.#start = millisToHrTime(startMillis);
    this.#onSkip = onSkip;
  }

  async collect(): Promise<CollectionResult> {
    const errors: unknown[] = [];
    const defaults = defaultLabelsOf(this.#registry);
    const metrics = this.#registry.getMetricsAsArray() as unknown as RegistryMetric[];
    const items = await Promise.all(
      metrics.map(async (m): Promise<Item | undefined> => {
        try {
          const direct = m[kHistogramSeries];
          if (direct !== undefined) {
            const series = direct.call(m);
            if (series.length > 0 && series[0]!.native !== undefined) return { name: m.name, help: m.help, type: 'histogram', exponential: exponentialPoints(series) };
            return { name: m.name, help: m.help, type: 'histogram', points: seriesPoints(series) };
          }
          return await m.get();
        } catch (error) {
          errors.push(error);
          return undefined;
        }
      }),
    );
    const end = millisToHrTime(Date.now());
    const data: MetricData[] = [];
    for (const item of items) {
      if (item === undefined) continue;
      const converted = this.#convert(item, defaults, end);
      if (converted !== undefined) data.push(converted);
    }
    const resourceMetrics: ResourceMetrics = { resource: this.#resource, scopeMetrics: [{ scope: METRICS_SCOPE, metrics: data }] };
    return { resourceMetrics, errors };
  }

  #convert(item: Item, defaults: Record<string, unknown>, end: HrTime): MetricData | undefined {
    const semantic = SEMANTIC[item.name];
    const descriptor = { name: semantic?.name ?? item.name, description: item.help, unit: semantic?.unit ?? '', valueType: ValueType.DOUBLE };
    const attributesOf = (labels: Record<string, unknown> | undefined): Attributes => toAttributes({ ...defaults, ...labels }, semantic !== undefined);
    const values = item.values ?? [];
    const point = <T>(attributes: Attributes, value: T): DataPoint<T> => ({ startTime: this.#start, endTime: end, attributes, value });
    switch (item.type) {
      case 'counter':
        return {
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: values.map((v) => point(attributesOf(v.labels), v.value)),
        };
      case 'gauge':
      case 'untyped':
        // The in-flight count is an up-down counter in the conventions: a non-monotonic sum.
        if (semantic !== undefined) {
          return {
            descriptor,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.SUM,
            isMonotonic: false,
            dataPoints: values.map((v) => point(attributesOf(v.labels), v.value)),
          };
        }
        return {
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.GAUGE,
          dataPoints: values.map((v) => point(attributesOf(v.labels), v.value)),
        };
      case 'histogram':
        if (item.exponential !== undefined) {
          return {
            descriptor,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
            dataPoints: item.exponential.map((h) => point(attributesOf(h.labels), h.value)),
          };
        }
        return {
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: (item.points ?? histogramPoints(item.name, values)).map((h) => point(attributesOf(h.labels), h.value)),
        };
      default:
        this.#onSkip(item.name, item.type);
        return undefined;
    }
  }
}

function toAttributes(labels: Record<string, unknown>, semantic: boolean): Attributes {
  const out: Attributes = {};
  for (const [key, raw] of Object.entries(labels)) {
    if (raw === undefined) continue;
    const name = semantic ? (ATTRIBUTE[key] ?? key) : key;
    // The conventions type the status code as an integer; every other label stays a string.
    out[name] = semantic && key === 'status_code' && /^\d+$/.test(String(raw)) ? Number(raw) : String(raw);
  }
  return out;
}

/** periscope's own histogram series as OTLP points (their counters are per bucket already). */
export function seriesPoints(series: readonly HistogramSeries[]): HistogramPoint[] {
  const boundaries = series.length === 0 ? [] : Array.from(series[0]!.bounds);
  return series.map((s) => ({ labels: s.labels, value: { buckets: { boundaries, counts: Array.from(s.counts) }, sum: s.sum, count: s.count } }));
}

/**
 * Native buckets as OTLP exponential points. The scale is the schema; Prometheus' bucket `i` is
 * (base^(i-1), base^i] and OTLP's is (base^i, base^(i+1)], so the offset moves down by one.
 */
export function exponentialPoints(series: readonly HistogramSeries[]): NonNullable<Item['exponential']> {
  return series.map((s) => {
    const n = s.native!;
    return {
      labels: s.labels,
      value: {
        count: s.count,
        sum: s.sum,
        scale: n.schema,
        zeroCount: n.zeroCount,
        positive: { offset: n.offset - 1, bucketCounts: Array.from(n.counts) },
        negative: { offset: 0, bucketCounts: [] },
      },
    };
  });
}

/**
 * Regroups a Prometheus histogram's samples (`_bucket` per `le`, cumulative; `_sum`; `_count`)
 * into one OTLP histogram point per label set, with per-bucket (non-cumulative) counts.
 */
export function histogramPoints(name: string, values: readonly Sample[]): HistogramPoint[] {
  return groupSamples(name, values, 'le').map((g) => {
    const boundaries: number[] = [];
    const counts: number[] = [];
    let previous = 0;
    for (const p of g.parts) {
      if (p.labels?.le !== '+Inf') boundaries.push(Number(p.labels?.le));
      counts.push(p.value - previous);
      previous = p.value;
    }
    return { labels: g.labels, value: { buckets: { boundaries, counts }, sum: g.sum, count: g.count } };
  });
}

function exporterOf(options: ResolvedMetricsOtlpOptions): PushMetricExporter {
  const config = {
    url: options.endpoint,
    headers: { ...options.headers },
    timeoutMillis: options.timeoutMs,
    compression: options.compression as NonNullable<NonNullable<ConstructorParameters<typeof OTLPProtoMetricExporter>[0]>['compression']>,
    temporalityPreference: AggregationTemporality.CUMULATIVE,
  };
  return options.protocol === 'http/json' ? new OTLPJsonMetricExporter(config) : new OTLPProtoMetricExporter(config);
}

/**
 * An exporter that counts each export's result in `periscope_metric_exports_total{result}`,
 * and warns once at the start of each run of failures (and says when exports recover).
 */
function countingExporter(inner: PushMetricExporter, counter: Counter<'result'>, ctx: ConcernContext, endpoint: string): PushMetricExporter {
  let failing = false;
  return {
    export(metrics, done) {
      inner.export(metrics, (result: ExportResult) => {
        if (result.code === ExportResultCode.SUCCESS) {
          counter.inc({ result: 'success' });
          if (failing) ctx.logger.info({ endpoint }, 'periscope: OTLP metric export recovered');
          failing = false;
        } else {
          counter.inc({ result: 'failure' });
          if (!failing) ctx.warn('PERISCOPE_METRICS_EXPORT', 'periscope: OTLP metric export failed; the next export sends the cumulative totals again', { endpoint, err: result.error });
          failing = true;
        }
        done(result);
      });
    },
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
    selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
  };
}

/**
 * Pushes the registry `/metrics` serves to an OpenTelemetry Collector: the OpenTelemetry
 * metrics SDK's periodic reader and OTLP exporter, fed by {@link RegistryProducer}. Nothing
 * runs on the request path; the registry is read once per interval, and a last export runs
 * at shutdown (the flush phase).
 */
export function metricsOtlpConcern(ctx: ConcernContext & { readonly registry: Registry }, options: ResolvedMetricsOtlpOptions, resource: Resource): Concern {
  const exports = zeroedCounter(
    ctx.registry,
    'periscope_metric_exports_total',
    'OTLP metric exports by result (success, failure). Points are cumulative, so a failed export loses resolution, not totals.',
    'result',
    ['success', 'failure'],
  );
  const skipped = new Set<string>();
  const producer = new RegistryProducer(ctx.registry, resource, (name, type) => {
    if (skipped.has(name)) return;
    skipped.add(name);
    ctx.notice('PERISCOPE_METRICS_OTLP_SKIPPED', `periscope: metric "${name}" (${type}) is served on /metrics but not pushed over OTLP, which has no ${type} the SDK can send.`);
  });
  const reader = new PeriodicExportingMetricReader({
    exporter: countingExporter(exporterOf(options), exports, ctx, options.endpoint),
    exportIntervalMillis: options.intervalMs,
    exportTimeoutMillis: options.timeoutMs,
    metricProducers: [producer],
  });
  const provider = new MeterProvider({ resource, readers: [reader] });
  return {
    name: 'metrics-otlp',
    shutdown: [{ phase: 'flush', name: 'metrics-otlp', run: () => provider.shutdown() }],
  };
}
