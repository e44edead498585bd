import type { Registry } from '@prometheus-io/client';
import { kWriteExposition } from '../symbols.js';
import { familyHeader, formatLabelPairs, formatValue } from './format.js';
import { ExpositionWriter } from './writer.js';
import type { BodyPart } from './body.js';
import type { ChunkPool } from './writer.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** A metric periscope writes itself, skipping the client's object-per-sample `get()`. */
export interface DirectMetric {
  /** Writes the whole family, `# HELP` and `# TYPE` first; `defaultLabels` is `name="value",...` or ''. */
  [kWriteExposition](out: ExpositionWriter, openMetrics: boolean, defaultLabels: string): void;
}

/** One sample as the Prometheus clients' `get()` returns it. */
export interface MetricValue {
  value: number;
  labels?: Record<string, unknown>;
  metricName?: string;
  exemplar?: { labelSet?: Record<string, unknown>; value?: number | null; timestamp?: number } | null;
}

/** One family as the Prometheus clients' `get()` returns it. */
export interface MetricItem {
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
  /** `chunks` as parts, one each in the same order, when the writer kept any between scrapes (for gzip). */
  parts?: readonly BodyPart[];
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
  return { chunks: out.finish(), byteLength, errors, parts: out.parts };
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

/** The samples of one label set of a histogram or summary: its buckets or quantiles, sum and count. */
export interface SampleGroup {
  /** The label set, without `part`'s label (`le` or `quantile`). */
  labels: Record<string, unknown>;
  parts: MetricValue[];
  sum: number;
  count: number;
}

/**
 * Regroups a histogram's or summary's samples by label set. Both Prometheus clients write each
 * label set's samples together (buckets or quantiles in order, then `_sum` and `_count`), so no
 * key is built per sample (240,000 samples at 10,000 label sets): a bucket or quantile that follows
 * a `_sum` or `_count` starts the next label set, and so does a `_sum` that follows a `_count` (a
 * summary with no quantiles).
 */
export function groupSamples(name: string, values: readonly MetricValue[], part: 'le' | 'quantile'): SampleGroup[] {
  const out: SampleGroup[] = [];
  let g: SampleGroup | undefined;
  let last: 'none' | 'part' | 'sum' | 'count' = 'none';
  for (const v of values) {
    const sample = v.metricName ?? name;
    const kind = sample === `${name}_sum` ? 'sum' : sample === `${name}_count` ? 'count' : 'part';
    const starts = kind === 'count' ? last !== 'part' && last !== 'sum' : last !== 'part';
    if (starts || g === undefined) {
      const labels = { ...v.labels };
      delete labels[part];
      g = { labels, parts: [], sum: 0, count: 0 };
      out.push(g);
    }
    if (kind === 'part') g.parts.push(v);
    else if (kind === 'sum') g.sum = v.value;
    else g.count = v.value;
    last = kind;
  }
  return out;
}

/** The exposition formats `/metrics` serves. */
export type ExpositionFormat = 'protobuf' | 'openmetrics' | 'text';

/** Which format wins a tie of equal q-values: the one that carries the most. */
const RANK: Readonly<Record<ExpositionFormat, number>> = { protobuf: 3, openmetrics: 2, text: 1 };
/** A client header is hostile until proven otherwise: only this many media ranges are read. */
const MAX_RANGES = 32;

/** One `Accept` or `Accept-Encoding` entry: its lower-cased value, parameters, and q (1 if absent or malformed). */
function* ranges(header: string): Generator<{ value: string; params: Record<string, string>; q: number }> {
  let n = 0;
  for (const part of header.split(',')) {
    if (++n > MAX_RANGES) return;
    const pieces = part.split(';');
    const params: Record<string, string> = {};
    for (let i = 1; i < pieces.length; i++) {
      const p = pieces[i]!;
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    }
    const q = params.q === undefined ? 1 : Number(params.q);
    yield { value: pieces[0]!.trim().toLowerCase(), params, q: Number.isFinite(q) && q >= 0 && q <= 1 ? q : 1 };
  }
}

function formatOf(type: string, params: Record<string, string>): ExpositionFormat | undefined {
  switch (type) {
    case 'application/vnd.google.protobuf':
      // Only the delimited MetricFamily stream is a Prometheus exposition.
      return params.proto === 'io.prometheus.client.MetricFamily' && params.encoding === 'delimited' ? 'protobuf' : undefined;
    case 'application/openmetrics-text':
      return 'openmetrics';
    case 'text/plain':
    case 'text/*':
    case '*/*':
      return 'text';
    default:
      return undefined;
  }
}

/**
 * The format an `Accept` header asks for, by q-value: Prometheus' protobuf exposition (the only one
 * with native histograms), OpenMetrics 1.0, or the 0.0.4 text format. Equal q-values go to the
 * richer format; no header, or nothing acceptable in it, gets the text format.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || accept === '') return 'text';
  let best: ExpositionFormat = 'text';
  let bestQ = 0;
  for (const { value, params, q } of ranges(accept)) {
    const format = formatOf(value, params);
    if (format === undefined || q === 0) continue;
    if (q > bestQ || (q === bestQ && RANK[format] > RANK[best])) {
      best = format;
      bestQ = q;
    }
  }
  return best;
}

/** True when `Accept-Encoding` takes gzip (named or `*`, with a q-value above 0). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (acceptEncoding === undefined || acceptEncoding === '') return false;
  let star = false;
  for (const { value, q } of ranges(acceptEncoding)) {
    if (value === 'gzip' || value === 'x-gzip') return q > 0;
    if (value === '*') star = q > 0;
  }
  return star;
}
