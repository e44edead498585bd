import { createRequire } from 'node:module';

/** One metric family as parse-prometheus-text-format returns it (values are strings). */
export interface Family {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

// The package ships no types; loading it through require keeps the type in this one file.
const load = createRequire(import.meta.url);
const parse = load('parse-prometheus-text-format') as (text: string) => Family[];

/** Fetches and parses a Prometheus text exposition. */
export async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`scrape of ${url} answered ${res.status}`);
  return new Map(parse(await res.text()).map((f) => [f.name, f]));
}

/** The value of the sample of `family` whose labels include `labels`, as a number; undefined if none. */
export function sample(families: Map<string, Family>, family: string, labels: Record<string, string>): number | undefined {
  const f = families.get(family);
  const m = f?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  if (m === undefined) return undefined;
  return Number(m.value ?? m.count);
}

interface RegistryLike {
  getSingleMetric(name: string): { get(): Promise<{ values: { value: number; labels: Partial<Record<string, string | number>>; metricName?: string }[] }> } | undefined;
}

/**
 * A labelled histogram's series read from the registry. parse-prometheus-text-format
 * 1.1.1 flattens every histogram into one unlabelled sample (it drops `_sum`/`_count`
 * lines that carry labels and merges the buckets of all label sets), so histograms with
 * labels cannot be checked through it.
 */
export async function histogram(registry: RegistryLike, name: string, labels: Record<string, string>) {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const mine = (await metric.get()).values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  const buckets: Record<string, number> = {};
  let count: number | undefined;
  let sum: number | undefined;
  for (const v of mine) {
    if (v.metricName === `${name}_bucket`) buckets[String(v.labels.le)] = v.value;
    else if (v.metricName === `${name}_count`) count = v.value;
    else if (v.metricName === `${name}_sum`) sum = v.value;
  }
  return { count, sum, buckets };
}
