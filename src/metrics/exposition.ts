import type { Registry } from '@prometheus-io/client';
import { kWriteExposition } from '../symbols.js';
import { familyHeader, formatLabelPairs, formatValue } from './format.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** A metric periscope writes itself, skipping the client's object-per-sample `get()`. */
export interface DirectMetric {
  [kWriteExposition](openMetrics: boolean, defaultLabels: string): string;
}

interface MetricValue {
  value: number;
  labels?: Record<string, unknown>;
  metricName?: string;
  exemplar?: { labelSet?: Record<string, unknown>; value?: number | null; timestamp?: number } | null;
}

interface MetricItem {
  name: string;
  help: string;
  type: string;
  values?: MetricValue[];
}

interface GettableMetric {
  name: string;
  get(): Promise<MetricItem> | MetricItem;
}

export interface ExpositionResult {
  body: string;
  /** Metrics whose collection failed; they are left out of the body. */
  errors: { metric: string; error: unknown }[];
}

function defaultLabelsOf(registry: Registry): Record<string, unknown> {
  // Both Prometheus clients keep setDefaultLabels() values here; it has no public getter.
  const labels = (registry as unknown as { _defaultLabels?: Record<string, unknown> })._defaultLabels;
  return labels !== undefined && labels !== null ? labels : {};
}

/**
 * Writes every metric of `registry` in the Prometheus text format 0.0.4, or OpenMetrics 1.0
 * (with exemplars, `_total` counter samples and `# EOF`). Unlike the client's own
 * `registry.metrics()`, it never renames the shared metric objects, so both formats can
 * be served from one registry, and a metric that fails to collect costs only itself.
 */
export async function writeExposition(registry: Registry, openMetrics: boolean): Promise<ExpositionResult> {
  const defaults = defaultLabelsOf(registry);
  const defaultNames = Object.keys(defaults);
  const defaultText = formatLabelPairs(defaults);
  const metrics = registry.getMetricsAsArray() as unknown as (GettableMetric & Partial<DirectMetric>)[];
  const errors: ExpositionResult['errors'] = [];
  const parts = await Promise.all(
    metrics.map(async (metric) => {
      try {
        const direct = metric[kWriteExposition];
        if (direct !== undefined) return direct.call(metric, openMetrics, defaultText);
        return writeItem(await metric.get(), openMetrics, defaults, defaultNames);
      } catch (error) {
        errors.push({ metric: metric.name, error });
        return '';
      }
    }),
  );
  let body = parts.join('');
  if (openMetrics) body += '# EOF\n';
  return { body, errors };
}

function writeItem(item: MetricItem, openMetrics: boolean, defaults: Record<string, unknown>, defaultNames: string[]): string {
  const isCounter = item.type === 'counter';
  let family = item.name;
  let type = item.type;
  if (openMetrics) {
    if (isCounter && family.endsWith('_total')) family = family.slice(0, -6);
    if (type === 'untyped') type = 'unknown';
  }
  let out = familyHeader(family, item.help, type, openMetrics);
  for (const v of item.values ?? []) {
    let name = v.metricName ?? item.name;
    if (openMetrics && isCounter && name === item.name) name = `${family}_total`;
    let labels = v.labels ?? {};
    if (defaultNames.length > 0) {
      labels = { ...labels };
      for (const n of defaultNames) if (labels[n] === undefined) labels[n] = defaults[n];
    }
    const pairs = formatLabelPairs(labels);
    out += pairs === '' ? name : `${name}{${pairs}}`;
    out += ` ${formatValue(v.value)}`;
    const ex = v.exemplar;
    if (openMetrics && ex && ex.labelSet && typeof ex.value === 'number') {
      out += ` # {${formatLabelPairs(ex.labelSet)}} ${formatValue(ex.value)}`;
      if (typeof ex.timestamp === 'number') out += ` ${ex.timestamp}`;
    }
    out += '\n';
  }
  return out;
}

/** True when an `Accept` header asks for OpenMetrics. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('application/openmetrics-text');
}
