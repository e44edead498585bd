import { parseExposition } from '../helpers.js';
import type { Family } from '../helpers.js';

/** Fetches and parses a Prometheus text exposition (see test/support-parser.ts). */
export async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`scrape of ${url} answered ${res.status}`);
  return new Map(Object.entries(await parseExposition(await res.text())));
}

/** The value (or, for a histogram, the count) of the sample of `family` whose labels include `labels`; undefined if none. */
export function sample(families: Map<string, Family>, family: string, labels: Record<string, string>): number | undefined {
  const f = families.get(family);
  const m = f?.data.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  if (m === undefined) return undefined;
  return m.value ?? m.count;
}

interface RegistryLike {
  getSingleMetric(name: string): { get(): Promise<{ values: { value: number; labels: Partial<Record<string, string | number>>; metricName?: string }[] }> } | undefined;
}

/** A labelled histogram's series read from the registry's own `get()`. */
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
