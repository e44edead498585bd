import type { Registry } from '@prometheus-io/client';
import { kHistogramSeries } from '../symbols.js';
import { defaultLabelsOf, groupSamples } from './exposition.js';
import type { ExpositionBytes, MetricItem as Item, MetricValue as Sample } from './exposition.js';
import type { HistogramSeries } from './http-metrics.js';
import { ProtoWriter } from '../core/proto-writer.js';
import { beginFamily, beginMetric, histogramValue, ProtoType, simpleValue, summaryValue } from './protobuf.js';
import type { ProtoExemplar } from './protobuf.js';

interface RegistryMetric {
  name: string;
  help: string;
  get(): Promise<Item> | Item;
  [kHistogramSeries]?(): HistogramSeries[];
}

const TYPES: Readonly<Record<string, ProtoType>> = {
  counter: ProtoType.Counter,
  gauge: ProtoType.Gauge,
  summary: ProtoType.Summary,
  histogram: ProtoType.Histogram,
};

/**
 * Every metric of `registry` in Prometheus' protobuf exposition (length-delimited MetricFamily
 * messages): periscope's own histograms straight from their counters, with their native buckets
 * when `metrics.nativeHistograms` is on; every other metric through the client's `get()`.
 */
export async function writeProtobufBytes(registry: Registry): Promise<ExpositionBytes> {
  const defaults = defaultLabelsOf(registry);
  const metrics = registry.getMetricsAsArray() as unknown as RegistryMetric[];
  const errors: ExpositionBytes['errors'] = [];
  const items = await Promise.all(
    metrics.map(async (metric) => {
      if (metric[kHistogramSeries] !== undefined) return undefined;
      try {
        return await metric.get();
      } catch (error) {
        errors.push({ metric: metric.name, error });
        return null;
      }
    }),
  );
  const w = new ProtoWriter();
  for (let i = 0; i < metrics.length; i++) {
    const metric = metrics[i]!;
    const item = items[i];
    if (item === null) continue;
    const mark = w.length;
    try {
      if (item === undefined) writeSeries(w, metric.name, metric.help, metric[kHistogramSeries]!(), defaults);
      else writeItem(w, item, defaults);
    } catch (error) {
      w.truncate(mark);
      errors.push({ metric: metric.name, error });
    }
  }
  const body = w.finish();
  return { chunks: [body], byteLength: body.length, errors };
}

function withDefaults(labels: Record<string, unknown> | undefined, defaults: Record<string, unknown>): Record<string, unknown> {
  // A metric's own label wins over a default label of the same name, as in the text formats.
  return { ...defaults, ...labels };
}

function exemplarOf(e: Sample['exemplar']): ProtoExemplar | undefined {
  if (!e || !e.labelSet || typeof e.value !== 'number') return undefined;
  const labels: Record<string, string> = {};
  for (const k in e.labelSet) labels[k] = String(e.labelSet[k]);
  // Both clients keep exemplar timestamps in seconds, as OpenMetrics writes them.
  return { labels, value: e.value, timestamp: typeof e.timestamp === 'number' ? e.timestamp : undefined };
}

function writeSeries(w: ProtoWriter, name: string, help: string, series: readonly HistogramSeries[], defaults: Record<string, unknown>): void {
  beginFamily(w, name, help, ProtoType.Histogram);
  // Every series of a family shares its bounds: +Inf appended once, not per series.
  const bounds = series.length === 0 ? [] : [...series[0]!.bounds, Infinity];
  for (const s of series) {
    beginMetric(w, withDefaults(s.labels, defaults));
    const n = s.counts.length;
    const cumulative = new Array<number>(n);
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += s.counts[i]!;
      cumulative[i] = acc;
    }
    let exemplars: (ProtoExemplar | undefined)[] | undefined;
    const ex = s.exemplars;
    if (ex !== undefined) {
      exemplars = ex.traceId.map((traceId, i) => (traceId === undefined ? undefined : { labels: { trace_id: traceId }, value: ex.value[i]!, timestamp: ex.time[i]! }));
    }
    histogramValue(w, { count: s.count, sum: s.sum, bounds, cumulative, exemplars, native: s.native });
    w.end();
  }
  w.end();
}

function writeItem(w: ProtoWriter, item: Item, defaults: Record<string, unknown>): void {
  const type = TYPES[item.type] ?? ProtoType.Untyped;
  const values = item.values ?? [];
  beginFamily(w, item.name, item.help, type);
  if (type === ProtoType.Histogram) writeHistogramSamples(w, item.name, values, defaults);
  else if (type === ProtoType.Summary) writeSummarySamples(w, item.name, values, defaults);
  else {
    for (const v of values) {
      beginMetric(w, withDefaults(v.labels, defaults));
      simpleValue(w, type, v.value, exemplarOf(v.exemplar));
      w.end();
    }
  }
  w.end();
}

function writeHistogramSamples(w: ProtoWriter, name: string, values: readonly Sample[], defaults: Record<string, unknown>): void {
  for (const g of groupSamples(name, values, 'le')) {
    beginMetric(w, withDefaults(g.labels, defaults));
    histogramValue(w, {
      count: g.count,
      sum: g.sum,
      bounds: g.parts.map((p) => (p.labels?.le === '+Inf' ? Infinity : Number(p.labels?.le))),
      cumulative: g.parts.map((p) => p.value),
      exemplars: g.parts.map((p) => exemplarOf(p.exemplar)),
    });
    w.end();
  }
}

function writeSummarySamples(w: ProtoWriter, name: string, values: readonly Sample[], defaults: Record<string, unknown>): void {
  for (const g of groupSamples(name, values, 'quantile')) {
    beginMetric(w, withDefaults(g.labels, defaults));
    summaryValue(
      w,
      g.count,
      g.sum,
      g.parts.map((p) => [Number(p.labels?.quantile), p.value]),
    );
    w.end();
  }
}
