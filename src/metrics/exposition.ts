import type { Registry } from '@prometheus-io/client';
import { kWriteExposition } from '../symbols.js';
import { familyHeader, formatLabelPairs, formatValue } from './format.js';
import { ExpositionWriter } from './writer.js';
import type { ChunkPool } from './writer.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** A metric periscope writes itself, skipping the client's object-per-sample `get()`. */
export interface DirectMetric {
  /** Writes the whole family, `# HELP` and `# TYPE` first; `defaultLabels` is `name="value",...` or ''. */
  [kWriteExposition](out: ExpositionWriter, openMetrics: boolean, defaultLabels: string): void;
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

export interface ExpositionBytes {
  /** The body as UTF-8, in order; send them one after the other. */
  chunks: Buffer[];
  /** Bytes in `chunks`, for `content-length`. */
  byteLength: number;
  /** Metrics whose collection failed; they are left out of the body. */
  errors: { metric: string; error: unknown }[];
}

export function defaultLabelsOf(registry: Registry): Record<string, unknown> {
  // Both Prometheus clients keep setDefaultLabels() values here; it has no public getter.
  const labels = (registry as unknown as { _defaultLabels?: Record<string, unknown> })._defaultLabels;
  return labels !== undefined && labels !== null ? labels : {};
}

/**
 * Writes every metric of `registry` in the Prometheus text format 0.0.4, or OpenMetrics 1.0
 * (with exemplars, `_total` counter samples and `# EOF`), as UTF-8 Buffers ready to send.
 * Unlike the client's own `registry.metrics()`, it never renames the shared metric objects, so
 * both formats can be served from one registry, and a metric that fails to collect costs only itself.
 * With a `pool`, the chunks are taken from it; give them back with `pool.recycle()` once sent.
 */
export async function writeExpositionBytes(registry: Registry, openMetrics: boolean, pool?: ChunkPool): Promise<ExpositionBytes> {
  const defaults = defaultLabelsOf(registry);
  const defaultNames = Object.keys(defaults);
  const defaultText = formatLabelPairs(defaults);
  const metrics = registry.getMetricsAsArray() as unknown as (GettableMetric & Partial<DirectMetric>)[];
  const errors: ExpositionBytes['errors'] = [];
  // Every client metric is collected first, concurrently; then all families are written in
  // registry order into the one writer, periscope's own in one synchronous pass (so a counter
  // and its histogram's count are read together and agree).
  const items = await Promise.all(
    metrics.map(async (metric) => {
      if (metric[kWriteExposition] !== undefined) return undefined;
      try {
        return await metric.get();
      } catch (error) {
        errors.push({ metric: metric.name, error });
        return null;
      }
    }),
  );
  const out = new ExpositionWriter(pool);
  for (let i = 0; i < metrics.length; i++) {
    const metric = metrics[i]!;
    const item = items[i];
    if (item === null) continue;
    const mark = out.byteLength;
    try {
      if (item === undefined) metric[kWriteExposition]!(out, openMetrics, defaultText);
      else writeItem(out, item, openMetrics, defaults, defaultNames);
    } catch (error) {
      out.truncate(mark);
      errors.push({ metric: metric.name, error });
    }
  }
  if (openMetrics) out.write('# EOF\n');
  const byteLength = out.byteLength;
  return { chunks: out.finish(), byteLength, errors };
}

/** {@link writeExpositionBytes} with the body as one string. */
export async function writeExposition(registry: Registry, openMetrics: boolean): Promise<ExpositionResult> {
  const { chunks, byteLength, errors } = await writeExpositionBytes(registry, openMetrics);
  return { body: Buffer.concat(chunks, byteLength).toString('utf8'), errors };
}

function writeItem(out: ExpositionWriter, item: MetricItem, openMetrics: boolean, defaults: Record<string, unknown>, defaultNames: string[]): void {
  const isCounter = item.type === 'counter';
  let family = item.name;
  let type = item.type;
  if (openMetrics) {
    if (isCounter && family.endsWith('_total')) family = family.slice(0, -6);
    if (type === 'untyped') type = 'unknown';
  }
  out.write(familyHeader(family, item.help, type, openMetrics));
  for (const v of item.values ?? []) {
    let name = v.metricName ?? item.name;
    if (openMetrics && isCounter && name === item.name) name = `${family}_total`;
    let labels = v.labels ?? {};
    if (defaultNames.length > 0) {
      labels = { ...labels };
      for (const n of defaultNames) if (labels[n] === undefined) labels[n] = defaults[n];
    }
    const pairs = formatLabelPairs(labels);
    let line = pairs === '' ? name : `${name}{${pairs}}`;
    line += ` ${formatValue(v.value)}`;
    const ex = v.exemplar;
    if (openMetrics && ex && ex.labelSet && typeof ex.value === 'number') {
      line += ` # {${formatLabelPairs(ex.labelSet)}} ${formatValue(ex.value)}`;
      if (typeof ex.timestamp === 'number') line += ` ${ex.timestamp}`;
    }
    out.write(`${line}\n`);
  }
}

/** True when an `Accept` header asks for OpenMetrics. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('application/openmetrics-text');
}
