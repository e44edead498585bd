import type { Registry } from '@prometheus-io/client';
import { defaultLabelsOf, groupSamples } from './exposition.js';
import type { ExpositionBytes, MetricItem as Item, MetricValue as Sample } from './exposition.js';
import type { HistogramSeries } from './http-metrics.js';
import type { ProtoWriter } from '../core/proto-writer.js';
import { beginFamily, beginMetric, histogramValue, kWriteProtobuf, ProtoBody, ProtoType, simpleValue, summaryValue, writeMetric } from './protobuf.js';
import type { ProtoExemplar } from './protobuf.js';

/** A metric periscope writes itself: its whole MetricFamily, `defaults` being the registry's default labels. */
interface DirectProtobufMetric {
  [kWriteProtobuf](body: ProtoBody, defaults: Record<string, unknown>): void;
}

interface RegistryMetric extends Partial<DirectProtobufMetric> {
  name: string;
  help: string;
  get(): Promise<Item> | Item;
}

const TYPES: Readonly<Record<string, ProtoType>> = {
  counter: ProtoType.Counter,
  gauge: ProtoType.Gauge,
  summary: ProtoType.Summary,
  histogram: ProtoType.Histogram,
};

/**
 * Every metric of `registry` in Prometheus' protobuf exposition (length-delimited MetricFamily
 * messages): periscope's request metrics straight from their counters (their histograms with
 * native buckets when `metrics.nativeHistograms` is on), kept in blocks between scrapes; every
 * other metric through the client's `get()`.
 */
export async function writeProtobufBytes(registry: Registry): Promise<ExpositionBytes> {
  const defaults = defaultLabelsOf(registry);
  const metrics = registry.getMetricsAsArray() as unknown as RegistryMetric[];
  const errors: ExpositionBytes['errors'] = [];
  const items = await Promise.all(
    metrics.map(async (metric) => {
      if (metric[kWriteProtobuf] !== undefined) return undefined;
      try {
        return await metric.get();
      } catch (error) {
        errors.push({ metric: metric.name, error });
        return null;
      }
    }),
  );
  const body = new ProtoBody();
  for (let i = 0; i < metrics.length; i++) {
    const metric = metrics[i]!;
    const item = items[i];
    if (item === null) continue;
    const mark = body.mark();
    try {
      if (item === undefined) metric[kWriteProtobuf]!(body, defaults);
      else writeItem(body.w, item, defaults);
    } catch (error) {
      body.truncate(mark);
      errors.push({ metric: metric.name, error });
    }
  }
  return { ...body.finish(), errors };
}

/**
 * The key of the default labels' effect on a Metric's bytes (their names in order and values as
 * written), for a metric that keeps its encoded series: a different key, different bytes.
 */
export function defaultsKey(defaults: Record<string, unknown>): string {
  let key = '';
  for (const name in defaults) {
    const v = defaults[name];
    key += v === undefined ? `${name}\u0001` : `${name}\u0000${String(v)}\u0000`;
  }
  return key;
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

/** One label set of periscope's histograms as a Metric field; `bounds` ends with +Inf. */
export function writeHistogramSeries(w: ProtoWriter, s: HistogramSeries, bounds: readonly number[], defaults: Record<string, unknown>): void {
  writeMetric(w, withDefaults(s.labels, defaults), (w) => {
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
  });
}

/** One label set of a counter as a Metric field. */
export function writeCounterSeries(w: ProtoWriter, labels: Record<string, unknown>, value: number, defaults: Record<string, unknown>): void {
  writeMetric(w, withDefaults(labels, defaults), (w) => simpleValue(w, ProtoType.Counter, value));
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
