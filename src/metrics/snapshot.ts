import type { Registry } from '@prometheus-io/client';
import { kHistogramSeries } from '../symbols.js';
import { wireNumber } from '../core/snapshot.js';
import type { FamilySnapshot, RegistrySnapshot } from '../core/snapshot.js';
import { defaultLabelsOf, groupSamples } from './exposition.js';
import type { MetricItem, MetricValue } from './exposition.js';
import { formatLabelPairs, formatValue } from './format.js';
import type { HistogramSeries } from './http-metrics.js';

interface SnapshotMetric {
  name: string;
  help?: string;
  get(): Promise<MetricItem> | MetricItem;
  [kHistogramSeries]?(): HistogramSeries[];
}

const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function withDefaults(labels: Record<string, unknown> | undefined, defaults: Record<string, unknown>, hasDefaults: boolean): Record<string, unknown> {
  if (!hasDefaults) return labels ?? {};
  const out = { ...labels };
  for (const n in defaults) if (out[n] === undefined) out[n] = defaults[n];
  return out;
}

function partLabel(v: MetricValue, part: 'le' | 'quantile'): string {
  const raw = v.labels?.[part];
  return typeof raw === 'number' ? formatValue(raw) : String(raw);
}

/**
 * The registry's values as a {@link RegistrySnapshot}, the compact form a cluster worker sends
 * its primary: periscope's request histograms are read from their counters (no sample objects),
 * every other metric through the client's `get()`. Exemplars are left out. A metric that fails
 * to collect is left out and handed to `onError`.
 */
export async function snapshotRegistry(registry: Registry, onError: (metric: string, error: unknown) => void): Promise<RegistrySnapshot> {
  const defaults = defaultLabelsOf(registry);
  const hasDefaults = Object.keys(defaults).length > 0;
  const metrics = registry.getMetricsAsArray() as unknown as SnapshotMetric[];
  const out: FamilySnapshot[] = [];
  const families = await Promise.all(
    metrics.map(async (metric): Promise<FamilySnapshot | undefined> => {
      try {
        const series = metric[kHistogramSeries];
        if (series !== undefined) {
          const list = series.call(metric);
          const bounds = list[0]?.bounds;
          const le = bounds === undefined ? ['+Inf'] : [...Array.from(bounds, formatValue), '+Inf'];
          const labels: string[] = [];
          const out: (number | string)[] = [];
          for (const s of list) {
            labels.push(formatLabelPairs(withDefaults(s.labels, defaults, hasDefaults)));
            let acc = 0;
            for (let i = 0; i < s.counts.length; i++) out.push((acc += s.counts[i]!));
            out.push(wireNumber(s.sum), s.count);
          }
          return { name: metric.name, help: metric.help ?? '', type: 'histogram', le, labels, values: out };
        }
        const item = await metric.get();
        const type = TYPES.has(item.type) ? (item.type as FamilySnapshot['type']) : 'untyped';
        const values = item.values ?? [];
        const labels: string[] = [];
        const out: (number | string)[] = [];
        if (type === 'histogram' || type === 'summary') {
          const part = type === 'histogram' ? 'le' : 'quantile';
          const groups = groupSamples(item.name, values, part);
          const parts = groups[0]?.parts.map((v) => partLabel(v, part)) ?? (type === 'histogram' ? ['+Inf'] : []);
          for (const g of groups) {
            if (g.parts.length !== parts.length) continue;
            labels.push(formatLabelPairs(withDefaults(g.labels, defaults, hasDefaults)));
            for (const p of g.parts) out.push(wireNumber(p.value));
            out.push(wireNumber(g.sum), wireNumber(g.count));
          }
          return type === 'histogram'
            ? { name: item.name, help: item.help, type, le: parts, labels, values: out }
            : { name: item.name, help: item.help, type, quantiles: parts, labels, values: out };
        }
        for (const v of values) {
          labels.push(formatLabelPairs(withDefaults(v.labels, defaults, hasDefaults)));
          out.push(wireNumber(v.value));
        }
        return { name: item.name, help: item.help, type, labels, values: out };
      } catch (error) {
        onError(metric.name, error);
        return undefined;
      }
    }),
  );
  for (const f of families) if (f !== undefined) out.push(f);
  return out;
}
